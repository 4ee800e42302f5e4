"""Event ingestion: plain-Python validation and one-statement batch writes.

No serializer runs per event. A batch is validated as a whole (any bad event rejects the batch,
errors keyed by index), de-duplicated in memory, then written with a single
`INSERT ... ON CONFLICT DO NOTHING RETURNING id` (PostgreSQL: the batch as one JSON document read
by `jsonb_to_recordset`, in a data-modifying CTE that also upserts the hourly rollups of exactly
the inserted rows), so duplicates from the same batch, an earlier request or a concurrent one never
count twice.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_FLOOR, Context, Decimal, InvalidOperation
from typing import Any

import orjson
from django.db import connection
from django.utils import timezone

from metering.models import VALUE_DIGITS, VALUE_PLACES, Event, EventErrorCode

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_TIMESTAMP = Decimal("253402300799")  # 9999-12-31T23:59:59Z
MAX_TEXT = 255
_MAX_VALUE = Decimal(10) ** (VALUE_DIGITS - VALUE_PLACES)
_MAX_INT_VALUE = 10 ** (VALUE_DIGITS - VALUE_PLACES)
_MAX_INT_TIMESTAMP = int(MAX_TIMESTAMP)
_WIDE = Context(prec=200)

MANDATORY = "value_is_mandatory"
INVALID = "value_is_invalid"
INVALID_FORMAT = "invalid_format"


@dataclass(slots=True)
class ParsedEvent:
    """One validated event, ready to be written."""

    index: int
    transaction_id: str
    external_subscription_id: str
    external_customer_id: str
    code: str
    timestamp: datetime
    properties: dict[str, Any]
    precise_total_amount_cents: Decimal | None
    id: uuid.UUID | str | None = None  # set when stored (PostgreSQL returns its text form)
    value: Decimal | None = None
    subscription_id: uuid.UUID | None = None
    customer_id: uuid.UUID | None = None
    errors: list[str] = field(default_factory=list)
    dimensions: dict[str, str] = field(default_factory=dict)
    metric_known: bool = False
    created_at: datetime | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.external_subscription_id, self.transaction_id)


def _event_key(event: ParsedEvent) -> tuple[str, str]:
    return (event.external_subscription_id, event.transaction_id)


def _present(value: Any) -> bool:
    return value is not None and value != ""


def _text(value: Any, errors: dict[str, list[str]], name: str, *, required: bool) -> str:
    if not _present(value):
        if required:
            errors[name] = [MANDATORY]
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        errors[name] = [INVALID]
        return ""
    text = str(value)
    if len(text) > MAX_TEXT:
        errors[name] = [INVALID]
        return ""
    return text


def parse_decimal_value(value: Any) -> Decimal | None:
    """A number or numeric string as an exact Decimal; None when it is not one."""
    kind = type(value)
    if kind is int:
        return Decimal(value)
    if kind is Decimal:
        return value if value.is_finite() else None
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float):  # never produced by ExactJSONParser; accepted from Python callers
        value = repr(value)
    if not isinstance(value, int | str | Decimal):
        return None
    try:
        number = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
    except (InvalidOperation, ValueError):
        return None
    if not number.is_finite():
        return None
    return number


def storable(number: Decimal) -> bool:
    """Fits numeric(38, 12) without losing digits."""
    parts = number.as_tuple()
    if isinstance(parts.exponent, int) and parts.exponent >= 0 and len(parts.digits) + parts.exponent <= 26:
        return True  # an integer below 10**26 (the common case)
    if abs(number) >= _MAX_VALUE:
        return False
    exponent = number.normalize(_WIDE).as_tuple().exponent
    return isinstance(exponent, int) and exponent >= -VALUE_PLACES


def parse_timestamp(value: Any, now: datetime) -> datetime | None:
    """Unix seconds (int, fraction, number or numeric string); None/"" means now. None if invalid."""
    if value is None or value == "":
        return now
    if type(value) is int:
        if 0 <= value <= _MAX_INT_TIMESTAMP:
            return EPOCH + timedelta(seconds=value)
        return None
    number = parse_decimal_value(value)
    if number is None or number < 0 or number > MAX_TIMESTAMP:
        return None
    micros = int((number * 1_000_000).to_integral_value(rounding=ROUND_FLOOR))
    return EPOCH + timedelta(microseconds=micros)


def _short_text(value: Any) -> bool:
    return type(value) is str and 0 < len(value) <= MAX_TEXT


def parse_event(index: int, raw: Any, now: datetime) -> tuple[ParsedEvent | None, dict[str, list[str]]]:
    """Validate one event payload; returns the event or Lago's `{field: [codes]}` errors.

    The common shape (string ids, integer or absent timestamp, an object or no properties, no
    precise amount) takes a fast path that builds nothing but the event; anything else goes through
    the general checks, which give the same answers."""
    if type(raw) is dict:
        get = raw.get
        transaction_id = get("transaction_id")
        code = get("code")
        external_subscription_id = get("external_subscription_id")
        external_customer_id = get("external_customer_id")
        timestamp = get("timestamp")
        properties = get("properties")
        if (
            _short_text(transaction_id)
            and _short_text(code)
            and _short_text(external_subscription_id)
            and (external_customer_id is None or _short_text(external_customer_id))
            and (properties is None or type(properties) is dict)
            and get("precise_total_amount_cents") is None
        ):
            if timestamp is None:
                moment: datetime | None = now
            elif type(timestamp) is int and 0 <= timestamp <= _MAX_INT_TIMESTAMP:
                moment = EPOCH + timedelta(seconds=timestamp)
            else:
                moment = parse_timestamp(timestamp, now)
            if moment is not None:
                return (
                    ParsedEvent(
                        index,
                        transaction_id,
                        external_subscription_id,
                        external_customer_id or "",
                        code,
                        moment,
                        {} if properties is None else properties,
                        None,
                    ),
                    {},
                )
    return _parse_event_slow(index, raw, now)


def _parse_event_slow(index: int, raw: Any, now: datetime) -> tuple[ParsedEvent | None, dict[str, list[str]]]:
    errors: dict[str, list[str]] = {}
    if not isinstance(raw, Mapping):
        return None, {"event": [INVALID]}
    transaction_id = _text(raw.get("transaction_id"), errors, "transaction_id", required=True)
    code = _text(raw.get("code"), errors, "code", required=True)
    external_customer_id = _text(raw.get("external_customer_id"), errors, "external_customer_id", required=False)
    external_subscription_id = _text(
        raw.get("external_subscription_id"), errors, "external_subscription_id", required=True
    )
    timestamp = parse_timestamp(raw.get("timestamp"), now)
    if timestamp is None:
        errors["timestamp"] = [INVALID_FORMAT]
    properties = raw.get("properties")
    if properties is None:
        properties = {}
    elif not isinstance(properties, Mapping):
        errors["properties"] = [INVALID]
        properties = {}
    precise: Decimal | None = None
    raw_precise = raw.get("precise_total_amount_cents")
    if _present(raw_precise):
        precise = parse_decimal_value(raw_precise)
        if precise is None or not storable(precise):
            errors["precise_total_amount_cents"] = [INVALID]
            precise = None
    if errors:
        return None, errors
    assert timestamp is not None
    return (
        ParsedEvent(
            index=index,
            transaction_id=transaction_id,
            external_subscription_id=external_subscription_id,
            external_customer_id=external_customer_id,
            code=code,
            timestamp=timestamp,
            properties=dict(properties),
            precise_total_amount_cents=precise,
        ),
        {},
    )


# --- JSON without float rounding --------------------------------------------------------------


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        # A Decimal becomes a JSON number only when that number reads back as the same value;
        # otherwise it is kept as a string, so no digit is ever lost.
        if value.is_finite():
            as_float = float(value)
            if Decimal(repr(as_float)) == value:
                return as_float
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(value: Any) -> str:
    return json.dumps(value, default=_json_default, separators=(",", ":"), ensure_ascii=False)


def dumps_bytes(value: Any) -> bytes:
    """`dumps` as UTF-8 bytes, by orjson when it can (the same JSON values, several times faster);
    integers beyond 64 bits, which orjson refuses, go through the standard library."""
    try:
        return orjson.dumps(value, default=_json_default)
    except orjson.JSONEncodeError:
        return dumps(value).encode()


def dimensions_key(dimensions: Mapping[str, str]) -> str:
    return json.dumps(dict(sorted(dimensions.items())), separators=(",", ":"), ensure_ascii=False)


def dimension_value(value: Any) -> str | None:
    """The string form of a property used as a filter or group dimension (None when absent)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | Decimal):
        return str(value)
    return None


