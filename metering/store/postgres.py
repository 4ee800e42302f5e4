"""The PostgreSQL event store: every write is one statement (events and their hourly rollups).

A batch travels as one JSON document read by `jsonb_to_recordset`, inserted with
`ON CONFLICT DO NOTHING RETURNING id` in a data-modifying CTE that also upserts the hourly rollups
of exactly the inserted rows, so duplicates from the same batch, an earlier request or a
concurrent one never count twice. One event takes a statement of its own with plain parameters
(`_one_event_sql`): for one event the recordset machinery is most of PostgreSQL's CPU (measured on
the same table: ~0.63 ms of backend CPU per event through the recordset statement, ~0.33 ms
through the one-row statement). Both statements write the same rows (tests/metering/
test_single_event_statement.py), take the organization's shared advisory lock (rollup rebuilds
take it exclusively) and use time-ordered UUIDv7 ids (`time_ordered_id_prefix`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from uuid import UUID

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models.functions import Collate

from metering import computations
from metering.ingestion import ParsedEvent, dimensions_key, dumps, dumps_bytes
from metering.models import Event, UniqueCountLink, UniqueCountRollup, UsageRollup
from metering.store.base import (
    EVENT_COLUMNS,
    EVENT_CONFLICT,
    ROLLUP_COLUMNS,
    DatabaseEventStore,
    Written,
    event_key,
    rollup_conflict,
)
from metering.store.database import DatabaseReader, ceil_hour, floor_hour

if TYPE_CHECKING:
    from customers.models import Organization
    from metering.store.base import Deltas, RollupKey, SubscriptionRefs


def time_ordered_id_prefix(moment: float | None = None) -> str:
    """The first 15 characters of a UUIDv7 (RFC 9562) for this millisecond: 48 bits of Unix time in
    milliseconds and the version digit. The ingestion statement completes each event id with the
    last 21 characters of a random UUID (74 random bits), so ids grow with time and the primary key
    index takes new rows at its right edge instead of at random pages (which, on a table larger
    than shared_buffers, costs a page read and a dirty page write per event)."""
    millis = int((time.time() if moment is None else moment) * 1000) & 0xFFFF_FFFF_FFFF
    digits = f"{millis:012x}"
    return f"{digits[:8]}-{digits[8:]}-7"


def lock_key(organization_id: Any) -> int:
    """The advisory-lock key that orders ingestion (shared) against rollup rebuilds (exclusive): the
    first 15 hex digits of the organization's id (its top 60 bits; read from the number of a `UUID`
    without formatting it)."""
    if type(organization_id) is UUID:
        return organization_id.int >> 68
    return int(str(organization_id).replace("-", "")[:15], 16)


# --- statements ------------------------------------------------------------------------------

_LOCK = "SELECT pg_advisory_xact_lock_shared(%(lock)s) AS l"
_HOUR = "date_trunc('hour', {} AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
# `durable=False` (EVENTS_SYNCHRONOUS_COMMIT=false): the statement also sets synchronous_commit off
# *locally*, for the implicit transaction of this one statement, so its commit does not wait for
# the WAL flush, without BEGIN / SET LOCAL / COMMIT round trips and without touching the session
# (the next statement on the connection is durable again).
_LOCK_ASYNC = _LOCK + ", set_config('synchronous_commit', 'off', true) AS sc"
# The statements' texts, made once, as UTF-8 bytes: psycopg encodes a `str` query at every
# execution and hashes the new bytes (its query and prepared-statement caches are keyed by them).
_BATCH_SQL: dict[bool, bytes] = {}
_ONE_EVENT_SQL: dict[bool, bytes] = {}


# The link rows of unique-count events (the trigger of migration 0009 links them; `linked` false).
LINK_COLUMNS = [
    "organization_id", "external_subscription_id", "code", "value", "timestamp", "created_at", "transaction_id", "adds",
]  # fmt: skip


def _batch_sql(durable: bool) -> bytes:
    """One statement: take the shared advisory lock, insert the events that are new, and add the
    inserted ones to their hourly rollups (a data-modifying CTE), returning the inserted keys and,
    on each row, whether the organization has live pay-in-advance charges (an uncorrelated
    `EXISTS`, evaluated once: what `_one_event_sql` answers for one event, so that a batch is one
    statement, not the insert and then invoicing's own query through the ORM).

    Parameters: `idp` (the UUIDv7 prefix of the batch's event ids), `lock` (advisory-lock key),
    `doc` (the JSON document), `org` (organization id), `now`. Text comparisons and sorts use
    the "C" collation (byte order: same total order, no locale work); the insert order is what
    prevents deadlocks between concurrent batches, so every batch uses the same one."""
    cached = _BATCH_SQL.get(durable)
    if cached is not None:
        return cached
    from catalog.models import Charge

    event_table, rollup_table = Event._meta.db_table, UsageRollup._meta.db_table
    link_table, charges = UniqueCountLink._meta.db_table, Charge._meta.db_table
    sql = (
        f"WITH lock AS MATERIALIZED ({_LOCK if durable else _LOCK_ASYNC}), "  # noqa: S608 - identifiers are constants, values are parameters
        "src AS MATERIALIZED (SELECT x.* FROM lock, jsonb_to_recordset(%(doc)s::jsonb) AS x(t text, s text, c text, "
        "k text, ts timestamptz, p jsonb, pa numeric, v numeric, sid uuid, cid uuid, r boolean, dk text, d jsonb, u text)), "
        f"ins AS (INSERT INTO {event_table} ({', '.join(EVENT_COLUMNS)}) "
        "SELECT (%(idp)s || substr(gen_random_uuid()::text, 16))::uuid, %(org)s, src.t, src.s, coalesce(src.c, ''), src.k, src.ts, src.p, src.pa, src.v, "
        "src.sid, src.cid, %(now)s, %(now)s "
        'FROM src ORDER BY src.s COLLATE "C", src.t COLLATE "C" '
        f"{EVENT_CONFLICT} "
        "RETURNING id, external_subscription_id, transaction_id), "
        f"roll AS (INSERT INTO {rollup_table} ({', '.join(ROLLUP_COLUMNS)}) "
        "SELECT gen_random_uuid(), %(org)s, g.s, g.k, g.h, g.dk, g.d, g.n, g.vs, g.vm, g.ps, g.vt, %(now)s, %(now)s FROM ("
        "SELECT src.s, src.k, date_trunc('hour', src.ts AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS h, "
        "coalesce(src.dk, '{}') AS dk, coalesce(min(src.d::text)::jsonb, '{}') AS d, count(*) AS n, "
        "coalesce(sum(src.v), 0) AS vs, max(src.v) AS vm, coalesce(sum(src.pa), 0) AS ps, "
        "coalesce(sum(src.v * extract(epoch FROM src.ts)), 0) AS vt "
        "FROM ins JOIN src ON src.s = ins.external_subscription_id AND src.t = ins.transaction_id "
        'WHERE src.r GROUP BY src.s, src.k, 3, src.dk ORDER BY src.s COLLATE "C", src.k COLLATE "C", 3, src.dk COLLATE "C") AS g '
        f"{rollup_conflict(rollup_table)}), "
        f"uc AS (INSERT INTO {link_table} ({', '.join(LINK_COLUMNS)}) "
        "SELECT %(org)s, src.s, src.k, src.p ->> src.u, src.ts, %(now)s, src.t, "
        "coalesce(src.p ->> 'operation_type', 'add') <> 'remove' "
        "FROM ins JOIN src ON src.s = ins.external_subscription_id AND src.t = ins.transaction_id "
        "WHERE src.u IS NOT NULL AND src.p ->> src.u IS NOT NULL "
        'ORDER BY src.s COLLATE "C", src.k COLLATE "C", (src.p ->> src.u) COLLATE "C", src.ts, src.t COLLATE "C") '
        "SELECT id::text, external_subscription_id, transaction_id, "
        f"EXISTS (SELECT 1 FROM {charges} WHERE organization_id = %(org)s AND pay_in_advance AND deleted_at IS NULL) "
        "FROM ins"
    )
    _BATCH_SQL[durable] = encoded = sql.encode()
    return encoded


def _one_event_sql(durable: bool) -> bytes:
    """The batch statement's writes for a single event, with plain parameters. It also answers, in
    the same round trip, whether the organization has live pay-in-advance charges: invoicing must
    know it after every ingestion to bill their instant fees, a per-process cache of it could skip
    fees (a charge created in another process), and a query of its own would make this request two
    statements instead of one."""
    cached = _ONE_EVENT_SQL.get(durable)
    if cached is not None:
        return cached
    from catalog.models import Charge

    event_table, t, charges = Event._meta.db_table, UsageRollup._meta.db_table, Charge._meta.db_table
    sql = (
        f"WITH lock AS MATERIALIZED ({_LOCK if durable else _LOCK_ASYNC}), "  # noqa: S608 - identifiers are constants, values are parameters
        f"ins AS (INSERT INTO {event_table} ({', '.join(EVENT_COLUMNS)}) "
        "SELECT (%(idp)s || substr(gen_random_uuid()::text, 16))::uuid, %(org)s, %(t)s, %(s)s, %(c)s, %(k)s, "
        "%(ts)s::timestamptz, %(p)s::jsonb, %(pa)s::numeric, %(v)s::numeric, %(sid)s::uuid, %(cid)s::uuid, "
        "%(now)s, %(now)s FROM lock "
        f"{EVENT_CONFLICT} RETURNING id), "
        f"roll AS (INSERT INTO {t} ({', '.join(ROLLUP_COLUMNS)}) "
        "SELECT gen_random_uuid(), %(org)s, %(s)s, %(k)s, "
        "date_trunc('hour', %(ts)s::timestamptz AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', %(dk)s, %(d)s::jsonb, 1, "
        "coalesce(%(v)s::numeric, 0), %(v)s::numeric, coalesce(%(pa)s::numeric, 0), "
        "coalesce(%(v)s::numeric * extract(epoch FROM %(ts)s::timestamptz), 0), %(now)s, %(now)s "
        "FROM ins WHERE %(r)s::boolean "
        f"{rollup_conflict(t)}), "
        f"uc AS (INSERT INTO {UniqueCountLink._meta.db_table} ({', '.join(LINK_COLUMNS)}) "
        "SELECT %(org)s, %(s)s, %(k)s, %(p)s::jsonb ->> %(u)s::text, %(ts)s::timestamptz, %(now)s, %(t)s, "
        "coalesce(%(p)s::jsonb ->> 'operation_type', 'add') <> 'remove' "
        "FROM ins WHERE %(u)s::text IS NOT NULL AND %(p)s::jsonb ->> %(u)s::text IS NOT NULL) "
        f"SELECT id::text, EXISTS (SELECT 1 FROM {charges} WHERE organization_id = %(org)s "
        "AND pay_in_advance AND deleted_at IS NULL) FROM ins"
    )
    _ONE_EVENT_SQL[durable] = encoded = sql.encode()
    return encoded


def _document(ordered: list[ParsedEvent], refs: SubscriptionRefs) -> str:
    """The batch as one JSON array for `jsonb_to_recordset`. Keys whose value would be the column's
    default are left out (`coalesce` in the statement), and the subscription/customer ids come as
    text from `refs`, so the common event costs one small dict and no per-event conversions."""
    rows: list[dict[str, Any]] = []
    append = rows.append
    for e in ordered:
        row: dict[str, Any] = {
            "t": e.transaction_id,
            "s": e.external_subscription_id,
            "k": e.code,
            "ts": e.timestamp.isoformat(),
            "p": e.properties,
        }
        if e.external_customer_id:
            row["c"] = e.external_customer_id
        if e.precise_total_amount_cents is not None:
            row["pa"] = str(e.precise_total_amount_cents)
        if e.value is not None:
            row["v"] = str(e.value)
        ids = refs.get(e.external_subscription_id)
        if ids is not None:
            row["sid"], row["cid"] = ids
        if e.unique_field is not None:
            row["u"] = e.unique_field
        if e.metric_known:
            row["r"] = True
            if e.dimensions:
                row["dk"] = dimensions_key(e.dimensions)
                row["d"] = e.dimensions
        append(row)
    return dumps_bytes(rows).decode()


_PREPARED_CURSOR: Any = None


def _prepared_cursor_class() -> Any:
    """A psycopg cursor that binds parameters on the server and prepares its statements (the
    class is made once; psycopg is imported only where PostgreSQL is used)."""
    global _PREPARED_CURSOR
    if _PREPARED_CURSOR is None:
        # Defined by Django when psycopg 3 is installed (the stubs do not know it).
        from django.db.backends.postgresql.base import ServerBindingCursor  # type: ignore[attr-defined]

        class PreparedCursor(ServerBindingCursor):
            def execute(
                self, query: Any, params: Any = None, *, prepare: bool | None = None, binary: Any = None
            ) -> Any:
                return super().execute(query, params, prepare=True if prepare is None else prepare, binary=binary)

        _PREPARED_CURSOR = PreparedCursor
    return _PREPARED_CURSOR


# The psycopg cursor of this thread's connection that runs the ingestion statements, kept from one
# statement to the next (one per thread: `_statement_cursor`).
_held = threading.local()


def _statement_cursor() -> Any:
    """A Django cursor (query logging and execute wrappers apply) over a psycopg cursor that binds
    parameters on the server and prepares its statements: the JSON document travels as a
    parameter instead of being quoted into the SQL text, and PostgreSQL plans the ingestion
    statement once per connection instead of once per batch. (Django turns psycopg's automatic
    preparation off for poolers; these statements are prepared explicitly: a pooler in
    transaction mode needs PgBouncer >= 1.21 with `max_prepared_statements`.)

    The psycopg cursor is made once per connection and thread and used for every ingestion
    statement on it, never closed by its users (not with `with`): a new psycopg cursor copies the
    connection's adapters and builds a transformer, whose dumpers psycopg keeps while the same
    statement text is executed again (about 2 % of a single event's instructions). It holds no
    data beyond the last statement's result rows, and a connection Django replaces (closed,
    reconnected) gets a new cursor at its first statement; the old one, closed with it, is dropped
    then."""
    # `connections[...]`, looked up once: each `connection.x` looks the alias up after a failed attribute lookup
    wrapper = connections[DEFAULT_DB_ALIAS]
    wrapper.ensure_connection()
    wrapper.validate_thread_sharing()
    raw_connection = wrapper.connection
    raw = getattr(_held, "cursor", None)
    if raw is None or raw.connection is not raw_connection or raw.closed:
        raw = _held.cursor = _prepared_cursor_class()(raw_connection)
    return wrapper.make_debug_cursor(raw) if wrapper.queries_logged else wrapper.make_cursor(raw)


class PostgresReader(DatabaseReader):
    """The database reader with PostgreSQL's extras: byte-order collation for text ordering and
    weighted sums computed by window functions."""

    sql_aggregations = frozenset({"latest_agg", "unique_count_agg", "weighted_sum_agg"})
    state_aggregations = frozenset({"weighted_sum_agg", "unique_count_agg"})

    def binary(self, field_name: str) -> Any:
        # Codepoint ordering, as Python compares strings (PostgreSQL's default collation does not).
        return Collate(super().binary(field_name), "C")

    def unique_count(self, start: datetime, end: datetime, field_name: str) -> Decimal:
        """Values whose last event in [start, end) is not a `remove`, from the unique-count state:
        the `add` events of the window whose value has no later event before `end`
        (`UniqueCountLink.next_at`). Whole hours are summed from `UniqueCountRollup` (next hour
        >= the last whole hour's end), less the events whose next event falls in the partial hour
        at the end before `end` (found there through `prev_at`); the partial hours at the edges
        read their link rows. Two to three index range scans whatever the events' number.
        (`field_name` is the state's: the links hold the values of the metric's field.)"""
        if end <= start:
            return computations.ZERO
        first_hour, last_hour = ceil_hour(start), floor_hour(end)
        key: list[Any] = [self.organization.id, self.sub, self.code]
        link, rollup = UniqueCountLink._meta.db_table, UniqueCountRollup._meta.db_table
        where = "organization_id = %s AND external_subscription_id = %s AND code = %s"
        total = 0
        with connection.cursor() as cursor:
            if first_hour < last_hour:
                cursor.execute(
                    f"SELECT coalesce(sum(adds), 0) FROM {rollup} WHERE {where} "  # noqa: S608 - constant identifiers
                    "AND hour >= %s AND hour < %s AND next_hour >= %s",
                    [*key, first_hour, last_hour, last_hour],
                )
                total += int(cursor.fetchone()[0])
                edges = [(start, first_hour), (last_hour, end)]
                if last_hour < end:
                    cursor.execute(
                        f"SELECT count(*) FROM {link} WHERE {where} "  # noqa: S608 - constant identifiers
                        "AND timestamp >= %s AND timestamp < %s AND prev_adds AND prev_at >= %s AND prev_at < %s",
                        [*key, last_hour, end, first_hour, last_hour],
                    )
                    total -= int(cursor.fetchone()[0])
            else:
                edges = [(start, end)]
            for edge_start, edge_end in edges:
                if edge_start >= edge_end:
                    continue
                cursor.execute(
                    f"SELECT count(*) FROM {link} WHERE {where} "  # noqa: S608 - constant identifiers
                    "AND timestamp >= %s AND timestamp < %s AND adds AND (next_at IS NULL OR next_at >= %s)",
                    [*key, edge_start, edge_end, end],
                )
                total += int(cursor.fetchone()[0])
        return Decimal(total)

    def weighted_sum(self, start: datetime, end: datetime, initial: Decimal, period: Decimal) -> Decimal:
        """Σ level × seconds over [start, end) with window functions (exact numeric), divided by
        `period` seconds like Python (`computations.weighted_sum`)."""
        if period <= 0 or end <= start:
            return computations.ZERO
        sql = (
            "SELECT coalesce(sum((%s + lvl) * extract(epoch FROM (nxt - ts))), 0), min(ts) FROM ("
            "SELECT timestamp AS ts, "
            "sum(coalesce(value, 0)) OVER (ORDER BY timestamp, created_at, id ROWS UNBOUNDED PRECEDING) AS lvl, "
            "lead(timestamp, 1, %s) OVER (ORDER BY timestamp, created_at, id) AS nxt "
            "FROM metering_event WHERE organization_id = %s AND external_subscription_id = %s AND code = %s "
            "AND timestamp >= %s AND timestamp < %s) AS t"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [initial, end, self.organization.id, self.sub, self.code, start, end])
            acc, first = cursor.fetchone()
        acc = Decimal(acc or 0) + initial * computations.seconds((first or end) - start)
        return computations.divide_period(acc, period)


class PostgresEventStore(DatabaseEventStore):
    name = "postgres"
    one_statement = True

    def _write(
        self, organization_id: UUID, events: Sequence[ParsedEvent], now: datetime, refs: SubscriptionRefs, durable: bool
    ) -> Written:
        if len(events) == 1:
            return self._write_one(organization_id, events[0], now, refs, durable)
        ordered = sorted(events, key=event_key)
        by_key = {e.key: e for e in ordered}
        inserted: set[tuple[str, str]] = set()
        advance: bool | None = None  # answered with the first inserted row; None when none was
        params = {
            "idp": time_ordered_id_prefix(),
            "lock": lock_key(organization_id),
            "doc": _document(ordered, refs),
            "org": organization_id,
            "now": now,
        }
        cursor = _statement_cursor()
        cursor.execute(_batch_sql(durable), params)
        for event_id, sub, txn, has_advance in cursor.fetchall():
            key = (sub, txn)
            by_key[key].id = event_id
            inserted.add(key)
            advance = bool(has_advance)
        for event in ordered:
            if event.id is not None and event.key not in inserted:
                event.id = None
        return Written(advance)

    def _write_one(
        self, organization_id: UUID, event: ParsedEvent, now: datetime, refs: SubscriptionRefs, durable: bool
    ) -> Written:
        ids = refs.get(event.external_subscription_id)
        dimensioned = event.metric_known and bool(event.dimensions)
        params = {
            "idp": time_ordered_id_prefix(),
            "lock": lock_key(organization_id),
            "org": organization_id,
            "t": event.transaction_id,
            "s": event.external_subscription_id,
            "c": event.external_customer_id or "",
            "k": event.code,
            "ts": event.timestamp,
            "p": dumps_bytes(event.properties).decode(),
            "pa": event.precise_total_amount_cents,
            "v": event.value,
            "sid": ids[0] if ids else None,
            "cid": ids[1] if ids else None,
            "r": event.metric_known,
            "dk": dimensions_key(event.dimensions) if dimensioned else "{}",
            "d": dumps(event.dimensions) if dimensioned else "{}",
            "u": event.unique_field,
            "now": now,
        }
        cursor = _statement_cursor()
        cursor.execute(_one_event_sql(durable), params)
        row = cursor.fetchone()
        event.id = row[0] if row else None
        return Written(bool(row[1]) if row else None)

    def relax_commit(self) -> None:
        # Opt-in (EVENTS_SYNCHRONOUS_COMMIT=false): answer without waiting for the WAL flush. A
        # PostgreSQL crash may lose the last moments of acknowledged events; nothing is ever
        # corrupted or double counted.
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")

    def lock_rollups(self, organization_id: UUID | str, *, exclusive: bool) -> None:
        function = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {function}(%s)", [lock_key(organization_id)])

    def _add_rollups(self, organization_id: UUID | str, deltas: Deltas, keys: list[RollupKey], now: datetime) -> None:
        table = UsageRollup._meta.db_table
        document = dumps(
            [
                {
                    "s": sub,
                    "k": code,
                    "h": hour.isoformat(),
                    "dk": dims_key,
                    "d": deltas[(sub, code, hour, dims_key)][0],
                    "n": d.events_count,
                    "vs": str(d.value_sum),
                    "vm": None if d.value_max is None else str(d.value_max),
                    "ps": str(d.precise_sum),
                    "vt": str(d.value_time_sum),
                }
                for (sub, code, hour, dims_key) in keys
                for d in [deltas[(sub, code, hour, dims_key)][1]]
            ]
        )
        sql = (
            f"INSERT INTO {table} ({', '.join(ROLLUP_COLUMNS)}) "  # noqa: S608 - identifiers are constants, values are parameters
            "SELECT gen_random_uuid(), %s, x.s, x.k, x.h, x.dk, x.d, x.n, x.vs, x.vm, x.ps, x.vt, %s, %s "
            "FROM json_to_recordset(%s::json) AS x(s text, k text, h timestamptz, dk text, d jsonb, n bigint, "
            "vs numeric, vm numeric, ps numeric, vt numeric) " + rollup_conflict(table)
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [organization_id, now, now, document])

    def unique_state_rebuild(
        self, organization_id: UUID | str, fields: Mapping[str, str | None], external_subscription_id: str | None
    ) -> int:
        """Recompute the unique-count state of the codes in `fields` (code -> the unique-count
        metric's field name, None: not a unique count now) from all their raw events, for one
        subscription or all; inside the rebuild's transaction (exclusive organization lock).
        The links span periods, so a code's state is rebuilt whole, not per window. Returns the
        link rows written."""
        if not fields:
            return 0
        link, rollup = UniqueCountLink._meta.db_table, UniqueCountRollup._meta.db_table
        scope = "organization_id = %s AND code = ANY(%s)"
        params: list[Any] = [organization_id, list(fields)]
        if external_subscription_id is not None:
            scope += " AND external_subscription_id = %s"
            params.append(external_subscription_id)
        unique = {code: field for code, field in fields.items() if field}
        written = 0
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {link} WHERE {scope}", params)  # noqa: S608 - constant identifiers
            cursor.execute(f"DELETE FROM {rollup} WHERE {scope}", params)  # noqa: S608 - constant identifiers
            for code, field in sorted(unique.items()):
                event_scope = "organization_id = %s AND code = %s"
                event_params: list[Any] = [field, organization_id, code]
                if external_subscription_id is not None:
                    event_scope += " AND external_subscription_id = %s"
                    event_params.append(external_subscription_id)
                cursor.execute(
                    f"INSERT INTO {link} ({', '.join(LINK_COLUMNS)}, next_at, prev_at, prev_adds, linked) "  # noqa: S608 - constant identifiers
                    "SELECT organization_id, external_subscription_id, code, v, timestamp, created_at, transaction_id, "
                    "adds, lead(timestamp) OVER w, lag(timestamp) OVER w, lag(adds) OVER w, true FROM ("
                    "SELECT organization_id, external_subscription_id, code, properties ->> %s AS v, timestamp, "
                    "created_at, transaction_id, coalesce(properties ->> 'operation_type', 'add') <> 'remove' AS adds "
                    f"FROM {Event._meta.db_table} WHERE {event_scope}) AS x WHERE v IS NOT NULL "
                    "WINDOW w AS (PARTITION BY external_subscription_id, v "
                    'ORDER BY timestamp, created_at, transaction_id COLLATE "C")',
                    event_params,
                )
                written += cursor.rowcount
            cursor.execute(
                f"INSERT INTO {rollup} (organization_id, external_subscription_id, code, hour, next_hour, adds) "  # noqa: S608 - constant identifiers
                f"SELECT organization_id, external_subscription_id, code, {_HOUR.format('timestamp')}, "
                f"coalesce({_HOUR.format('next_at')}, %s), count(*) FROM {link} WHERE {scope} AND adds "
                "GROUP BY 1, 2, 3, 4, 5",
                [UniqueCountRollup.NEVER, *params],
            )
        return written

    def reader(self, organization: Organization, external_subscription_id: str, code: str) -> PostgresReader:
        return PostgresReader(organization, external_subscription_id, code)
