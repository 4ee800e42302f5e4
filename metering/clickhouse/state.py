"""Pre-aggregated usage inside ClickHouse: what aggregation reads instead of scanning events.

Every insert into the events table (`store.TABLE`) also passes through materialized views:

- `bxb_event_states` (AggregatingMergeTree): per organization, subscription, code, quarter hour
  (`BUCKET_SECONDS`) and dimensions key, the states of count, Σ value, max value, Σ precise amount,
  Σ value × microseconds into the quarter hour (weighted sums), first and last timestamp, and the
  latest valued event (`argMax` by timestamp, arrival, transaction id). A month of one
  subscription's metric is at most 2,976 small rows per dimension value, whatever its events.
- `bxb_unique_states` (two views: quarter hours and UTC days): per organization, subscription,
  code, unique-count field, bucket, dimensions key and value, the value's last event there
  (`LAST`), from the events ingestion tagged with their unique-count metric's field (`ufield`).
  A unique count reads whole days, then whole quarter hours, then events (`unique_count`).
- `bxb_event_batches`: per insert, the (subscription, code, quarter hour) it touched and the
  PostgreSQL transaction that wrote it (`xid`, from ingestion's key claim).
- `bxb_event_copied`: the quarter hours that received rows without a transaction (xid 0: the
  copy of a PostgreSQL-stored organization, its backfill, a migration, rows written before these
  tables existed).

Why it stays exact (docs/metering.md, "ClickHouse as the store of record"): ingestion writes a
key to ClickHouse only after claiming it in PostgreSQL, so two committed transactions never both
write it. The only rows the states may count wrongly are those of a transaction that did not
commit (ClickHouse accepted the insert, then the commit failed, the process died or the insert
timed out and was retried), and rows that may repeat (xid 0). Reads therefore ask PostgreSQL
(`txid_status`) about the transactions of the inserts not yet settled, and read every quarter hour
that such a transaction touched, or that holds copied rows, from the events themselves
(de-duplicated, the transactions that did not commit left out). `clickhouse_settle` (beat, every
minute) settles inserts older than a minute: it records the transactions that did not commit in
`bxb_event_orphans` and moves the watermark (`bxb_event_settled`), so a read asks PostgreSQL about
the last minute's inserts at most. A quarter hour cut by the window's start or end is read from
its state when all its events are inside the window (first and last timestamp), else from events.

ClickHouse 18.16 (Debian's, CI's) has no SimpleAggregateFunction, no TTL and no insert
de-duplication outside replicated tables: hence plain states and the settle job.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import DatabaseError, connection, transaction

from metering import computations
from metering.computations import ZERO
from metering.store.base import Additive

logger = logging.getLogger(__name__)

BUCKET_SECONDS = 900
BUCKET_US = BUCKET_SECONDS * 1_000_000
STATES = "bxb_event_states"
BATCHES = "bxb_event_batches"
COPIED = "bxb_event_copied"
ORPHANS = "bxb_event_orphans"
SETTLED = "bxb_event_settled"
UNIQUE = "bxb_unique_states"
DAY_SECONDS = 86400
# |value| at or above this makes Σ value × microseconds overflow Decimal128(12): such a quarter
# hour keeps its weighted-sum moment out of the state (`big`) and is read from events.
BIG_VALUE = "100000000000000000"
# A read waits this long (in steps) for an ingestion transaction still in progress to end.
IN_PROGRESS_WAIT = (0.005, 0.01, 0.02, 0.05)


def _bucket(column: str = "ts_us") -> str:
    return f"intDiv({column}, {BUCKET_US}) * {BUCKET_SECONDS}"


def schema(events: str) -> list[tuple[str, str]]:
    """(name, CREATE statement) of the tables and views, in creation order."""
    bucket = _bucket()
    key = "organization_id String, external_subscription_id String, code String, bucket Int64"
    decimal = "Decimal128(12)"
    safe = f"if(abs(ifNull(value, toDecimal128(0, 12))) < toDecimal128('{BIG_VALUE}', 0), value, NULL)"
    return [
        (
            STATES,
            f"CREATE TABLE IF NOT EXISTS {STATES} ({key}, dims_key String, "
            "events AggregateFunction(count), "
            "valued AggregateFunction(sum, UInt64), "
            f"value_sum AggregateFunction(sum, {decimal}), "
            f"value_max AggregateFunction(max, {decimal}), "
            f"precise_sum AggregateFunction(sum, {decimal}), "
            f"offset_sum AggregateFunction(sum, {decimal}), "
            "big AggregateFunction(max, UInt8), "
            "ts_min AggregateFunction(min, Int64), "
            "ts_max AggregateFunction(max, Int64), "
            f"latest AggregateFunction(argMax, Tuple(Int64, Int64, String, Nullable({decimal})), "
            "Tuple(UInt8, Int64, Int64, String))"
            ") ENGINE = AggregatingMergeTree() PARTITION BY intDiv(bucket, 2592000) "
            "ORDER BY (organization_id, external_subscription_id, code, bucket, dims_key) SETTINGS index_granularity = 256",
        ),
        (
            f"{STATES}_mv",
            f"CREATE MATERIALIZED VIEW IF NOT EXISTS {STATES}_mv TO {STATES} AS SELECT organization_id, "  # noqa: S608 - constant tables
            f"external_subscription_id, code, {bucket} AS bucket, dims_key, countState() AS events, "
            "sumState(toUInt64(isNotNull(value))) AS valued, sumState(value) AS value_sum, "
            "maxState(value) AS value_max, sumState(precise) AS precise_sum, "
            f"sumState({safe} * (ts_us - {bucket} * 1000000)) AS offset_sum, "
            f"maxState(toUInt8(isNotNull(value) AND isNull({safe}))) AS big, "
            "minState(ts_us) AS ts_min, maxState(ts_us) AS ts_max, "
            "argMaxState(tuple(ts_us, created_us, transaction_id, value), "
            "tuple(toUInt8(isNotNull(value)), ts_us, created_us, transaction_id)) AS latest "
            f"FROM {events} GROUP BY organization_id, external_subscription_id, code, bucket, dims_key",
        ),
        (
            UNIQUE,
            f"CREATE TABLE IF NOT EXISTS {UNIQUE} (organization_id String, external_subscription_id String, "
            "code String, ufield String, span UInt32, bucket Int64, dims_key String, uvalue String, "
            "last AggregateFunction(max, String)"
            ") ENGINE = AggregatingMergeTree() PARTITION BY intDiv(bucket, 2592000) "
            "ORDER BY (organization_id, external_subscription_id, code, ufield, span, bucket, dims_key, uvalue)",
        ),
        (f"{UNIQUE}_mv", _unique_view(f"{UNIQUE}_mv", events, BUCKET_SECONDS)),
        (f"{UNIQUE}_day_mv", _unique_view(f"{UNIQUE}_day_mv", events, DAY_SECONDS)),
        (
            BATCHES,
            f"CREATE TABLE IF NOT EXISTS {BATCHES} ({key}, xid Int64, inserted_at DateTime) "
            "ENGINE = MergeTree() PARTITION BY toYYYYMMDD(inserted_at) "
            "ORDER BY (organization_id, external_subscription_id, code, inserted_at)",
        ),
        (
            f"{BATCHES}_mv",
            f"CREATE MATERIALIZED VIEW IF NOT EXISTS {BATCHES}_mv TO {BATCHES} AS SELECT organization_id, "  # noqa: S608 - constant tables
            f"external_subscription_id, code, {bucket} AS bucket, xid, now() AS inserted_at FROM {events} "
            "WHERE xid != 0 GROUP BY organization_id, external_subscription_id, code, bucket, xid",
        ),
        (
            COPIED,
            f"CREATE TABLE IF NOT EXISTS {COPIED} ({key}) ENGINE = ReplacingMergeTree() "
            "ORDER BY (organization_id, external_subscription_id, code, bucket)",
        ),
        (
            f"{COPIED}_mv",
            f"CREATE MATERIALIZED VIEW IF NOT EXISTS {COPIED}_mv TO {COPIED} AS SELECT organization_id, "  # noqa: S608 - constant tables
            f"external_subscription_id, code, {bucket} AS bucket FROM {events} WHERE xid = 0 "
            "GROUP BY organization_id, external_subscription_id, code, bucket",
        ),
        (
            ORPHANS,
            f"CREATE TABLE IF NOT EXISTS {ORPHANS} ({key}, xid Int64) ENGINE = ReplacingMergeTree() "
            "ORDER BY (organization_id, external_subscription_id, code, bucket, xid)",
        ),
        (
            SETTLED,
            f"CREATE TABLE IF NOT EXISTS {SETTLED} (upto DateTime, at DateTime DEFAULT now()) "
            "ENGINE = MergeTree() ORDER BY upto",
        ),
    ]


# An event's place in its value's history, and whether it removes the value, as one string whose
# maximum is the value's last event: the timestamp and the arrival as 8 big-endian bytes each (the
# sign bit flipped, so that bytes order as numbers), the transaction id, a NUL (PostgreSQL's key
# table holds no NUL, so an id that is a prefix of another sorts first, as in the tuple order) and
# '1' for a `remove`. A plain string keeps `max` in ClickHouse's fast path for strings (a tuple
# went through its generic one, 3 times slower per row).
LAST = (
    "concat(reverse(reinterpretAsString(bitXor(toUInt64(ts_us), 9223372036854775808))), "
    "reverse(reinterpretAsString(bitXor(toUInt64(created_us), 9223372036854775808))), transaction_id, '\\0', "
    "if(prop_values[indexOf(prop_keys, 'operation_type')] = 'remove', '1', '0'))"
)
# A unique count naming more quarter hours than this to read from events reads the whole window
# from events (copies, mostly: the query stays far below ClickHouse's 256 KiB limit).
MAX_LISTED = 2000
# Whether a value's last event (`LAST`) keeps it counted.
COUNTED = "substring(k, length(k), 1) = '0'"


def _unique_view(name: str, events: str, span: int) -> str:
    """The view folding events of a unique-count metric (`ufield`: the metric's field, written by
    ingestion) into the last event of each value per quarter hour or day (`span` seconds)."""
    return (
        f"CREATE MATERIALIZED VIEW IF NOT EXISTS {name} TO {UNIQUE} AS SELECT organization_id, "  # noqa: S608 - constant tables
        f"external_subscription_id, code, ufield, toUInt32({span}) AS span, intDiv(ts_us, {span * 1_000_000}) * {span} "
        "AS bucket, dims_key, prop_values[indexOf(prop_keys, ufield)] AS uvalue, "
        f"maxState({LAST}) AS last FROM {events} WHERE ufield != '' AND has(prop_keys, ufield) "
        "GROUP BY organization_id, external_subscription_id, code, ufield, span, bucket, dims_key, uvalue"
    )


def ensure(client: Any, events: str) -> None:
    """Create what is missing. Events already in the table when the views are first created are
    marked copied (read from events, as before): a row is seen by a view, by that marking, or both."""
    existing = {name for (name,) in client.execute("SELECT name FROM system.tables WHERE database = currentDatabase()")}
    created_views = False
    for name, statement in schema(events):
        if name not in existing:
            client.execute(statement)
            created_views = created_views or name.endswith("_mv")
    if created_views:
        client.execute(
            f"INSERT INTO {COPIED} SELECT organization_id, external_subscription_id, code, {_bucket()} AS bucket "  # noqa: S608 - constant tables
            f"FROM {events} GROUP BY organization_id, external_subscription_id, code, bucket"
        )


# --- which quarter hours a read can take from the states ------------------------------------------


@dataclass
class Exclusions:
    """What a read of one (organization, subscription, code) must not take from the states:
    `xids` (transactions that did not commit: their rows are left out everywhere) and `buckets`
    (quarter hours read from events)."""

    xids: set[int] = field(default_factory=set)
    buckets: set[int] = field(default_factory=set)


def bucket_of(micros: int) -> int:
    """The quarter hour (Unix seconds) holding a moment in microseconds."""
    return (micros // BUCKET_US) * BUCKET_SECONDS


def exclusions(read: Any, params: dict[str, Any], first: int, last: int) -> Exclusions:
    """Quarter hours in [first, last] (bucket starts) holding copied rows, or rows of a transaction
    that did not commit (recorded by the settle job, or asked of PostgreSQL when not yet settled)."""
    where = (
        "organization_id = %(org)s AND external_subscription_id = %(sub)s AND code = %(code)s "
        "AND bucket >= %(first)s AND bucket <= %(last)s"
    )
    rows = read(
        f"SELECT 0, bucket, 0 FROM {COPIED} WHERE {where} "  # noqa: S608 - constant tables, parameters bound by the driver
        f"UNION ALL SELECT 1, bucket, xid FROM {ORPHANS} WHERE {where} "
        f"UNION ALL SELECT 2, bucket, xid FROM {BATCHES} WHERE {where} "
        f"AND inserted_at >= (SELECT max(upto) FROM {SETTLED})",
        {**params, "first": first, "last": last},
    )
    result = Exclusions()
    recent: dict[int, set[int]] = {}
    for kind, bucket, xid in rows:
        if kind == 0:
            result.buckets.add(int(bucket))
        elif kind == 1:
            result.buckets.add(int(bucket))
            result.xids.add(int(xid))
        else:
            recent.setdefault(int(xid), set()).add(int(bucket))
    for xid in uncommitted(recent):
        result.xids.add(xid)
        result.buckets.update(recent[xid])
    return result


def uncommitted(xids: Iterable[int], *, wait: Sequence[float] = IN_PROGRESS_WAIT) -> set[int]:
    """The transactions among `xids` that did not commit (aborted, or still in progress after a
    short wait), as this connection sees them: its own transaction counts as committed."""
    pending = set(xids)
    for pause in (*wait, None):
        if not pending:
            return set()
        statuses = xact_statuses(pending)
        pending = {x for x, status in statuses.items() if status != "committed"}
        if not any(statuses[x] == "in progress" for x in pending) or pause is None:
            return pending
        time.sleep(pause)
    return pending


def xact_statuses(xids: Iterable[int]) -> dict[int, str]:
    """PostgreSQL's status of transactions ("committed", "aborted", "in progress"). This
    connection's own transaction is "committed" (its writes are visible to it); a transaction
    PostgreSQL no longer knows (older than its commit log, or of another cluster) too."""
    wanted = sorted(set(xids))
    if not wanted:
        return {}
    try:
        # A savepoint: an id PostgreSQL has never assigned (another cluster's) is an error.
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT x, CASE WHEN x = txid_current_if_assigned() THEN 'committed' ELSE txid_status(x) END "
                "FROM unnest(%s::bigint[]) AS x",
                [wanted],
            )
            return {int(x): status or "committed" for x, status in cursor.fetchall()}
    except DatabaseError:
        logger.warning("PostgreSQL does not know ClickHouse's transaction ids %s..%s", wanted[0], wanted[-1])
        return dict.fromkeys(wanted, "committed")


# --- the read ----------------------------------------------------------------------------------


@dataclass
class Collected:
    """Per dimensions key: count / sums / max / moment (`Additive`); and the latest valued event
    as (ts_us, created_us, transaction_id, value), or None."""

    by_dims: dict[str, Additive] = field(default_factory=dict)
    latest: tuple[int, int, str, Decimal] | None = None

    def add(self, dims_key: str, acc: Additive) -> None:
        target = self.by_dims.setdefault(dims_key, Additive())
        target.add(acc.count, acc.total, acc.maximum, acc.precise, acc.moment)

    def offer(self, candidate: tuple[int, int, str, Decimal] | None) -> None:
        if candidate is not None and (self.latest is None or candidate[:3] > self.latest[:3]):
            self.latest = candidate


def collect(read: Any, params: dict[str, Any], start_us: int, end_us: int, *, moments: bool = True) -> Collected:
    """Everything aggregation needs over [start_us, end_us): from the states, except the quarter
    hours `exclusions` names and those cut by the window with events outside it (from events).
    `moments=False` (count, sums, max, latest): ClickHouse merges the quarter hours strictly inside
    the window into one row per dimensions key (the moment of the weighted sum needs each quarter
    hour's start, so it is left at zero)."""
    result = Collected()
    if start_us >= end_us:
        return result
    first, last = bucket_of(start_us), bucket_of(end_us - 1)
    excluded = exclusions(read, params, first, last)
    interior = "bucket" if moments else "if(bucket = %(first)s OR bucket = %(last)s, bucket, -1)"
    rows = read(
        f"SELECT {interior} AS b, dims_key, countMerge(events), sumMerge(valued), sumMerge(value_sum), "  # noqa: S608 - constant table, parameters bound by the driver
        "maxMerge(value_max), sumMerge(precise_sum), sumMerge(offset_sum), maxMerge(big), minMerge(ts_min), "
        f"maxMerge(ts_max), argMaxMerge(latest) FROM {STATES} WHERE organization_id = %(org)s "
        "AND external_subscription_id = %(sub)s AND code = %(code)s AND bucket >= %(first)s AND bucket <= %(last)s "
        "AND bucket NOT IN %(skip)s GROUP BY b, dims_key",
        {**params, "first": first, "last": last, "skip": tuple(sorted(excluded.buckets)) or (-1,)},
    )
    by_bucket: dict[int, list[Any]] = {}
    for row in rows:
        by_bucket.setdefault(int(row[0]), []).append(row)
    from_events = set(excluded.buckets)
    for bucket, bucket_rows in by_bucket.items():
        if bucket == -1:
            continue  # merged quarter hours, all inside the window
        inside = all(start_us <= r[9] and r[10] < end_us for r in bucket_rows)
        if not inside or (moments and any(r[8] for r in bucket_rows)):
            from_events.add(bucket)  # cut by the window, or a moment too large for the state
    for bucket, bucket_rows in by_bucket.items():
        if bucket in from_events:
            continue
        for _, dims_key, count, valued, total, maximum, precise, offsets, _big, _lo, _hi, latest in bucket_rows:
            total = Decimal(total)
            moment = computations.ZERO
            if moments:
                moment = computations.EXACT.add(
                    computations.EXACT.multiply(total, Decimal(bucket)), Decimal(offsets).scaleb(-6, computations.EXACT)
                )
            result.add(dims_key, Additive(int(count), total, maximum if valued else None, Decimal(precise), moment))
            if valued:
                ts_us, created_us, txn, value = latest
                result.offer((int(ts_us), int(created_us), txn, Decimal(value)))
    ranges = _ranges(sorted(b for b in from_events if first <= b <= last), start_us, end_us)
    if ranges:
        _from_events(read, params, ranges, excluded.xids, result)
    return result


def _ranges(buckets: Sequence[int], start_us: int, end_us: int) -> list[tuple[int, int]]:
    """Consecutive quarter hours merged into [from, to) microsecond ranges, cut to the window."""
    ranges: list[tuple[int, int]] = []
    for bucket in buckets:
        lo, hi = max(bucket * 1_000_000, start_us), min((bucket + BUCKET_SECONDS) * 1_000_000, end_us)
        if ranges and ranges[-1][1] == lo:
            ranges[-1] = (ranges[-1][0], hi)
        else:
            ranges.append((lo, hi))
    return ranges


def _from_events(
    read: Any, params: dict[str, Any], ranges: Sequence[tuple[int, int]], xids: set[int], result: Collected
) -> None:
    """Events in `ranges`, one per transaction id (the latest write, as FINAL would keep), rows of
    the `xids` left out; sums, moments and latest computed exactly here."""
    from metering.clickhouse.store import TABLE

    clauses = " OR ".join(f"(ts_us >= {int(lo)} AND ts_us < {int(hi)})" for lo, hi in ranges)
    skip = f"AND xid NOT IN ({', '.join(str(int(x)) for x in sorted(xids))})" if xids else ""
    rows = read(
        "SELECT transaction_id, argMax(tuple(ts_us, created_us, value, precise, dims_key), version) "  # noqa: S608 - constant table, integers inlined, parameters bound by the driver
        f"FROM {TABLE} WHERE organization_id = %(org)s AND external_subscription_id = %(sub)s AND code = %(code)s "
        f"AND ({clauses}) {skip} GROUP BY transaction_id",
        params,
    )
    for txn, (ts_us, created_us, value, precise, dims_key) in rows:
        moment = None
        if value is not None:
            moment = computations.EXACT.multiply(Decimal(value), Decimal(int(ts_us)).scaleb(-6))
            result.offer((int(ts_us), int(created_us), txn, Decimal(value)))
        result.add(
            dims_key,
            Additive(1, value if value is not None else ZERO, value, precise or ZERO, moment or ZERO),
        )


def unique_count(
    read: Any,
    params: dict[str, Any],
    field_name: str,
    start_us: int,
    end_us: int,
    *,
    labels: Mapping[str, Sequence[str]] | None = None,
) -> Any:
    """The number of values of `field_name` whose last event in [start_us, end_us) is not a
    `remove`; with `labels` (dimensions key -> the labels of the buckets its events count in),
    that number per label instead: {label: count}, or None when the window holds a dimensions
    key `labels` does not know.

    Each value's last event is the maximum of `LAST` over three parts, merged by ClickHouse in one
    query: the day states of the whole days of the window with no quarter hour `exclusions` names,
    the quarter-hour states of its other whole quarter hours not named, and the events of the
    named quarter hours and of those cut by the window (one row per transaction id, the latest
    write, the transactions that did not commit left out). Events whose value is empty are not
    counted (ingestion keeps no state for them, nor does PostgreSQL's)."""
    if start_us >= end_us or not field_name or labels == {}:
        return {} if labels is not None else 0
    first, last = bucket_of(start_us), bucket_of(end_us - 1)
    excluded = exclusions(read, params, first, last)
    # Read from events: the quarter hours named, and those the window cuts.
    named = {b for b in excluded.buckets if first <= b <= last}
    if start_us != first * 1_000_000:
        named.add(first)
    if end_us != (last + BUCKET_SECONDS) * 1_000_000:
        named.add(last)
    from_events = sorted(named)
    # Days read from their quarter hours: those holding one read from events, and the days the
    # window starts or ends inside of; every other day of the window from its day row.
    first_day, last_day = first - first % DAY_SECONDS, last - last % DAY_SECONDS
    partial = {b - b % DAY_SECONDS for b in from_events}
    if first != first_day:
        partial.add(first_day)
    if last != last_day + DAY_SECONDS - BUCKET_SECONDS:
        partial.add(last_day)
    whole_days = (last_day - first_day) // DAY_SECONDS + 1 > len(partial)
    key = "organization_id = %(org)s AND external_subscription_id = %(sub)s AND code = %(code)s"
    dims = ", dims_key" if labels is not None else ""
    state_rows = f"SELECT uvalue{dims}, maxMerge(last) AS k FROM {UNIQUE} WHERE {key} AND ufield = %(field)s "  # noqa: S608 - constant table, parameters bound by the driver
    events_clause = (
        f"ts_us >= %(start)s AND ts_us < %(end)s AND intDiv(ts_us, {BUCKET_US}) * {BUCKET_SECONDS} IN %(events)s"
    )
    if len(from_events) > MAX_LISTED:
        # Mostly copied or unsettled (a long recurring window over copies): all from events, and
        # a query of bounded size.
        events_clause = "ts_us >= %(start)s AND ts_us < %(end)s"
        whole_days, partial = False, set()
    args: dict[str, Any] = {
        **params,
        "field": field_name,
        "first": first,
        "last": last,
        "first_day": first_day,
        "last_day": last_day,
        "start": start_us,
        "end": end_us,
        "events": tuple(from_events) or (-1,),
        "partial": tuple(sorted(partial)) or (-1,),
    }
    parts = []
    if whole_days:
        parts.append(
            f"{state_rows}AND span = {DAY_SECONDS} AND bucket >= %(first_day)s AND bucket <= %(last_day)s "
            f"AND bucket NOT IN %(partial)s GROUP BY uvalue{dims}"
        )
    if partial:
        # The partial days as ranges of buckets (consecutive days merged), so that the primary key
        # reads their rows only.
        spans: list[list[int]] = []
        for day in sorted(partial):
            if spans and spans[-1][1] == day:
                spans[-1][1] = day + DAY_SECONDS
            else:
                spans.append([day, day + DAY_SECONDS])
        days_clause = " OR ".join(f"(bucket >= {int(lo)} AND bucket < {int(hi)})" for lo, hi in spans)
        parts.append(
            f"{state_rows}AND span = {BUCKET_SECONDS} AND bucket >= %(first)s AND bucket <= %(last)s "
            f"AND ({days_clause}) AND bucket NOT IN %(events)s GROUP BY uvalue{dims}"
        )
    if from_events or not (whole_days or partial):
        from metering.clickhouse.store import TABLE

        skip = f"AND xid NOT IN ({', '.join(str(int(x)) for x in sorted(excluded.xids))})" if excluded.xids else ""
        parts.append(
            f"SELECT tupleElement(w, 1) AS uvalue{', tupleElement(w, 3) AS dims_key' if dims else ''}, "  # noqa: S608 - constant table, integers inlined, parameters bound by the driver
            "max(tupleElement(w, 2)) AS k FROM (SELECT "
            f"argMax(tuple(prop_values[indexOf(prop_keys, %(field)s)], {LAST}, dims_key), version) AS w FROM {TABLE} "
            f"WHERE {key} AND {events_clause} {skip} GROUP BY transaction_id) WHERE uvalue != '' GROUP BY uvalue{dims}"
        )
    if not parts:
        return {} if labels is not None else 0
    union = " UNION ALL ".join(parts)
    if labels is None:
        rows = read(
            f"SELECT countIf({COUNTED}) FROM (SELECT uvalue, max(k) AS k FROM "  # noqa: S608 - built above
            f"({union}) GROUP BY uvalue)",
            args,
        )
        return int(rows[0][0]) if rows else 0
    known = sorted(labels)
    levels = max(len(found) for found in labels.values())
    for level in range(levels):
        args[f"label{level}"] = [labels[dims_key][level] if level < len(labels[dims_key]) else "" for dims_key in known]
    args["known"] = known
    picks = ", ".join(f"transform(dims_key, %(known)s, %(label{level})s, '?')" for level in range(levels))
    rows = read(
        f"SELECT label, countIf({COUNTED}) FROM (SELECT label, uvalue, max(k) AS k FROM "  # noqa: S608 - built above
        f"(SELECT arrayJoin([{picks}]) AS label, uvalue, k FROM ({union})) WHERE label != '' "
        "GROUP BY label, uvalue) GROUP BY label",
        args,
    )
    counts = {label: int(count) for label, count in rows}
    return None if "?" in counts else counts


def dimensions(dims_key: str, keys: Sequence[str]) -> tuple[str | None, ...]:
    dims = json.loads(dims_key or "{}")
    return tuple(dims.get(k) for k in keys)


def by_keys(collected: Collected, keys: Sequence[str]) -> dict[tuple[str | None, ...], Additive]:
    """`collected` per values of the dimension `keys` (what `EventReader.additive` answers)."""
    result: dict[tuple[str | None, ...], Additive] = {}
    for dims_key, acc in collected.by_dims.items():
        result.setdefault(dimensions(dims_key, keys), Additive()).add(
            acc.count, acc.total, acc.maximum, acc.precise, acc.moment
        )
    return result


# --- settling ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settled:
    """What one `clickhouse_settle` did: inserts looked at, transactions that did not commit, the
    new watermark."""

    inserts: int
    orphans: int
    upto: datetime | None


def settle(client: Any, *, margin: timedelta = timedelta(seconds=60), keep_days: int = 2) -> Settled:
    """Settle the inserts older than `margin`: the transactions among them that did not commit
    go to the orphans, the watermark moves up to the oldest insert of a transaction still in
    progress (or to now - margin). Safe twice and concurrently (orphans are a set; the watermark
    only counts when it grows). Drops days of insert records older than `keep_days` before it."""
    [(now, upto)] = client.execute(f"SELECT now(), (SELECT max(upto) FROM {SETTLED})")  # noqa: S608 - constant table
    until = now - margin
    if until <= upto:
        return Settled(0, 0, None)
    rows = client.execute(
        f"SELECT organization_id, external_subscription_id, code, bucket, xid, inserted_at FROM {BATCHES} "  # noqa: S608 - constant table, parameters bound by the driver
        "WHERE inserted_at >= %(upto)s AND inserted_at < %(until)s",
        {"upto": upto, "until": until},
    )
    statuses = xact_statuses({int(r[4]) for r in rows})
    in_progress = [r[5] for r in rows if statuses.get(int(r[4])) == "in progress"]
    if in_progress:
        until = min(in_progress)
    orphans = [
        {"organization_id": r[0], "external_subscription_id": r[1], "code": r[2], "bucket": r[3], "xid": r[4]}
        for r in rows
        if statuses.get(int(r[4])) == "aborted" and r[5] < until
    ]
    if orphans:
        client.execute(
            f"INSERT INTO {ORPHANS} (organization_id, external_subscription_id, code, bucket, xid) VALUES", orphans
        )
    if until > upto:
        client.execute(f"INSERT INTO {SETTLED} (upto) VALUES", [{"upto": until}])
    horizon = int((until - timedelta(days=keep_days)).strftime("%Y%m%d"))
    for (partition,) in client.execute(
        "SELECT DISTINCT partition FROM system.parts WHERE database = currentDatabase() AND table = %(t)s AND active",
        {"t": BATCHES},
    ):
        if int(partition) < horizon:
            client.execute(f"ALTER TABLE {BATCHES} DROP PARTITION {int(partition)}")
    return Settled(len(rows), len(orphans), until)
