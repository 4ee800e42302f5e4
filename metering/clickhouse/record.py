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
3. The new events go to ClickHouse in one INSERT (ReplacingMergeTree ordered by the key).
4. Commit. If ClickHouse refuses, the transaction rolls back (no key kept) and the client retries;
   if the commit fails after ClickHouse accepted, the retry writes the same row again and
   ClickHouse keeps one (the reads use FINAL, so merges not yet done change nothing).

Why a key table in PostgreSQL rather than ClickHouse alone: ClickHouse cannot say "inserted or
already there" atomically, so two concurrent requests with the same transaction id would both
believe they stored it (both answered as new, both billed in advance). The key table is the
smallest exact arbiter: three short columns, one index, no rollups (docs/metering.md).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db import connection

from metering.clickhouse.store import ClickHouseEventStore
from metering.ingestion import ParsedEvent
from metering.models import EventKey
from metering.store.base import SubscriptionRefs, Written

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
        "RETURNING external_subscription_id, transaction_id"
    )


def keys_claim(organization_id: Any, events: Sequence[ParsedEvent]) -> set[tuple[str, str]]:
    """Insert the events' idempotency keys; returns the (subscription, transaction) keys inserted."""
    if not events:
        return set()
    if connection.vendor != "postgresql":
        raise NotImplementedError("the ClickHouse events store needs PostgreSQL for its idempotency keys")
    with connection.cursor() as cursor:
        cursor.execute(
            _claim_sql(),
            [organization_id, [e.transaction_id for e in events], [e.external_subscription_id for e in events]],
        )
        return {(sub, txn) for sub, txn in cursor.fetchall()}


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


class ClickHouseRecordStore:
    """The `EventStore` of an organization whose events live in ClickHouse; `write` runs inside the
    caller's transaction (`metering.services.events_ingest`)."""

    name = CLICKHOUSE

    def write(
        self,
        organization_id: uuid.UUID,
        events: Sequence[ParsedEvent],
        *,
        now: datetime,
        refs: SubscriptionRefs | None = None,
        durable: bool = True,
    ) -> Written:
        from metering.store import event_store

        claimed = keys_claim(organization_id, events)
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
        ClickHouseEventStore().write(organization_id, new, now=now)
        return Written()

    def reader(self, organization: Any, external_subscription_id: str, code: str) -> Any:
        return ClickHouseEventStore().reader(organization, external_subscription_id, code)
