"""Copying the events stored before ClickHouse was switched on, and the rule for reading it.

The outbox copies every event ingested while `CLICKHOUSE_URL` is set; the events stored before
reach ClickHouse only through a backfill. Until an organization's backfill is complete,
aggregation reads PostgreSQL for it, so switching ClickHouse on never changes an amount
(docs/metering.md, "Switching ClickHouse on").

A backfill (`ClickHouseBackfill`, one per organization and ClickHouse database) walks the
organization's events in (timestamp, id) order from its cursor, in batches, each batch copied and
the cursor saved in one transaction that holds the row's lock, so it resumes where it stopped and
two runners never copy the same batch. When the walk reaches the end, the organization's outbox is
flushed and the events created before a moment a little in the past are counted in both stores:
equal counts make the backfill `complete`; different counts start another walk, and after three
the backfill is `failed` (a process ingesting without `CLICKHOUSE_URL`, or events missing from
ClickHouse: docs/operations.md). A complete backfill is verified again once a day, and a mismatch
withdraws it at once.

The counts are compared only `CLICKHOUSE_BACKFILL_SETTLE_SECONDS` after the walk started: during a
rolling deploy some processes store events without `CLICKHOUSE_URL` (no outbox row), and those
must be created before the verification's cutoff to be caught. For the same reason, a sweeper that
runs without `CLICKHOUSE_URL` (ClickHouse switched off) withdraws every complete backfill and keeps
moving their start, so switching it on again verifies each one after the same delay.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from billing_project.core import metrics
from metering.clickhouse import store
from metering.clickhouse.breaker import breaker
from metering.models import ClickHouseBackfill, ClickHouseBackfillStatus, ClickHouseOutbox, Event

logger = logging.getLogger(__name__)

BATCH_SIZE = 5000
MAX_SCANS = 3
# Events created in the last seconds before a verification are left out of both counts: an
# ingestion transaction still open then may commit its events and its outbox row a moment later.
VERIFY_MARGIN = timedelta(seconds=10)
REVERIFY_AFTER = timedelta(days=1)

Status = ClickHouseBackfillStatus


# --- where aggregation reads -------------------------------------------------------------------


def readable(organization: Any, *, reads_from: datetime) -> bool:
    """ClickHouse holds every event of `organization` dated from `reads_from`, and may be tried.

    True only when the organization's backfill to this ClickHouse is complete and covers
    `reads_from`, no copy is pending in the outbox, and the breaker is closed. One query.
    Each PostgreSQL answer given instead is counted in `bxb_clickhouse_fallbacks{reason}`.
    """
    if not breaker.allows():
        metrics.clickhouse_fallback("breaker_open")
        return False
    row = (
        ClickHouseBackfill.objects.filter(organization=organization, target=store.target())
        .annotate(pending=Exists(ClickHouseOutbox.objects.filter(organization=OuterRef("organization"))))
        .values_list("status", "from_timestamp", "pending")
        .first()
    )
    if row is None or row[0] != Status.COMPLETE or (row[1] is not None and row[1] > reads_from):
        metrics.clickhouse_fallback("not_backfilled")
        return False
    if row[2]:
        metrics.clickhouse_fallback("pending")
        return False
    return True


def backfill_of(organization: Any) -> ClickHouseBackfill | None:
    return ClickHouseBackfill.objects.filter(organization=organization, target=store.target()).first()


def events_to_copy(organization: Any, backfill: ClickHouseBackfill | None, *, from_timestamp: datetime | None) -> int:
    """How many events a run would still walk (the dry run's figure, and the progress total)."""
    if backfill is not None and backfill.status == Status.COMPLETE:
        return 0
    events = Event.objects.filter(organization=organization)
    start = backfill.from_timestamp if backfill is not None else from_timestamp
    if start is not None:
        events = events.filter(timestamp__gte=start)
    if backfill is not None and backfill.cursor_timestamp is not None:
        events = events.filter(_after(backfill.cursor_timestamp, backfill.cursor_id))
    return events.count()


# --- the backfill ------------------------------------------------------------------------------


def clickhouse_backfill_start(
    organization: Any, *, from_timestamp: datetime | None = None, restart: bool = False
) -> ClickHouseBackfill:
    """The organization's backfill to the configured ClickHouse, recorded if new (idempotent).

    An existing one is kept (and resumes) unless `restart`, or unless `from_timestamp` reaches
    further back than it does; either starts a new walk, and reads stay on PostgreSQL until it
    completes. A failed backfill waits for `restart`.
    """
    with transaction.atomic():
        row, created = ClickHouseBackfill.objects.get_or_create(
            organization=organization, target=store.target(), defaults={"from_timestamp": from_timestamp}
        )
        if created:
            return row
        row = ClickHouseBackfill.objects.select_for_update().get(id=row.id)
        widens = row.from_timestamp is not None and (from_timestamp is None or from_timestamp < row.from_timestamp)
        if restart or widens:
            row.from_timestamp = from_timestamp
            _rewind(row, scans=0)
            row.started_at = timezone.now()
            row.completed_at = None
            row.save()
    return row


def settles_at(row: ClickHouseBackfill) -> datetime:
    """When the backfill's counts may be compared (every process has had time to get CLICKHOUSE_URL)."""
    return row.started_at + timedelta(seconds=float(settings.CLICKHOUSE_BACKFILL_SETTLE_SECONDS)) + VERIFY_MARGIN


@dataclass(frozen=True)
class Batch:
    """What one batch of a run copied (for progress lines)."""

    events: int
    backfill: ClickHouseBackfill


def clickhouse_backfill_run(
    organization: Any,
    *,
    batch_size: int = BATCH_SIZE,
    seconds: float | None = None,
    now: datetime | None = None,
    on_batch: Callable[[Batch], None] | None = None,
) -> ClickHouseBackfill:
    """Walk and copy batches until the backfill completes (or fails) or `seconds` have passed.

    Returns the backfill as it is then (`ClickHouseBackfill.DoesNotExist` when the organization has
    none: `clickhouse_backfill_start` first). When another process holds it (a runner on the same
    organization), returns at once without copying.
    Raises when ClickHouse or PostgreSQL fails; what was saved stays saved and the next run resumes.
    `now`: the moment of the verification (its cutoff is VERIFY_MARGIN before it).
    """
    deadline = None if seconds is None else time.monotonic() + seconds
    while True:
        with transaction.atomic():
            row = _locked(organization)
            if row is None or row.status != Status.RUNNING:
                return row if row is not None else _current(organization)
            events = _next_batch(organization, row, batch_size)
            if events:
                store.copy_events(events)
                last = events[-1]
                row.cursor_timestamp, row.cursor_id = last.timestamp, last.id
                row.events_copied += len(events)
                row.save(update_fields=["cursor_timestamp", "cursor_id", "events_copied", "updated_at"])
        if on_batch is not None and events:
            on_batch(Batch(len(events), row))
        if len(events) < batch_size:
            return _verified_if(organization, Status.RUNNING, now=now)
        if deadline is not None and time.monotonic() >= deadline:
            return row


def clickhouse_backfill_reverify(organization: Any, *, now: datetime | None = None) -> ClickHouseBackfill:
    """Count a complete backfill's events again; a mismatch withdraws it and starts a new walk."""
    return _verified_if(organization, Status.COMPLETE, now=now)


def _verified_if(organization: Any, status: str, *, now: datetime | None) -> ClickHouseBackfill:
    """The backfill verified (`_verify`) under its row lock when it is in `status`; as it is otherwise."""
    with transaction.atomic():
        row = _locked(organization)
        if row is None or row.status != status:
            return row if row is not None else _current(organization)
        _verify(organization, row, now=now or timezone.now())
    return row


def clickhouse_backfills_due(*, now: datetime | None = None) -> list[Any]:
    """The sweeper's list: ids of organizations whose backfill runs, or whose check is due.

    Organizations without a backfill to the configured ClickHouse get one first (all events):
    switching ClickHouse on starts every organization's backfill within a minute.
    """
    from customers.models import Organization

    now = now or timezone.now()
    target = store.target()
    # Organizations whose store of record is ClickHouse have nothing to copy (and their counts
    # differ from PostgreSQL's by design): the sweeper leaves them alone.
    missing = (
        Organization.objects.exclude(id__in=ClickHouseBackfill.objects.filter(target=target).values("organization_id"))
        .exclude(events_store="clickhouse")
        .values_list("id", flat=True)
    )
    ClickHouseBackfill.objects.bulk_create(
        [ClickHouseBackfill(organization_id=org_id, target=target) for org_id in missing], ignore_conflicts=True
    )
    due = (
        ClickHouseBackfill.objects.filter(target=target)
        .filter(Q(status=Status.RUNNING) | Q(status=Status.COMPLETE, verified_at__lt=now - REVERIFY_AFTER))
        .exclude(organization__events_store="clickhouse")
    )
    return list(due.order_by("created_at").values_list("organization_id", flat=True))


def clickhouse_backfills_withdraw(*, now: datetime | None = None) -> int:
    """ClickHouse is switched off here (no CLICKHOUSE_URL in the sweeper's process): events stored
    from now on never reach it. Every complete backfill is withdrawn, and the start of every backfill
    moves to now, so that when ClickHouse is switched on again each one is walked from its cursor and
    verified after the settle delay before reads use it. Returns how many were withdrawn."""
    now = now or timezone.now()
    withdrawn = ClickHouseBackfill.objects.filter(status=Status.COMPLETE).update(
        status=Status.RUNNING,
        completed_at=None,
        last_error=f"ClickHouse was switched off (no CLICKHOUSE_URL) at {now.isoformat()}: verified again",
        started_at=now,
        updated_at=now,
    )
    ClickHouseBackfill.objects.filter(status=Status.RUNNING).update(started_at=now)
    return withdrawn


# --- inside ------------------------------------------------------------------------------------


def _current(organization: Any) -> ClickHouseBackfill:
    return ClickHouseBackfill.objects.get(organization=organization, target=store.target())


def _locked(organization: Any) -> ClickHouseBackfill | None:
    rows = ClickHouseBackfill.objects.filter(organization=organization, target=store.target())
    # Row locks where the database has them (SQLite serializes writers and ignores this).
    return rows.select_for_update(skip_locked=True).first()


def _after(timestamp: datetime, event_id: Any) -> Q:
    return Q(timestamp__gt=timestamp) | Q(timestamp=timestamp, id__gt=event_id)


def _next_batch(organization: Any, row: ClickHouseBackfill, size: int) -> list[Event]:
    events = Event.objects.filter(organization=organization)
    if row.from_timestamp is not None:
        events = events.filter(timestamp__gte=row.from_timestamp)
    if row.cursor_timestamp is not None:
        # The range bound lets PostgreSQL walk the (organization, timestamp) index.
        events = events.filter(timestamp__gte=row.cursor_timestamp).filter(_after(row.cursor_timestamp, row.cursor_id))
    batch = list(events.order_by("timestamp", "id")[:size])
    for event in batch:
        event.organization = organization  # the caller's row: no query per event
    return batch


def _rewind(row: ClickHouseBackfill, *, scans: int) -> None:
    row.status = Status.RUNNING
    row.cursor_timestamp = row.cursor_id = None
    row.scans = scans
    row.last_error = ""


def _verify(organization: Any, row: ClickHouseBackfill, *, now: datetime) -> None:
    """Flush the organization's outbox, then compare both stores' counts of events created before
    `now - VERIFY_MARGIN`. Saves the row: complete, or rewound for another walk, or failed.
    Before `settles_at` a running backfill is left as it is (walked, not yet verified)."""
    if row.status == Status.RUNNING and now < settles_at(row):
        return
    for _ in range(200):  # bounded: an organization ingesting fast always has a row or two
        if not store.clickhouse_flush(organization=organization, wait=True):
            break
    cutoff = now - VERIFY_MARGIN
    events = Event.objects.filter(organization=organization, created_at__lt=cutoff)
    if row.from_timestamp is not None:
        events = events.filter(timestamp__gte=row.from_timestamp)
    in_postgres = events.count()
    in_clickhouse = store.count_events(organization.id, created_before=cutoff, from_timestamp=row.from_timestamp)
    row.verified_at = now
    if in_postgres == in_clickhouse:
        if row.status != Status.COMPLETE:
            row.scans += 1
            row.status = Status.COMPLETE
            row.completed_at = now
        row.verified_events = in_postgres
        row.last_error = ""
        row.save()
        return
    row.last_error = (
        f"ClickHouse holds {in_clickhouse} events, PostgreSQL {in_postgres} (created before {cutoff.isoformat()})"
    )
    logger.error(
        "ClickHouse backfill of %s does not match: %s",
        organization.id,
        row.last_error,
        extra={"clickhouse_events": in_clickhouse, "postgres_events": in_postgres},
    )
    scans = row.scans + 1
    if row.status == Status.COMPLETE:
        scans = 1  # a check of a complete backfill failed: coverage is withdrawn, a new walk starts
    if scans >= MAX_SCANS:
        row.status = Status.FAILED
        row.scans = scans
    else:
        error = row.last_error
        _rewind(row, scans=scans)
        row.last_error = error
    row.completed_at = None
    row.save()