def truncate_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


# --- writes -----------------------------------------------------------------------------------

_EVENT_COLUMNS = [
    "id",
    "organization_id",
    "transaction_id",
    "external_subscription_id",
    "external_customer_id",
    "code",
    "timestamp",
    "properties",
    "precise_total_amount_cents",
    "value",
    "subscription_id",
    "customer_id",
    "created_at",
    "updated_at",
]


def _event_values(organization_id: uuid.UUID, event: ParsedEvent, now: datetime) -> list[Any]:
    return [
        event.id,
        organization_id,
        event.transaction_id,
        event.external_subscription_id,
        event.external_customer_id,
        event.code,
        event.timestamp,
        dumps(event.properties),
        event.precise_total_amount_cents,
        event.value,
        event.subscription_id,
        event.customer_id,
        now,
        now,
    ]


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
    """The advisory-lock key that orders ingestion (shared) against rollup rebuilds (exclusive)."""
    return int(str(organization_id).replace("-", "")[:15], 16)


def _pg_document(ordered: list[ParsedEvent], ids: Mapping[str, tuple[str, str]]) -> str:
    """The batch as one JSON array for `jsonb_to_recordset`. Keys whose value would be the column's
    default are left out (`coalesce` in the statement), and the subscription/customer ids come as
    text from `ids` (external subscription id -> (subscription id, customer id)), so the common
    event costs one small dict and no per-event conversions."""
    rows = []
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
        refs = ids.get(e.external_subscription_id)
        if refs is not None:
            row["sid"], row["cid"] = refs
        if e.metric_known:
            row["r"] = True
            if e.dimensions:
                row["dk"] = dimensions_key(e.dimensions)
                row["d"] = e.dimensions
        append(row)
    return dumps_bytes(rows).decode()


