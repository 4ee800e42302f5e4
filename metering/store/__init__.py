"""Event storage behind one interface (`EventStore`), chosen here and nowhere else.

- `event_store()`: the Django database's store, the source of truth, by the database's engine:
  PostgreSQL (`metering/store/postgres.py`, one statement per write) or SQLite, the embedded
  default (`metering/store/sqlite.py`). It writes events and their hourly rollups.
- ClickHouse (`metering/clickhouse/store.py`, `CLICKHOUSE_URL`) holds a copy: written from the
  outbox and by the backfill, read by aggregation when `reader_for` says so.

Parsing and validating payloads is `metering.ingestion` (no SQL); the service that ties both is
`metering.services.events_ingest`. docs/metering.md describes the stores.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.utils.module_loading import import_string

from metering.store.base import (
    Additive,
    DatabaseEventStore,
    EventReader,
    EventStore,
    RollupDelta,
    Written,
    rollup_deltas,
)

if TYPE_CHECKING:
    from customers.models import Organization

# The Django database's engine (`connection.vendor`) -> its store.
IMPLEMENTATIONS = {
    "postgresql": "metering.store.postgres.PostgresEventStore",
    "sqlite": "metering.store.sqlite.SqliteEventStore",
}
_STORES: dict[str, DatabaseEventStore] = {}


def event_store() -> DatabaseEventStore:
    """The store of the Django database (imported on first use: psycopg only where it runs)."""
    vendor = connections[DEFAULT_DB_ALIAS].vendor  # `connection.vendor`, without the proxy's failed lookup
    store = _STORES.get(vendor)
    if store is None:
        path = IMPLEMENTATIONS.get(vendor)
        if path is None:
            raise NotImplementedError(f"no event store for the {vendor} database")
        store = _STORES[vendor] = import_string(path)()
    return store


def reader_for(
    organization: Organization, external_subscription_id: str, code: str, store: str | None, *, reads_from: datetime
) -> EventReader:
    """Where aggregation reads events dated from `reads_from`: `store="clickhouse"` forces ClickHouse,
    `"postgres"` the database; None: ClickHouse for an organization whose store of record it is
    (`Organization.events_store`), else ClickHouse when configured and it holds every event read
    (`metering.clickhouse.backfill.readable`), else the database."""
    if store is None and getattr(organization, "events_store", None) == "clickhouse":
        store = "clickhouse"
    if store == "clickhouse" or (store is None and settings.CLICKHOUSE_URL):
        from metering.clickhouse.backfill import readable
        from metering.clickhouse.store import ClickHouseEventStore

        if store == "clickhouse" or readable(organization, reads_from=reads_from):
            return ClickHouseEventStore().reader(organization, external_subscription_id, code)
    return event_store().reader(organization, external_subscription_id, code)


__all__ = [
    "Additive",
    "DatabaseEventStore",
    "EventReader",
    "EventStore",
    "RollupDelta",
    "Written",
    "event_store",
    "reader_for",
    "rollup_deltas",
]
