"""Moving an existing organization's events from the PostgreSQL store to ClickHouse
(`manage.py events_store_migrate`), in resumable steps recorded on `EventsStoreMigration`:

1. Copy (status `copying`): the organization's ClickHouse backfill (`metering.clickhouse.backfill`:
   events walked in checkpointed batches, verified by counts once settled; while it runs, new
   events reach ClickHouse through the outbox, which needs CLICKHOUSE_URL on every process), then
   the idempotency keys of its stored events into `EventKey`, in batches by event id, the cursor
   saved with each batch.
2. Switch (status `switched`): under the organization's exclusive ingestion lock (in-flight
   PostgreSQL ingestions finish first) the keys left are copied and `Organization.events_store`
   becomes "clickhouse": from then on ingestion writes ClickHouse and aggregation reads it. The
   outbox is flushed at once.
3. Settle: a process that read the organization before the switch (the API key cache,
   API_KEY_CACHE_SECONDS) may still store one of its events in PostgreSQL (and the outbox) for a
   few seconds. After `settle_seconds` the keys of those events are copied and the outbox flushed
   again: status `complete`.

Every step is idempotent: a rerun continues from the recorded cursor, ClickHouse de-duplicates a
batch copied twice, and the key copy is `ON CONFLICT DO NOTHING`. The PostgreSQL rows stay where
they are (the in-advance path reads those of in-advance metrics); docs/metering.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from metering.clickhouse import backfill, store
from metering.models import ClickHouseBackfillStatus, Event, EventKey, EventsStoreMigration
from metering.models import EventsStoreMigrationStatus as Status

KEY_BATCH = 20_000
ZERO_ID = "00000000-0000-0000-0000-000000000000"


def default_settle_seconds() -> float:
    """Long enough for every process to see the switch: the API key cache plus a margin."""
    return float(getattr(settings, "API_KEY_CACHE_SECONDS", 5)) + 25.0


@dataclass(frozen=True)
class Step:
    """A progress line: what the migration just did."""

    phase: str
    done: int
    migration: EventsStoreMigration


class NotReady(Exception):
    """The migration cannot go on now (the message says why); a later run resumes."""


def migration_of(organization: Any) -> EventsStoreMigration | None:
    return EventsStoreMigration.objects.filter(organization=organization).first()


def _copy_keys(organization: Any, migration: EventsStoreMigration, limit: int) -> int:
    """Copy the keys of the next `limit` events after the cursor; saves the cursor. Returns how
    many events were walked (the caller's transaction)."""
    event, key = Event._meta.db_table, EventKey._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH batch AS MATERIALIZED (SELECT id, transaction_id, external_subscription_id FROM {event} "  # noqa: S608 - constant tables
            "WHERE organization_id = %s AND id > %s ORDER BY id LIMIT %s), "
            f"ins AS (INSERT INTO {key} (organization_id, transaction_id, external_subscription_id) "
            'SELECT %s, transaction_id, external_subscription_id FROM batch ORDER BY external_subscription_id COLLATE "C", '
            'transaction_id COLLATE "C" ON CONFLICT DO NOTHING RETURNING 1) '
            "SELECT (SELECT count(*) FROM batch), (SELECT id::text FROM batch ORDER BY id DESC LIMIT 1), "
            "(SELECT count(*) FROM ins)",
            [organization.id, migration.keys_cursor or ZERO_ID, limit, organization.id],
        )
        walked, last, inserted = cursor.fetchone()
    if walked:
        migration.keys_cursor = last
        migration.keys_copied += inserted
        migration.save(update_fields=["keys_cursor", "keys_copied", "updated_at"])
    return int(walked)


def _keys_until_done(
    organization: Any, migration_id: Any, batch_size: int, report: Callable[[Step], None] | None
) -> None:
    while True:
        with transaction.atomic():
            migration = EventsStoreMigration.objects.select_for_update().get(id=migration_id)
            walked = _copy_keys(organization, migration, batch_size)
        if report is not None and walked:
            report(Step("keys", walked, migration))
        if walked < batch_size:
            return


def _flush(organization: Any) -> None:
    for _ in range(200):  # bounded, as the backfill's verification
        if not store.clickhouse_flush(organization=organization, wait=True):
            return


def events_store_migrate(
    organization: Any,
    *,
    batch_size: int = backfill.BATCH_SIZE,
    settle_seconds: float | None = None,
    wait: bool = True,
    now: Callable[[], datetime] = timezone.now,
    sleep: Callable[[float], None] = time.sleep,
    report: Callable[[Step], None] | None = None,
) -> EventsStoreMigration:
    """Run (or resume) the migration of `organization` to the ClickHouse store; returns its record.

    Raises `NotReady` when a step must wait (the backfill not yet verified, `wait=False` before
    the settle delay): what was done stays done. `now`/`sleep` are for tests.
    """
    if not store.enabled():
        raise NotReady("CLICKHOUSE_URL is not set")
    settle = default_settle_seconds() if settle_seconds is None else settle_seconds
    migration, _ = EventsStoreMigration.objects.get_or_create(organization=organization)
    if migration.status == Status.COMPLETE:
        return migration
    if migration.status == Status.COPYING:
        row = backfill.clickhouse_backfill_start(organization)
        if row.status == ClickHouseBackfillStatus.FAILED:
            raise NotReady(f"the ClickHouse backfill failed: {row.last_error} (clickhouse_backfill --restart)")
        if row.status != ClickHouseBackfillStatus.COMPLETE:
            row = backfill.clickhouse_backfill_run(
                organization,
                batch_size=batch_size,
                now=now(),
                on_batch=(lambda b: report(Step("events", b.events, migration))) if report else None,
            )
        if row.status != ClickHouseBackfillStatus.COMPLETE:
            raise NotReady(
                f"the ClickHouse backfill is {row.status} ({row.events_copied:,} events copied); its counts are "
                f"compared from {backfill.settles_at(row).isoformat()} (CLICKHOUSE_BACKFILL_SETTLE_SECONDS): run again then"
            )
        _keys_until_done(organization, migration.id, KEY_BATCH, report)
        with transaction.atomic():
            from customers.models import Organization
            from metering.store import event_store

            locked = Organization.objects.select_for_update().get(id=organization.id)
            event_store().lock_rollups(organization.id, exclusive=True)  # in-flight ingestions finish
            migration = EventsStoreMigration.objects.select_for_update().get(id=migration.id)
            while _copy_keys(organization, migration, KEY_BATCH) == KEY_BATCH:
                pass
            Organization.objects.filter(id=locked.id).update(events_store="clickhouse")
            migration.status = Status.SWITCHED
            migration.switched_at = now()
            migration.save(update_fields=["status", "switched_at", "updated_at"])
        organization.events_store = "clickhouse"
        _flush(organization)
        if report is not None:
            report(Step("switched", 0, migration))
    assert migration.switched_at is not None
    settled = migration.switched_at + timedelta(seconds=settle)
    if now() < settled:
        if not wait:
            raise NotReady(
                f"switched; processes may still write PostgreSQL until {settled.isoformat()}: run again then"
            )
        sleep(max(0.0, (settled - now()).total_seconds()))
    _flush(organization)
    _keys_until_done(organization, migration.id, KEY_BATCH, report)
    with transaction.atomic():
        migration = EventsStoreMigration.objects.select_for_update().get(id=migration.id)
        migration.status = Status.COMPLETE
        migration.completed_at = now()
        migration.save(update_fields=["status", "completed_at", "updated_at"])
    return migration
