"""ClickHouse as the store of record (an organization whose `events_store` is "clickhouse").

Ingestion writes such an organization's events to ClickHouse only, one INSERT per request (the
request's batch), inside a PostgreSQL transaction that first claims the events' idempotency keys:

1. `INSERT INTO metering_eventkey ... ON CONFLICT DO NOTHING RETURNING` (in key order, so two
   concurrent batches cannot deadlock): the keys returned are the events stored now; the others
   are duplicates. A concurrent request holding the same key waits for this one to commit or roll
   back, so exactly one request stores an event.
2. The events PostgreSQL still needs are written to it as well, through the PostgreSQL store: those
   of a metric with a live pay-in-advance charge (the in-advance path prices each event from the
   `metering_event` rows of its window) and those with an ingestion error (`EventError` rows point
   to them). Everything else exists only in ClickHouse.
3. The new events go to ClickHouse in one INSERT (ReplacingMergeTree ordered by the key), tagged
   with the PostgreSQL transaction id (`txid_current()`, returned by the claim); materialized
   views fold them into the pre-aggregated states that aggregation reads
   (`metering.clickhouse.state`).
4. Commit. If ClickHouse refuses, the transaction rolls back (no key kept) and the client retries;
   if the commit fails after ClickHouse accepted (or the process dies), the rows stay in ClickHouse
   under a transaction that never committed: reads leave them out (PostgreSQL's `txid_status`,
   then the orphans recorded by `clickhouse_settle`), and the retry writes the event again under
   its own transaction.

Why a key table in PostgreSQL rather than ClickHouse alone: ClickHouse cannot say "inserted or
already there" atomically, so two concurrent requests with the same transaction id would both
believe they stored it (both answered as new, both billed in advance). The key table is the
smallest exact arbiter: three short columns, one index, no rollups (docs/metering.md).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.db import connection

from billing_project.core.errors import UnavailableFailure
from metering.clickhouse import store
from metering.clickhouse.store import ClickHouseEventStore
from metering.ingestion import ParsedEvent
from metering.models import EventKey
from metering.store.base import EventListFilters, EventStore, SubscriptionRefs, Written

logger = logging.getLogger(__name__)

CLICKHOUSE = "clickhouse"


def in_clickhouse(organization: Any) -> bool:
    """Whether ClickHouse is the store of record of `organization`'s events."""
    return getattr(organization, "events_store", None) == CLICKHOUSE


def _claim_sql() -> str:
    table = EventKey._meta.db_table
    return (
        f"INSERT INTO {table} (organization_id, transaction_id, external_subscription_id) "  # noqa: S608 - constant table
        "SELECT %s, x.t, x.s FROM unnest(%s::text[], %s::text[]) AS x(t, s) "
        'ORDER BY x.s COLLATE "C", x.t COLLATE "C" ON CONFLICT DO NOTHING '
        "RETURNING external_subscription_id, transaction_id, txid_current()"
    )


def keys_claim(organization_id: Any, events: Sequence[ParsedEvent]) -> tuple[set[tuple[str, str]], int]:
    """Insert the events' idempotency keys; returns the (subscription, transaction) keys inserted
    and the PostgreSQL transaction that holds them (0 when none was inserted)."""
    if not events:
        return set(), 0
    if connection.vendor != "postgresql":
        raise NotImplementedError("the ClickHouse events store needs PostgreSQL for its idempotency keys")
    with connection.cursor() as cursor:
        cursor.execute(
            _claim_sql(),
            [organization_id, [e.transaction_id for e in events], [e.external_subscription_id for e in events]],
        )
        rows = cursor.fetchall()
    return {(sub, txn) for sub, txn, _ in rows}, (int(rows[0][2]) if rows else 0)


def advance_codes(organization_id: Any, codes: set[str]) -> set[str]:
    """The codes among `codes` of a metric with a live pay-in-advance charge (one query)."""
    from catalog.models import Charge

    if not codes:
        return set()
    return set(
        Charge.objects.filter(
            organization_id=organization_id,
            pay_in_advance=True,
            deleted_at__isnull=True,
            billable_metric__code__in=codes,
            billable_metric__deleted_at__isnull=True,
        )
        .values_list("billable_metric__code", flat=True)
        .distinct()
    )


def new_event_id() -> uuid.UUID:
    """A time-ordered id (UUIDv7 layout, as the PostgreSQL store's)."""
    from metering.store.postgres import time_ordered_id_prefix

    return uuid.UUID(time_ordered_id_prefix() + str(uuid.uuid4())[15:])


class ClickHouseRecordStore(EventStore):
    """The `EventStore` of an organization whose events live in ClickHouse; `write` runs inside the
    caller's transaction (`metering.services.events_ingest`)."""

    name = CLICKHOUSE

    def _write(
        self, organization_id: UUID, events: Sequence[ParsedEvent], now: datetime, refs: SubscriptionRefs, durable: bool
    ) -> Written:
        from metering.store import event_store

        claimed, xid = keys_claim(organization_id, events)
        new = [e for e in events if e.key in claimed]
        for event in events:
            event.id = None
        if not new:
            return Written()
        advance = advance_codes(organization_id, {e.code for e in new if e.metric_known})
        in_postgres = [e for e in new if e.errors or e.code in advance]
        if in_postgres:
            event_store().write(organization_id, in_postgres, now=now, refs=refs, durable=durable)
        for event in new:
            if event.id is None:
                event.id = new_event_id()
        try:
            ClickHouseEventStore().write(organization_id, new, now=now, xid=xid)
        except Exception as exc:
            # The caller's transaction rolls back (no key kept): the client sends the batch again.
            store.forget_clients()
            logger.warning("ClickHouse refused an ingestion insert", exc_info=True)
            raise UnavailableFailure("events_store_unavailable") from exc
        return Written()

    def reader(self, organization: Any, external_subscription_id: str, code: str) -> Any:
        return ClickHouseEventStore().reader(organization, external_subscription_id, code)