_PG_INGEST_SQL: str | None = None


def _pg_ingest_sql() -> str:
    """One statement: take the shared advisory lock, insert the events that are new, and add the
    inserted ones to their hourly rollups (a data-modifying CTE), returning the inserted keys.

    Parameters: `idp` (the UUIDv7 prefix of the batch's event ids), `lock` (advisory-lock key),
    `doc` (the JSON document), `org` (organization id), `now`. Text comparisons and sorts use
    the "C" collation (byte order: same total order, no locale work); the insert order is what
    prevents deadlocks between concurrent batches, so every batch uses the same one."""
    global _PG_INGEST_SQL
    if _PG_INGEST_SQL is not None:
        return _PG_INGEST_SQL
    event_table = Event._meta.db_table
    from metering.models import UsageRollup

    rollup_table = UsageRollup._meta.db_table
    t = rollup_table
    _PG_INGEST_SQL = (
        "WITH lock AS MATERIALIZED (SELECT pg_advisory_xact_lock_shared(%(lock)s) AS l), "  # noqa: S608 - identifiers are constants, values are parameters
        "src AS MATERIALIZED (SELECT x.* FROM lock, jsonb_to_recordset(%(doc)s::jsonb) AS x(t text, s text, c text, "
        "k text, ts timestamptz, p jsonb, pa numeric, v numeric, sid uuid, cid uuid, r boolean, dk text, d jsonb)), "
        f"ins AS (INSERT INTO {event_table} ({', '.join(_EVENT_COLUMNS)}) "
        "SELECT (%(idp)s || substr(gen_random_uuid()::text, 16))::uuid, %(org)s, src.t, src.s, coalesce(src.c, ''), src.k, src.ts, src.p, src.pa, src.v, "
        "src.sid, src.cid, %(now)s, %(now)s "
        'FROM src ORDER BY src.s COLLATE "C", src.t COLLATE "C" '
        "ON CONFLICT (organization_id, external_subscription_id, transaction_id) DO NOTHING "
        "RETURNING id, external_subscription_id, transaction_id), "
        f"roll AS (INSERT INTO {rollup_table} (id, organization_id, external_subscription_id, code, hour, "
        "dimensions_key, dimensions, events_count, value_sum, value_max, precise_sum, created_at, updated_at) "
        "SELECT gen_random_uuid(), %(org)s, g.s, g.k, g.h, g.dk, g.d, g.n, g.vs, g.vm, g.ps, %(now)s, %(now)s FROM ("
        "SELECT src.s, src.k, date_trunc('hour', src.ts AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS h, "
        "coalesce(src.dk, '{}') AS dk, coalesce(min(src.d::text)::jsonb, '{}') AS d, count(*) AS n, "
        "coalesce(sum(src.v), 0) AS vs, max(src.v) AS vm, coalesce(sum(src.pa), 0) AS ps "
        "FROM ins JOIN src ON src.s = ins.external_subscription_id AND src.t = ins.transaction_id "
        'WHERE src.r GROUP BY src.s, src.k, 3, src.dk ORDER BY src.s COLLATE "C", src.k COLLATE "C", 3, src.dk COLLATE "C") AS g '
        "ON CONFLICT (organization_id, external_subscription_id, code, hour, dimensions_key) DO UPDATE SET "
        f"events_count = {t}.events_count + excluded.events_count, "
        f"value_sum = {t}.value_sum + excluded.value_sum, "
        f"precise_sum = {t}.precise_sum + excluded.precise_sum, "
        f"value_max = CASE WHEN {t}.value_max IS NULL THEN excluded.value_max "
        f"WHEN excluded.value_max IS NULL THEN {t}.value_max "
        f"WHEN excluded.value_max > {t}.value_max THEN excluded.value_max ELSE {t}.value_max END, "
        "updated_at = excluded.updated_at) "
        "SELECT id::text, external_subscription_id, transaction_id FROM ins"
    )
    return _PG_INGEST_SQL


