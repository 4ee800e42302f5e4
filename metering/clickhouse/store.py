"""ClickHouse itself: the connection, the table, the copy of events and the reads.

The SQL avoids what ClickHouse 18.16 (Debian's package, the one CI runs) lacks: no DateTime64
(timestamps are Int64 microseconds), no Map or JSON functions (properties are two parallel
arrays of key and text value), no window functions (ordering and arithmetic happen in Python,
with the same code as the PostgreSQL path, so both stores return identical results).

Every call has a deadline: reads (`Reader`, in API requests and billing) wait at most
`CLICKHOUSE_TIMEOUT_SECONDS` to connect, for the driver's ping and for the answer; copies
(`ClickHouseEventStore.write`, in workers) wait `CLICKHOUSE_WRITE_TIMEOUT_SECONDS` for the answer. A read that
fails raises `Unavailable` and opens the process's breaker (`metering.clickhouse.breaker`).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Hashable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlparse

from django.conf import settings
from django.db import transaction

from metering import computations
from metering.clickhouse import state
from metering.computations import Row
from metering.ingestion import ParsedEvent, dimension_value, dimensions_key, dumps_bytes
from metering.store.base import Additive, Written

logger = logging.getLogger(__name__)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
TABLE = "bxb_events"
_local = threading.local()
_schema_ready: set[str] = set()

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    organization_id String,
    external_subscription_id String,
    code String,
    transaction_id String,
    timestamp DateTime,
    ts_us Int64,
    created_us Int64,
    value Nullable(Decimal128(12)),
    precise Nullable(Decimal128(12)),
    dims_key String,
    prop_keys Array(String),
    prop_values Array(String),
    version UInt64,
    id String DEFAULT '',
    external_customer_id String DEFAULT '',
    properties String DEFAULT '',
    subscription_id String DEFAULT '',
    customer_id String DEFAULT '',
    xid Int64,
    ufield String DEFAULT ''
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(timestamp)
ORDER BY (organization_id, external_subscription_id, code, transaction_id, xid)
"""
# The PostgreSQL transaction that wrote a row of the store of record (0: a copy) is the last column
# of the sorting key: ReplacingMergeTree collapses the repeats of one write (copies written twice),
# never the row of a committed transaction with one that did not commit (`state`), which a merge
# could otherwise keep in its place.
ADD_XID = (
    f"ALTER TABLE {TABLE} ADD COLUMN xid Int64, "
    "MODIFY ORDER BY (organization_id, external_subscription_id, code, transaction_id, xid)"
)
# Columns added after the first release (the event as the API shows it: the store of record
# needs them), added to a table created before (ClickHouse 18.16 has no ADD COLUMN IF NOT EXISTS).
ADDED_COLUMNS = {
    "id": "String DEFAULT ''",
    "external_customer_id": "String DEFAULT ''",
    "properties": "String DEFAULT ''",
    "subscription_id": "String DEFAULT ''",
    "customer_id": "String DEFAULT ''",
    # The unique-count metric's field the event was ingested for ('' for others and for copies):
    # what `state`'s unique-count views fold.
    "ufield": "String DEFAULT ''",
}
COLUMNS = (
    "organization_id, external_subscription_id, code, transaction_id, timestamp, ts_us, created_us, value, "
    "precise, dims_key, prop_keys, prop_values, version, id, external_customer_id, properties, subscription_id, "
    "customer_id, xid, ufield"
)


def enabled() -> bool:
    return bool(getattr(settings, "CLICKHOUSE_URL", ""))


class Unavailable(Exception):
    """ClickHouse did not answer a read in time, or failed it: the caller reads PostgreSQL."""


def target() -> str:
    """host:port/database of CLICKHOUSE_URL: what a recorded backfill was copied to."""
    parsed = urlparse(settings.CLICKHOUSE_URL)
    database = (parsed.path or "/default").lstrip("/") or "default"
    return f"{parsed.hostname or '127.0.0.1'}:{parsed.port or 9000}/{database}"


