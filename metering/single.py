"""One event, one statement with plain parameters: the write of `POST /api/v1/events` on PostgreSQL.

`ingestion.insert_events` sends any batch as one JSON document expanded by `jsonb_to_recordset`,
sorted, grouped and joined back for the rollups: the right shape for 1,000 events, but for one
event that machinery is most of PostgreSQL's CPU (measured on the same table: ~0.63 ms of backend
CPU per event through the recordset statement, ~0.33 ms through this one). The statement here
does the same writes for a single event:

* takes the organization's shared advisory lock (rollup rebuilds take it exclusively);
* inserts the event with `ON CONFLICT (organization, external_subscription_id, transaction_id)
  DO NOTHING` (a duplicate returns no row), with the same time-ordered id as the batch path;
* adds it to its hourly rollup (count, value sum and max, precise sum) when its metric is known,
  in the same statement, so rollups never miss or double count it;
* with `durable=False` (EVENTS_SYNCHRONOUS_COMMIT=false) also sets synchronous_commit off for its
  own implicit transaction (see `ingestion._pg_ingest_sql_async`);
* answers, in the same round trip, whether the organization has live pay-in-advance charges:
  invoicing must know it after every ingestion to bill their instant fees, a per-process cache
  of it could skip fees (a charge created in another process), and a query of its own would make
  this request two statements instead of one.

It must only run in autocommit (the caller checks): the statement is its own transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime

from catalog.models import Charge
from metering import ingestion
from metering.ingestion import ParsedEvent
from metering.models import Event, UsageRollup

_SQL: dict[bool, str] = {}


def _sql(durable: bool) -> str:
    cached = _SQL.get(durable)
    if cached is not None:
        return cached
    event_table, t, charges = Event._meta.db_table, UsageRollup._meta.db_table, Charge._meta.db_table
    lock = "SELECT pg_advisory_xact_lock_shared(%(lock)s) AS l"
    if not durable:
        lock += ", set_config('synchronous_commit', 'off', true) AS sc"
    sql = (
        f"WITH lock AS MATERIALIZED ({lock}), "  # noqa: S608 - identifiers are constants, values are parameters
        f"ins AS (INSERT INTO {event_table} ({', '.join(ingestion._EVENT_COLUMNS)}) "
        "SELECT (%(idp)s || substr(gen_random_uuid()::text, 16))::uuid, %(org)s, %(t)s, %(s)s, %(c)s, %(k)s, "
        "%(ts)s::timestamptz, %(p)s::jsonb, %(pa)s::numeric, %(v)s::numeric, %(sid)s::uuid, %(cid)s::uuid, "
        "%(now)s, %(now)s FROM lock "
        "ON CONFLICT (organization_id, external_subscription_id, transaction_id) DO NOTHING RETURNING id), "
        f"roll AS (INSERT INTO {t} (id, organization_id, external_subscription_id, code, hour, dimensions_key, "
        "dimensions, events_count, value_sum, value_max, precise_sum, created_at, updated_at) "
        "SELECT gen_random_uuid(), %(org)s, %(s)s, %(k)s, "
        "date_trunc('hour', %(ts)s::timestamptz AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', %(dk)s, %(d)s::jsonb, 1, "
        "coalesce(%(v)s::numeric, 0), %(v)s::numeric, coalesce(%(pa)s::numeric, 0), %(now)s, %(now)s "
        "FROM ins WHERE %(r)s::boolean "
        "ON CONFLICT (organization_id, external_subscription_id, code, hour, dimensions_key) DO UPDATE SET "
        f"events_count = {t}.events_count + excluded.events_count, "
        f"value_sum = {t}.value_sum + excluded.value_sum, "
        f"precise_sum = {t}.precise_sum + excluded.precise_sum, "
        f"value_max = CASE WHEN {t}.value_max IS NULL THEN excluded.value_max "
        f"WHEN excluded.value_max IS NULL THEN {t}.value_max "
        f"WHEN excluded.value_max > {t}.value_max THEN excluded.value_max ELSE {t}.value_max END, "
        "updated_at = excluded.updated_at) "
        f"SELECT id::text, EXISTS (SELECT 1 FROM {charges} WHERE organization_id = %(org)s "
        "AND pay_in_advance AND deleted_at IS NULL) FROM ins"
    )
    _SQL[durable] = sql
    return sql


def insert_one(
    organization_id: uuid.UUID,
    event: ParsedEvent,
    now: datetime,
    ids: Mapping[str, tuple[str, str]],
    *,
    durable: bool = True,
) -> bool | None:
    """Insert one event unless its idempotency key exists; sets `event.id` when inserted (None
    otherwise). Returns whether the organization has live pay-in-advance charges (None for a
    duplicate: nothing was stored, nothing to bill)."""
    refs = ids.get(event.external_subscription_id)
    params = {
        "idp": ingestion.time_ordered_id_prefix(),
        "lock": ingestion.lock_key(organization_id),
        "org": organization_id,
        "t": event.transaction_id,
        "s": event.external_subscription_id,
        "c": event.external_customer_id or "",
        "k": event.code,
        "ts": event.timestamp,
        "p": ingestion.dumps_bytes(event.properties).decode(),
        "pa": event.precise_total_amount_cents,
        "v": event.value,
        "sid": refs[0] if refs else None,
        "cid": refs[1] if refs else None,
        "r": event.metric_known,
        "dk": ingestion.dimensions_key(event.dimensions) if event.metric_known and event.dimensions else "{}",
        "d": ingestion.dumps(event.dimensions) if event.metric_known and event.dimensions else "{}",
        "now": now,
    }
    with ingestion._server_side_cursor() as cursor:
        cursor.execute(_sql(durable), params)
        row = cursor.fetchone()
    event.id = row[0] if row else None
    return bool(row[1]) if row else None