_ASYNC_LOCK = "SELECT pg_advisory_xact_lock_shared(%(lock)s) AS l, set_config('synchronous_commit', 'off', true) AS sc)"
_PG_INGEST_SQL_ASYNC: str | None = None


def _pg_ingest_sql_async() -> str:
    """The same statement for `durable=False` (EVENTS_SYNCHRONOUS_COMMIT=false): it also sets
    synchronous_commit off *locally*, for the implicit transaction of this one statement, so its
    commit does not wait for the WAL flush, without BEGIN / SET LOCAL / COMMIT round trips and
    without touching the session (the next statement on the connection is durable again)."""
    global _PG_INGEST_SQL_ASYNC
    if _PG_INGEST_SQL_ASYNC is None:
        durable_sql = _pg_ingest_sql()
        lock = "SELECT pg_advisory_xact_lock_shared(%(lock)s) AS l)"
        assert durable_sql.count(lock) == 1
        _PG_INGEST_SQL_ASYNC = durable_sql.replace(lock, _ASYNC_LOCK)
    return _PG_INGEST_SQL_ASYNC


_PREPARED_CURSOR: Any = None


def _prepared_cursor_class() -> Any:
    """A psycopg cursor that binds parameters on the server and prepares its statements (the
    class is made once; psycopg is imported only where PostgreSQL is used)."""
    global _PREPARED_CURSOR
    if _PREPARED_CURSOR is None:
        from django.db.backends.postgresql.base import ServerBindingCursor

        class PreparedCursor(ServerBindingCursor):
            def execute(
                self, query: Any, params: Any = None, *, prepare: bool | None = None, binary: Any = None
            ) -> Any:
                return super().execute(query, params, prepare=True if prepare is None else prepare, binary=binary)

        _PREPARED_CURSOR = PreparedCursor
    return _PREPARED_CURSOR


@contextmanager
def _server_side_cursor() -> Any:
    """A Django cursor (query logging and execute wrappers apply) over a psycopg cursor that binds
    parameters on the server and prepares its statements: the JSON document travels as a
    parameter instead of being quoted into the SQL text, and PostgreSQL plans the ingestion
    statement once per connection instead of once per batch. (Django turns psycopg's automatic
    preparation off for poolers; this one statement is prepared explicitly: a pooler in
    transaction mode needs PgBouncer >= 1.21 with `max_prepared_statements`.)"""
    connection.ensure_connection()
    connection.validate_thread_sharing()
    raw = _prepared_cursor_class()(connection.connection)
    try:
        yield connection.make_debug_cursor(raw) if connection.queries_logged else connection.make_cursor(raw)
    finally:
        raw.close()