def client(*, write: bool = False) -> Any:
    """A per-thread clickhouse-driver client for CLICKHOUSE_URL, with the table created.

    `write=False`: every step (connect, the driver's ping before each query, the answer) waits at
    most CLICKHOUSE_TIMEOUT_SECONDS. `write=True` (copies, in workers): the answer may take up to
    CLICKHOUSE_WRITE_TIMEOUT_SECONDS.
    """
    from clickhouse_driver import Client

    url = settings.CLICKHOUSE_URL
    short = float(settings.CLICKHOUSE_TIMEOUT_SECONDS)
    wait = float(settings.CLICKHOUSE_WRITE_TIMEOUT_SECONDS) if write else short
    key = (url, short, wait)
    clients = _clients()
    cached = clients.get(key)
    if cached is None:
        parsed = urlparse(url)
        cached = Client(
            host=parsed.hostname or "127.0.0.1",
            port=parsed.port or 9000,
            user=parsed.username or "default",
            password=parsed.password or "",
            database=(parsed.path or "/default").lstrip("/") or "default",
            connect_timeout=short,
            send_receive_timeout=wait,
            sync_request_timeout=wait,
        )
        clients[key] = cached
    if url not in _schema_ready:
        cached.execute(SCHEMA)
        present = {
            name
            for (name,) in cached.execute(
                "SELECT name FROM system.columns WHERE database = currentDatabase() AND table = %(t)s", {"t": TABLE}
            )
        }
        for name, definition in ADDED_COLUMNS.items():
            if name not in present:
                cached.execute(f"ALTER TABLE {TABLE} ADD COLUMN {name} {definition}")
        if "xid" not in present:
            cached.execute(ADD_XID)
        state.ensure(cached, TABLE)
        _schema_ready.add(url)
    return cached


def _clients() -> dict[tuple[str, float, float], Any]:
    clients = getattr(_local, "clients", None)
    if clients is None:
        clients = _local.clients = {}
    return clients


def forget_clients() -> None:
    """Drop this thread's connections (after a failure the next call connects afresh)."""
    for cached in _clients().values():
        with contextlib.suppress(Exception):  # a broken socket may fail to close; it is dropped anyway
            cached.disconnect()
    _clients().clear()


def _read(query: str, params: dict[str, Any]) -> list[Any]:
    """A read with the short deadline; any failure becomes `Unavailable` and opens the breaker."""
    from metering.clickhouse.breaker import breaker

    try:
        return client().execute(query, params)
    except Exception as exc:
        forget_clients()
        breaker.trip()
        logger.warning(
            "ClickHouse read failed; reading PostgreSQL for %ss",
            settings.CLICKHOUSE_BREAKER_SECONDS,
            exc_info=True,
            extra={"clickhouse_error": type(exc).__name__},
        )
        raise Unavailable(f"{type(exc).__name__}: {exc}") from exc


def micros(moment: datetime) -> int:
    """A datetime as Unix microseconds (the table's `ts_us` and `created_us`)."""
    return _micros(moment)


def moment(value: int) -> datetime:
    """Unix microseconds as an aware UTC datetime."""
    return _moment(value)


def _micros(moment: datetime) -> int:
    delta = moment - EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def _moment(micros: int) -> datetime:
    return EPOCH + timedelta(microseconds=micros)


def _property_arrays(properties: dict[str, Any]) -> tuple[list[str], list[str]]:
    keys, values = [], []
    for key, value in (properties or {}).items():
        text = computations.text_of(value) if not isinstance(value, dict | list) else None
        if text is not None:
            keys.append(str(key))
            values.append(text)
    return keys, values


def _stored(event: Any, filter_keys: Sequence[str]) -> ParsedEvent:
    """A stored `Event` row as the store writes it, with its dimensions on `filter_keys`."""
    properties = event.properties or {}
    dimensions = {}
    for key in filter_keys:
        value = dimension_value(properties.get(key))
        if value is not None:
            dimensions[key] = value
    return ParsedEvent(
        index=0,
        transaction_id=event.transaction_id,
        external_subscription_id=event.external_subscription_id,
        external_customer_id=event.external_customer_id,
        code=event.code,
        timestamp=event.timestamp,
        properties=properties,
        precise_total_amount_cents=event.precise_total_amount_cents,
        id=event.id,
        value=event.value,
        dimensions=dimensions,
        created_at=event.created_at,
        subscription_id=event.subscription_id,
        customer_id=event.customer_id,
    )


class ClickHouseEventStore:
    """The copy of the database's events in ClickHouse: written from the outbox and by the
    backfill (in workers), read by aggregation when `backfill.readable` says so."""

    name = "clickhouse"

    def write(
        self,
        organization_id: Any,
        events: Sequence[ParsedEvent],
        *,
        now: datetime,
        refs: Any = None,
        durable: bool = True,
        xid: int = 0,
    ) -> Written:
        """Write events (ids and `created_at` set). Idempotent: the table keeps one row per
        idempotency key, the one of the latest `now` (its version). `xid`: the PostgreSQL
        transaction that claimed the events' keys (ingestion into the store of record); 0 for
        copies, whose rows may repeat (`metering.clickhouse.state` reads them from events)."""
        rows = []
        version = _micros(now)
        organization = str(organization_id)
        for event in events:
            keys, values = _property_arrays(event.properties)
            assert event.created_at is not None
            rows.append(
                {
                    "organization_id": organization,
                    "external_subscription_id": event.external_subscription_id,
                    "code": event.code,
                    "transaction_id": event.transaction_id,
                    "timestamp": event.timestamp.replace(microsecond=0),
                    "ts_us": _micros(event.timestamp),
                    "created_us": _micros(event.created_at),
                    "value": event.value,
                    "precise": event.precise_total_amount_cents,
                    "dims_key": dimensions_key(event.dimensions),
                    "prop_keys": keys,
                    "prop_values": values,
                    "version": version,
                    "id": str(event.id or ""),
                    "external_customer_id": event.external_customer_id or "",
                    "properties": dumps_bytes(event.properties or {}).decode(),
                    "subscription_id": str(event.subscription_id or ""),
                    "customer_id": str(event.customer_id or ""),
                    "xid": xid,
                    "ufield": event.unique_field or "",
                }
            )
        if rows:
            client(write=True).execute(f"INSERT INTO {TABLE} ({COLUMNS}) VALUES", rows)
        return Written()

    def reader(self, organization: Any, external_subscription_id: str, code: str) -> Reader:
        return Reader(organization, external_subscription_id, code)