# --- reading events back (the events API) -------------------------------------------------------


@dataclass(frozen=True)
class StoredEvent:
    """An event read from ClickHouse, with the attributes the events API renders (as `Event`'s)."""

    id: str
    transaction_id: str
    external_subscription_id: str
    external_customer_id: str
    code: str
    timestamp: datetime
    properties: dict[str, Any]
    precise_total_amount_cents: Decimal | None
    subscription_id: str | None
    customer_id: str | None
    created_at: datetime


_EVENT_COLUMNS = (
    "id, transaction_id, external_subscription_id, external_customer_id, code, ts_us, properties, precise, "
    "subscription_id, customer_id, created_us"
)


def _stored(row: Sequence[Any]) -> StoredEvent:
    event_id, txn, sub, customer, code, ts_us, properties, precise, sid, cid, created_us = row
    return StoredEvent(
        id=event_id,
        transaction_id=txn,
        external_subscription_id=sub,
        external_customer_id=customer,
        code=code,
        timestamp=store.moment(ts_us),
        properties=json.loads(properties or "{}"),
        precise_total_amount_cents=precise,
        subscription_id=sid or None,
        customer_id=cid or None,
        created_at=store.moment(created_us),
    )


def event_get(organization: Any, transaction_id: str, *, external_subscription_id: str | None) -> StoredEvent | None:
    """The newest event of this transaction id (of one subscription, if given): its keys in
    PostgreSQL name the subscriptions, so ClickHouse reads by its sorting key's prefix."""
    subs = EventKey.objects.filter(organization_id=organization.id, transaction_id=transaction_id)
    if external_subscription_id:
        subs = subs.filter(external_subscription_id=external_subscription_id)
    names = list(subs.values_list("external_subscription_id", flat=True))
    if not names:
        return None
    rows = store.client(write=True).execute(
        f"SELECT {_EVENT_COLUMNS} FROM {store.TABLE} FINAL WHERE organization_id = %(org)s "  # noqa: S608 - constant table, parameters bound by the driver
        "AND external_subscription_id IN %(subs)s AND transaction_id = %(t)s ORDER BY created_us DESC LIMIT 1",
        {"org": str(organization.id), "subs": tuple(names), "t": transaction_id},
    )
    return _stored(rows[0]) if rows else None


def _list_where(organization: Any, filters: EventListFilters) -> tuple[str, dict[str, Any]]:
    clause = "organization_id = %(org)s"
    params: dict[str, Any] = {"org": str(organization.id)}
    if filters.code:
        clause += " AND code = %(code)s"
        params["code"] = filters.code
    if filters.external_subscription_id:
        clause += " AND external_subscription_id = %(sub)s"
        params["sub"] = filters.external_subscription_id
    if filters.timestamp_from:
        clause += " AND ts_us >= %(start)s"
        params["start"] = store.micros(filters.timestamp_from)
    if filters.timestamp_to:
        clause += " AND ts_us <= %(end)s"
        params["end"] = store.micros(filters.timestamp_to)
    return clause, params


def _latest_write(clause: str) -> str:
    """The events matching `clause`, one per idempotency key: the latest write (a retry after a
    failed commit is a second row, under another transaction: `store.ADD_XID`)."""
    return (
        f"SELECT {_EVENT_COLUMNS} FROM {store.TABLE} FINAL WHERE {clause} "  # noqa: S608 - constant table
        "ORDER BY created_us DESC LIMIT 1 BY external_subscription_id, transaction_id"
    )


def event_list_slice(organization: Any, filters: EventListFilters, *, offset: int, limit: int) -> list[StoredEvent]:
    """Events newest first (timestamp, then id), `limit` of them from `offset`."""
    clause, params = _list_where(organization, filters)
    rows = store.client(write=True).execute(
        f"SELECT {_EVENT_COLUMNS} FROM ({_latest_write(clause)}) "  # noqa: S608 - constant table, parameters bound by the driver
        "ORDER BY ts_us DESC, id LIMIT %(offset)s, %(limit)s",
        {**params, "offset": offset, "limit": limit},
    )
    return [_stored(row) for row in rows]


def event_list_count(organization: Any, filters: EventListFilters, *, up_to: int) -> int:
    """How many events match, counted up to `up_to`."""
    clause, params = _list_where(organization, filters)
    [(count,)] = store.client(write=True).execute(
        f"SELECT count() FROM (SELECT 1 FROM ({_latest_write(clause)}) LIMIT %(up_to)s)",  # noqa: S608 - constant table, parameters bound by the driver
        {**params, "up_to": up_to},
    )
    return int(count)