def insert_events(
    organization_id: uuid.UUID,
    events: list[ParsedEvent],
    now: datetime,
    ids: Mapping[str, tuple[str, str]] | None = None,
    *,
    durable: bool = True,
) -> set[tuple[str, str]]:
    """Insert events, skipping those whose idempotency key exists; returns the inserted keys and
    sets the `id` of the inserted events.

    PostgreSQL: ONE statement whatever the batch size (`_pg_ingest_sql`): the rows travel as one
    JSON document (`jsonb_to_recordset`), ids are time-ordered UUIDv7 (`time_ordered_id_prefix`
    + random bits from `gen_random_uuid()`), and the rollups of the
    inserted rows are updated by the same statement. Rows are written in idempotency-key order so
    two concurrent batches that share keys lock them in the same order (no deadlock): the second
    waits, then skips the duplicates. Elsewhere (SQLite) rows are inserted in chunks and the
    caller updates the rollups with `upsert_rollups`. `ids` gives the text form of the subscription
    and customer ids by external subscription id (default: from the events themselves).
    """
    if not events:
        return set()
    ordered = sorted(events, key=_event_key)
    table = Event._meta.db_table
    conflict = (
        "ON CONFLICT (organization_id, external_subscription_id, transaction_id) DO NOTHING "
        "RETURNING id, external_subscription_id, transaction_id"
    )
    by_key = {e.key: e for e in ordered}
    inserted: set[tuple[str, str]] = set()
    if connection.vendor == "postgresql":
        if ids is None:
            ids = {
                e.external_subscription_id: (str(e.subscription_id), str(e.customer_id))
                for e in ordered
                if e.subscription_id is not None
            }
        params = {
            "idp": time_ordered_id_prefix(),
            "lock": lock_key(organization_id),
            "doc": _pg_document(ordered, ids),
            "org": organization_id,
            "now": now,
        }
        with _server_side_cursor() as cursor:
            cursor.execute(_pg_ingest_sql() if durable else _pg_ingest_sql_async(), params)
            for event_id, sub, txn in cursor.fetchall():
                key = (sub, txn)
                by_key[key].id = event_id
                inserted.add(key)
        for event in ordered:
            if event.id is not None and (event.external_subscription_id, event.transaction_id) not in inserted:
                event.id = None
        return inserted
    else:
        with connection.cursor() as cursor:
            by_column = {f.column: f for f in Event._meta.concrete_fields}
            fields = [by_column[name] for name in _EVENT_COLUMNS]
            placeholders = "(" + ", ".join(["%s"] * len(_EVENT_COLUMNS)) + ")"
            for start in range(0, len(ordered), 500):
                chunk = ordered[start : start + 500]
                values: list[Any] = []
                for event in chunk:
                    event.id = uuid.uuid4()
                    row = _event_values(organization_id, event, now)
                    for model_field, value in zip(fields, row, strict=True):
                        if model_field.name == "properties":
                            values.append(value)
                        else:
                            values.append(model_field.get_db_prep_save(value, connection))
                sql = (
                    f"INSERT INTO {table} ({', '.join(_EVENT_COLUMNS)}) VALUES "  # noqa: S608 - identifiers are constants, values are parameters
                    + ", ".join([placeholders] * len(chunk))
                    + f" {conflict}"
                )
                cursor.execute(sql, values)
                for _, sub, txn in cursor.fetchall():
                    inserted.add((sub, txn))
    for event in ordered:
        if event.key not in inserted:
            event.id = None
    return inserted


@dataclass
class RollupDelta:
    events_count: int = 0
    value_sum: Decimal = Decimal(0)
    value_max: Decimal | None = None
    precise_sum: Decimal = Decimal(0)