def copy_events(events: Sequence[Any]) -> int:
    """Write copies of stored `Event` rows (with `organization` loaded), their dimensions on the
    filter keys of their organization's metrics as they are now; returns how many."""
    from metering.selectors import metrics_by_code

    by_organization: dict[Any, list[Any]] = {}
    for event in events:
        by_organization.setdefault(event.organization_id, []).append(event)
    store = ClickHouseEventStore()
    now = datetime.now(UTC)
    for organization_id, rows in by_organization.items():
        metrics = metrics_by_code(rows[0].organization, {e.code for e in rows})
        keys = {code: info.filter_keys for code, info in metrics.items()}
        store.write(organization_id, [_stored(e, keys.get(e.code, ())) for e in rows], now=now)
    return len(events)


def clickhouse_flush(*, limit: int = 50, organization: Any = None, wait: bool = False) -> int:
    """Copy pending outbox batches (of one organization, if given) to ClickHouse; returns how many
    events were written.

    Safe to run concurrently and twice: rows are claimed with SKIP LOCKED (`wait`: rows another
    flush holds are waited for instead, so that everything committed before the call is copied
    when it returns) and a replay is de-duplicated by ClickHouse. If ClickHouse refuses, the
    outbox rows stay for the next run.
    """
    from metering.models import ClickHouseOutbox, Event

    if not enabled():
        return 0
    written = 0
    with transaction.atomic():
        pending = ClickHouseOutbox.objects.order_by("created_at")
        if organization is not None:
            pending = pending.filter(organization=organization)
        # Row locks where the database has them (SQLite serializes writers and ignores this).
        pending = pending.select_for_update(skip_locked=not wait)
        batch = list(pending[:limit])
        if not batch:
            return 0
        ids = [event_id for row in batch for event_id in row.event_ids]
        for start in range(0, len(ids), 10_000):
            events = list(Event.objects.filter(id__in=ids[start : start + 10_000]).select_related("organization"))
            written += copy_events(events)
        ClickHouseOutbox.objects.filter(id__in=[row.id for row in batch]).delete()
    return written


def clickhouse_settle() -> state.Settled:
    """Settle the inserts of the store of record older than a minute (`state.settle`): what the
    beat runs every minute (`manage.py clickhouse_sync --settle` by hand). A no-op without
    CLICKHOUSE_URL."""
    if not enabled():
        return state.Settled(0, 0, None)
    return state.settle(client(write=True))


def count_events(organization_id: Any, *, created_before: datetime, from_timestamp: datetime | None) -> int:
    """Distinct events of an organization in ClickHouse created before a moment (dated from one)."""
    clause = "organization_id = %(org)s AND created_us < %(created)s"
    params: dict[str, Any] = {"org": str(organization_id), "created": _micros(created_before)}
    if from_timestamp is not None:
        clause += " AND ts_us >= %(start)s"
        params["start"] = _micros(from_timestamp)
    [(count,)] = client(write=True).execute(f"SELECT count() FROM {TABLE} FINAL WHERE {clause}", params)  # noqa: S608 - constant table, parameters bound by the driver
    return int(count)


