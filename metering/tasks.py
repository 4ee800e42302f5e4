"""Metering tasks. Each takes ids/ISO strings, calls one service, and is safe to run twice."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from celery import shared_task

from customers.models import Organization
from metering import services

logger = logging.getLogger(__name__)


@shared_task(name="metering.tasks.usage_rollups_rebuild_task", ignore_result=True)
def usage_rollups_rebuild_task(organization_id: str, from_iso: str, to_iso: str) -> dict[str, int] | None:
    organization = Organization.objects.filter(id=organization_id).first()
    if organization is None:
        return None
    return services.usage_rollups_rebuild(
        organization, from_datetime=datetime.fromisoformat(from_iso), to_datetime=datetime.fromisoformat(to_iso)
    )


@shared_task(name="metering.tasks.usage_rollups_daily_task", ignore_result=True)
def usage_rollups_daily_task(day_iso: str | None = None) -> int:
    """Beat, 00:30 UTC: rebuild yesterday's hourly rollups from raw events (one task per organization)."""
    if day_iso:
        day = datetime.fromisoformat(day_iso)
    else:
        day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
    count = services.usage_rollups_daily(day)
    logger.info("usage rollups of %s: %s organizations", day.date(), count)
    return count


@shared_task(name="metering.tasks.clickhouse_flush_task", ignore_result=True)
def clickhouse_flush_task(rounds: int = 20) -> int:
    """Copy pending events to ClickHouse (after each ingestion, and every minute as the sweeper
    that replays the gap after an outage). A no-op without CLICKHOUSE_URL."""
    from metering import clickhouse

    total = 0
    for _ in range(rounds):
        written = clickhouse.clickhouse_flush()
        if not written:
            break
        total += written
    return total


@shared_task(name="metering.tasks.clickhouse_settle_task", ignore_result=True)
def clickhouse_settle_task() -> int:
    """Beat, every minute: inserts of the ClickHouse store of record older than a minute are
    settled (the transactions that did not commit recorded, the watermark moved), so usage reads
    ask PostgreSQL about the last minute's inserts only (metering.clickhouse.state). A no-op
    without CLICKHOUSE_URL; by hand `manage.py clickhouse_sync --settle`."""
    from metering.clickhouse import store

    return store.clickhouse_settle().orphans


@shared_task(name="metering.tasks.clickhouse_backfill_sweep", ignore_result=True)
def clickhouse_backfill_sweep() -> int:
    """Beat, every minute: every organization gets a backfill to the configured ClickHouse, and
    each one that is running (or due for its daily check) gets a task. Without CLICKHOUSE_URL it
    withdraws complete backfills (one UPDATE; none exist unless ClickHouse was on once). By hand:
    `manage.py clickhouse_backfill` (docs/metering.md)."""
    from metering.clickhouse import backfill, store

    if not store.enabled():
        # Switched off: what is stored from now on never reaches ClickHouse (see the service).
        backfill.clickhouse_backfills_withdraw()
        return 0
    due = backfill.clickhouse_backfills_due()
    for organization_id in due:
        clickhouse_backfill_task.delay(str(organization_id))
    return len(due)


@shared_task(name="metering.tasks.clickhouse_backfill_task", ignore_result=True)
def clickhouse_backfill_task(organization_id: str, seconds: float = 50.0) -> str | None:
    """Copy an organization's stored events for up to `seconds` (the next sweep resumes), or check
    a complete backfill again. Safe twice: a second runner finds the row locked and returns."""
    from metering.clickhouse import backfill, store
    from metering.models import ClickHouseBackfillStatus

    organization = Organization.objects.filter(id=organization_id).first()
    if organization is None or not store.enabled():
        return None
    row = backfill.backfill_of(organization)
    if row is None:
        return None  # the sweeper creates it first; a task for a deleted row has nothing to do
    if row.status == ClickHouseBackfillStatus.COMPLETE:
        row = backfill.clickhouse_backfill_reverify(organization)
    else:
        row = backfill.clickhouse_backfill_run(organization, seconds=seconds)
    return row.status
