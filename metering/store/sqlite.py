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

from django.db import connection

from metering.ingestion import ParsedEvent, dumps
from metering.models import Event, UsageRollup
from metering.store.base import (
    EVENT_COLUMNS,
    EVENT_CONFLICT,
    ROLLUP_COLUMNS,
    RollupDelta,
    RollupKey,
    SubscriptionRefs,
    Written,
    event_key,
    rollup_conflict,
    rollup_deltas,
)
from metering.store.database import DatabaseReader

if TYPE_CHECKING:
    from customers.models import Organization

CHUNK = 500


class SqliteEventStore:
    name = "sqlite"
    one_statement = False

    def write(
        self,
        organization_id: uuid.UUID,
        events: Sequence[ParsedEvent],
        *,
        now: datetime,
        refs: SubscriptionRefs | None = None,
        durable: bool = True,
    ) -> Written:
        """`refs` and `durable` change nothing here: the ids come from the events, and SQLite has
        no asynchronous commit."""
        if not events:
            return Written()
        ordered = sorted(events, key=event_key)
        inserted: set[tuple[str, str]] = set()
        by_column = {f.column: f for f in Event._meta.concrete_fields}
        fields = [by_column[name] for name in EVENT_COLUMNS]
        placeholders = "(" + ", ".join(["%s"] * len(EVENT_COLUMNS)) + ")"
        with connection.cursor() as cursor:
            for start in range(0, len(ordered), CHUNK):
                chunk = ordered[start : start + CHUNK]
                values: list[Any] = []
                for event in chunk:
                    event.id = uuid.uuid4()
                    row = [
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
                    for model_field, value in zip(fields, row, strict=True):
                        if model_field.name == "properties":
                            values.append(value)
                        else:
                            values.append(model_field.get_db_prep_save(value, connection))
                sql = (
                    f"INSERT INTO {Event._meta.db_table} ({', '.join(EVENT_COLUMNS)}) VALUES "  # noqa: S608 - identifiers are constants, values are parameters
                    + ", ".join([placeholders] * len(chunk))
                    + f" {EVENT_CONFLICT} RETURNING id, external_subscription_id, transaction_id"
                )
                cursor.execute(sql, values)
                for _, sub, txn in cursor.fetchall():
                    inserted.add((sub, txn))
        for event in ordered:
            if event.key not in inserted:
                event.id = None
        self.add_rollups(organization_id, rollup_deltas(e for e in ordered if e.id is not None), now)
        return Written()

    def relax_commit(self) -> None:
        return None

    def lock_rollups(self, organization_id: uuid.UUID | str, *, exclusive: bool) -> None:
        return None

    def add_rollups(
        self,
        organization_id: uuid.UUID | str,
        deltas: Mapping[RollupKey, tuple[dict, RollupDelta]],
        now: datetime,
    ) -> None:
        if not deltas:
            return
        table = UsageRollup._meta.db_table
        keys = sorted(deltas)
        model_fields = {f.column: f for f in UsageRollup._meta.concrete_fields}
        placeholders = "(" + ", ".join(["%s"] * len(ROLLUP_COLUMNS)) + ")"
        with connection.cursor() as cursor:
            for start in range(0, len(keys), CHUNK):
                chunk = keys[start : start + CHUNK]
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
                        d.value_time_sum,
                        now,
                        now,
                    ]
                    for column, value in zip(ROLLUP_COLUMNS, row, strict=True):
                        if column == "dimensions":
                            params.append(value)
                        else:
                            params.append(model_fields[column].get_db_prep_save(value, connection))
                sql = (
                    f"INSERT INTO {table} ({', '.join(ROLLUP_COLUMNS)}) VALUES "  # noqa: S608 - identifiers are constants, values are parameters
                    + ", ".join([placeholders] * len(chunk))
                    + " "
                    + rollup_conflict(table)
                )
                cursor.execute(sql, params)

    def unique_state_rebuild(
        self, organization_id: uuid.UUID | str, fields: Mapping[str, str | None], external_subscription_id: str | None
    ) -> int:
        """SQLite keeps no unique-count state (its reader counts raw events)."""
        return 0

    def reader(self, organization: Organization, external_subscription_id: str, code: str) -> DatabaseReader:
        return DatabaseReader(organization, external_subscription_id, code)