class Reader:
    """Aggregation's view of one (organization, subscription, code) in ClickHouse: count, sums,
    max, weighted-sum moments, the latest value and unique counts from the pre-aggregated states
    (`metering.clickhouse.state`: quarter hours and days, exact under duplicates and failed
    commits); per-event rows (grouping, per-event values) from the events with FINAL, the rows of
    transactions that did not commit left out. One reader serves one aggregation: a window read
    twice (count and latest) is read once."""

    name = "clickhouse"
    sql_aggregations: frozenset[str] = frozenset({"unique_count_agg", "latest_agg"})
    state_aggregations: frozenset[str] = frozenset({"weighted_sum_agg", "unique_count_agg"})

    def __init__(self, organization: Any, sub: str, code: str):
        self.params = {"org": str(organization.id), "sub": sub, "code": code}
        self._collected: dict[tuple[int, int, bool], state.Collected] = {}

    def _collect(self, start: datetime, end: datetime, *, moments: bool = False) -> state.Collected:
        span = (_micros(start), _micros(end), moments)
        found = self._collected.get(span) or (self._collected.get((*span[:2], True)) if not moments else None)
        if found is None:
            found = self._collected[span] = state.collect(_read, self.params, span[0], span[1], moments=moments)
        return found

    def _where(self, start: datetime, end: datetime) -> tuple[str, dict[str, Any]]:
        """The events of [start, end), without those of transactions that did not commit."""
        start_us, end_us = _micros(start), _micros(end)
        params: dict[str, Any] = dict(self.params, start=start_us, end=end_us)
        clause = (
            "organization_id = %(org)s AND external_subscription_id = %(sub)s AND code = %(code)s "
            "AND ts_us >= %(start)s AND ts_us < %(end)s"
        )
        first, last = state.bucket_of(start_us), state.bucket_of(end_us - 1)
        xids = state.exclusions(_read, self.params, first, last).xids
        if xids:
            clause += f" AND xid NOT IN ({', '.join(str(int(x)) for x in sorted(xids))})"
        return clause, params

    def rows(self, start: datetime, end: datetime, keys: Sequence[str]) -> list[Row]:
        if start >= end:
            return []
        clause, params = self._where(start, end)
        result = _read(
            f"SELECT ts_us, value, precise, created_us, transaction_id, prop_keys, prop_values "  # noqa: S608 - constant table, parameters bound by the driver
            f"FROM {TABLE} FINAL WHERE {clause}",
            params,
        )
        wanted = set(keys)
        return [
            Row(
                timestamp=_moment(ts_us),
                value=value,
                properties={k: v for k, v in zip(prop_keys, prop_values, strict=False) if k in wanted},
                precise_total_amount_cents=precise,
                created_at=_moment(created_us),
                transaction_id=transaction_id,
            )
            for ts_us, value, precise, created_us, transaction_id, prop_keys, prop_values in result
        ]

    def moments(
        self, start: datetime, end: datetime, keys: Sequence[str]
    ) -> dict[tuple[str | None, ...], Additive] | None:
        """Per dimension values, with Σ value × Unix seconds (exact: the states keep Σ value ×
        microseconds into each quarter hour)."""
        if start >= end:
            return {}
        return state.by_keys(self._collect(start, end, moments=True), keys)

    def latest(self, start: datetime, end: datetime) -> Decimal | None:
        """The value of the last event with a value in [start, end) by (timestamp, arrival,
        transaction id); None when there is none."""
        if start >= end:
            return None
        latest = self._collect(start, end).latest
        return latest[3] if latest is not None else None

    def unique_count(self, start: datetime, end: datetime, field_name: str) -> Decimal:
        """Values whose last event in [start, end) (by timestamp, arrival, transaction id) is not a
        `remove`, from the unique-count states (`state.unique_count`)."""
        if start >= end or not field_name:
            return computations.ZERO
        return Decimal(state.unique_count(_read, self.params, field_name, _micros(start), _micros(end)))

    def unique_counts(
        self,
        spans: Sequence[tuple[datetime, datetime]],
        field_name: str,
        keys: Sequence[str],
        labels: Callable[[tuple[str | None, ...]], Sequence[Hashable]],
    ) -> dict[Hashable, int] | None:
        """Unique counts over the adjacent `spans` (the window, and the history before it of a
        recurring metric) per label: `labels` names the buckets (filter, group) that events with
        these values of the metric's filter `keys` count in. None: the states hold dimension
        values the read of the spans did not see (a concurrent write)."""
        names: dict[Hashable, str] = {}
        by_dims: dict[str, list[str]] = {}
        for start, end in spans:
            if start >= end:
                continue
            for dims_key in self._collect(start, end).by_dims:
                found = labels(state.dimensions(dims_key, keys))
                by_dims[dims_key] = [names.setdefault(label, str(len(names))) for label in found]
        live = [(s, e) for s, e in spans if s < e]
        if not live or not field_name:
            return {}
        counts = state.unique_count(
            _read,
            self.params,
            field_name,
            _micros(min(s for s, _ in live)),
            _micros(max(e for _, e in live)),
            labels=by_dims,
        )
        if counts is None:
            return None
        back = {name: label for label, name in names.items()}
        return {back[name]: count for name, count in counts.items()}

    def additive(self, start: datetime, end: datetime, keys: Sequence[str]) -> dict[tuple[str | None, ...], Additive]:
        if start >= end:
            return {}
        return state.by_keys(self._collect(start, end), keys)