def rollup_deltas(events: Iterable[ParsedEvent]) -> dict[tuple[str, str, datetime, str], tuple[dict, RollupDelta]]:
    deltas: dict[tuple[str, str, datetime, str], tuple[dict, RollupDelta]] = {}
    for event in events:
        if not event.metric_known:
            continue
        dims_key = dimensions_key(event.dimensions)
        key = (event.external_subscription_id, event.code, truncate_hour(event.timestamp), dims_key)
        entry = deltas.get(key)
        if entry is None:
            entry = deltas[key] = (event.dimensions, RollupDelta())
        delta = entry[1]
        delta.events_count += 1
        if event.precise_total_amount_cents is not None:
            delta.precise_sum += event.precise_total_amount_cents
        if event.value is not None:
            delta.value_sum += event.value
            if delta.value_max is None or event.value > delta.value_max:
                delta.value_max = event.value
    return deltas


def upsert_rollups(
    organization_id: uuid.UUID,
    deltas: Mapping[tuple[str, str, datetime, str], tuple[dict, RollupDelta]],
    now: datetime,
) -> None:
    """Add deltas to the hourly rollups (insert or increment), in key order to avoid deadlocks."""
    if not deltas:
        return
    from metering.models import UsageRollup

    table = UsageRollup._meta.db_table
    columns = [
        "id",
        "organization_id",
        "external_subscription_id",
        "code",
        "hour",
        "dimensions_key",
        "dimensions",
        "events_count",
        "value_sum",
        "value_max",
        "precise_sum",
        "created_at",
        "updated_at",
    ]
    t = table
    update = (
        f"ON CONFLICT (organization_id, external_subscription_id, code, hour, dimensions_key) DO UPDATE SET "
        f"events_count = {t}.events_count + excluded.events_count, "
        f"value_sum = {t}.value_sum + excluded.value_sum, "
        f"precise_sum = {t}.precise_sum + excluded.precise_sum, "
        f"value_max = CASE WHEN {t}.value_max IS NULL THEN excluded.value_max "
        f"WHEN excluded.value_max IS NULL THEN {t}.value_max "
        f"WHEN excluded.value_max > {t}.value_max THEN excluded.value_max ELSE {t}.value_max END, "
        f"updated_at = excluded.updated_at"
    )
    keys = sorted(deltas)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
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
                    }
                    for (sub, code, hour, dims_key) in keys
                    for d in [deltas[(sub, code, hour, dims_key)][1]]
                ]
            )
            sql = (
                f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608 - identifiers are constants, values are parameters
                "SELECT gen_random_uuid(), %s, x.s, x.k, x.h, x.dk, x.d, x.n, x.vs, x.vm, x.ps, %s, %s "
                "FROM json_to_recordset(%s::json) AS x(s text, k text, h timestamptz, dk text, d jsonb, n bigint, "
                "vs numeric, vm numeric, ps numeric) " + update
            )
            cursor.execute(sql, [organization_id, now, now, document])
        else:
            model_fields = {f.column: f for f in UsageRollup._meta.concrete_fields}
            placeholders = "(" + ", ".join(["%s"] * len(columns)) + ")"
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                params: list[Any] = []
                for key in chunk:
                    sub, code, hour, dims_key = key
                    dims, d = deltas[key]
                    row = [
                        uuid.uuid4(),
                        organization_id,
                        sub,
                        code,
                        hour,
                        dims_key,
                        dumps(dims),
                        d.events_count,
                        d.value_sum,
                        d.value_max,
                        d.precise_sum,
                        now,
                        now,
                    ]
                    for column, value in zip(columns, row, strict=True):
                        if column == "dimensions":
                            params.append(value)
                        else:
                            params.append(model_fields[column].get_db_prep_save(value, connection))
                sql = (
                    f"INSERT INTO {table} ({', '.join(columns)}) VALUES "  # noqa: S608 - identifiers are constants, values are parameters
                    + ", ".join([placeholders] * len(chunk))
                    + " "
                    + update
                )
                cursor.execute(sql, params)


def now_utc() -> datetime:
    return timezone.now()


__all__ = [
    "EventErrorCode",
    "ParsedEvent",
    "dimension_value",
    "dimensions_key",
    "dumps",
    "insert_events",
    "now_utc",
    "parse_decimal_value",
    "parse_event",
    "parse_timestamp",
    "rollup_deltas",
    "storable",
    "truncate_hour",
    "upsert_rollups",
]
