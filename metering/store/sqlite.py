"""The SQLite event store (the embedded default of `./dev run` and the tests without DATABASE_URL).

Events are inserted in chunks of multi-row `INSERT ... ON CONFLICT DO NOTHING RETURNING`, then the
rollups of the inserted ones are upserted, in the caller's transaction (`one_statement = False`).
SQLite serializes writers, so the rollup lock has nothing to add.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from django.db import connection
from django.db.models import Model

from metering.ingestion import ParsedEvent, dumps
from metering.models import Event, UsageRollup
from metering.store import base  # the SQL the database stores share
from metering.store.base import DatabaseEventStore, Written, event_key, rollup_deltas
from metering.store.database import DatabaseReader

if TYPE_CHECKING:
    from customers.models import Organization
    from metering.store.base import Deltas, RollupKey, SubscriptionRefs

CHUNK = 500


def _insert(model: type[Model], columns: list[str], rows: list[list[Any]], json_column: str, tail: str) -> list[Any]:
    """Multi-row INSERTs of `rows` (values in `columns` order) into `model`'s table, CHUNK rows a
    statement ending with `tail`; each value is prepared for the database by its model field, but
    `json_column`'s, which is JSON text already. Returns the rows the statements return."""
    by_column = {f.column: f for f in model._meta.concrete_fields}
    fields = [by_column[name] for name in columns]
    placeholders = "(" + ", ".join(["%s"] * len(columns)) + ")"
    returned: list[Any] = []
    with connection.cursor() as cursor:
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start : start + CHUNK]
            params = [
                value if field.column == json_column else field.get_db_prep_save(value, connection)
                for row in chunk
                for field, value in zip(fields, row, strict=True)
            ]
            sql = (
                f"INSERT INTO {model._meta.db_table} ({', '.join(columns)}) VALUES "  # noqa: S608 - identifiers are constants, values are parameters
                + ", ".join([placeholders] * len(chunk))
                + f" {tail}"
            )
            cursor.execute(sql, params)
            if cursor.description is not None:
                returned.extend(cursor.fetchall())
    return returned


class SqliteEventStore(DatabaseEventStore):
    """`write`'s `refs` and `durable` change nothing here: the ids come from the events, and SQLite
    has no asynchronous commit."""

    name = "sqlite"
    one_statement = False

    def _write(
        self, organization_id: UUID, events: Sequence[ParsedEvent], now: datetime, refs: SubscriptionRefs, durable: bool
    ) -> Written:
        ordered = sorted(events, key=event_key)
        rows = []
        for event in ordered:
            event.id = uuid.uuid4()
            rows.append(
                [
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
            )
        tail = f"{base.EVENT_CONFLICT} RETURNING id, external_subscription_id, transaction_id"
        inserted = {(sub, txn) for _, sub, txn in _insert(Event, base.EVENT_COLUMNS, rows, "properties", tail)}
        for event in ordered:
            if event.key not in inserted:
                event.id = None
        self.add_rollups(organization_id, rollup_deltas(e for e in ordered if e.id is not None), now)
        return Written()

    def relax_commit(self) -> None:
        return None

    def lock_rollups(self, organization_id: UUID | str, *, exclusive: bool) -> None:
        return None

    def _add_rollups(self, organization_id: UUID | str, deltas: Deltas, keys: list[RollupKey], now: datetime) -> None:
        rows = []
        for key in keys:
            sub, code, hour, dims_key = key
            dims, d = deltas[key]
            rows.append(
                [
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
                    d.value_time_sum,
                    now,
                    now,
                ]
            )
        _insert(UsageRollup, base.ROLLUP_COLUMNS, rows, "dimensions", base.rollup_conflict(UsageRollup._meta.db_table))

    def unique_state_rebuild(
        self, organization_id: UUID | str, fields: Mapping[str, str | None], external_subscription_id: str | None
    ) -> int:
        """SQLite keeps no unique-count state (its reader counts raw events)."""
        return 0

    def reader(self, organization: Organization, external_subscription_id: str, code: str) -> DatabaseReader:
        return DatabaseReader(organization, external_subscription_id, code)
