"""Switching ClickHouse on never changes an amount: reads wait for a complete, verified backfill.

Needs a real ClickHouse (CLICKHOUSE_URL, e.g. from scripts/start-clickhouse.sh), like
tests/metering/test_clickhouse.py.
"""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.test import override_settings
from django.utils import timezone

from customers.services import organization_create
from invoicing.billing.run import customer_bill
from invoicing.models import InvoiceStatus
from invoicing.services import invoice_finalize_if_due, invoice_refresh
from metering import services, tasks
from metering.aggregation import aggregate
from metering.clickhouse import backfill, store
from metering.models import ClickHouseBackfill, ClickHouseOutbox, Event
from tests.factories.invoicing import add_events, make_charge, make_customer, make_metric, make_plan, subscribe
from tests.factories.metering import event_payload

CLICKHOUSE_URL = os.environ.get("CLICKHOUSE_URL", "")

pytestmark = [
    pytest.mark.clickhouse,
    pytest.mark.skipif(not CLICKHOUSE_URL, reason="CLICKHOUSE_URL is not set"),
    pytest.mark.django_db,
]

MARCH = datetime(2024, 3, 1, tzinfo=UTC)
APRIL = datetime(2024, 4, 1, tzinfo=UTC)


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def later() -> datetime:
    """A verification an hour from now: past the settle delay (CLICKHOUSE_BACKFILL_SETTLE_SECONDS,
    15 minutes), and the events just stored are older than its cutoff."""
    return timezone.now() + timedelta(hours=1)


def started_an_hour_ago(organization) -> None:
    ClickHouseBackfill.objects.filter(organization=organization).update(started_at=timezone.now() - timedelta(hours=1))


def backfill_row(organization) -> ClickHouseBackfill:
    return ClickHouseBackfill.objects.get(organization=organization, target=store.target())


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def store_events(organization, count: int, *, prefix: str = "t", sub: str = "s1", day: int = 10) -> None:
    payloads = [
        event_payload(
            f"{prefix}{i}",
            code="m",
            sub=sub,
            timestamp=int(at(2024, 3, day, 12).timestamp()) + i,
            properties={"v": str(i % 7)},
        )
        for i in range(count)
    ]
    services.events_ingest(organization, payloads)


def usage(organization, metric, *, start=MARCH, end=APRIL):
    return aggregate(organization, external_subscription_id="s1", metric=metric, from_datetime=start, to_datetime=end)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@override_settings(CLICKHOUSE_URL="")
def test_enabling_clickhouse_keeps_the_amount_of_a_draft(organization):
    # Events stored before ClickHouse is switched on (no outbox: nothing copies them).
    customer = make_customer(organization, invoice_grace_period=3)
    plan = make_plan(organization, amount_cents=1000)
    metric = make_metric(organization, "calls")
    make_charge(plan, metric, properties={"amount": "1"})
    sub = subscribe(customer, plan, at(2024, 1, 1))
    add_events(sub, "calls", [at(2024, 1, 10)] * 201)
    [draft] = customer_bill(customer.id, at=at(2024, 2, 1, 1))
    assert draft.status == InvoiceStatus.DRAFT
    assert draft.fees_amount_cents == 1000 + 201 * 100
    with override_settings(CLICKHOUSE_URL=CLICKHOUSE_URL):
        # Switched on: ClickHouse holds nothing of this organization yet, PostgreSQL answers.
        assert invoice_refresh(organization, invoice_id=draft.id).fees_amount_cents == 1000 + 201 * 100
        # The beat sweeper starts the backfill and copies everything (eager tasks here); the
        # counts are compared once every process has had time to get CLICKHOUSE_URL.
        tasks.clickhouse_backfill_sweep()
        row = backfill_row(organization)
        assert (row.status, row.events_copied) == ("running", 201)
        assert invoice_refresh(organization, invoice_id=draft.id).fees_amount_cents == 1000 + 201 * 100
        row = backfill.clickhouse_backfill_run(organization, now=later())
        assert (row.status, row.events_copied, row.verified_events) == ("complete", 201, 201)
        reading = aggregate(
            organization,
            external_subscription_id=sub.external_id,
            metric=metric,
            from_datetime=at(2024, 1, 1),
            to_datetime=at(2024, 2, 1),
        )
        assert (reading.source, reading.units) == ("clickhouse", 201)
        assert invoice_refresh(organization, invoice_id=draft.id).fees_amount_cents == 1000 + 201 * 100
        final = invoice_finalize_if_due(draft.id, now=at(2024, 2, 4, 0, 30))
        assert final is not None
        assert final.status == InvoiceStatus.FINALIZED
        assert final.fees_amount_cents == 1000 + 201 * 100


@override_settings(CLICKHOUSE_URL="")
def test_a_partly_backfilled_organization_reads_postgres_and_the_command_resumes(organization):
    metric = make_metric(organization, "m", "sum_agg", field_name="v")
    store_events(organization, 30)
    expected = usage(organization, metric).units
    with override_settings(CLICKHOUSE_URL=CLICKHOUSE_URL):
        backfill.clickhouse_backfill_start(organization)
        row = backfill.clickhouse_backfill_run(organization, batch_size=10, seconds=0)  # one batch, then stops
        assert (row.status, row.events_copied) == ("running", 10)
        assert store.count_events(organization.id, created_before=later(), from_timestamp=None) == 10
        assert not backfill.readable(organization, reads_from=MARCH)
        partly = usage(organization, metric)
        assert (partly.source, partly.units) == ("rollups", expected)

        out, err = run("clickhouse_backfill", "--organization", str(organization.id), "--batch-size", "10")
        row.refresh_from_db()
        # Resumed from its cursor: 10 + 20 copied, not 10 + 30; the counts wait for the settle delay.
        assert (row.status, row.events_copied, row.scans) == ("running", 30, 0)
        assert "walked; counts compared from" in out
        assert "20/20 events (100%" in err
        assert not backfill.readable(organization, reads_from=MARCH)
        started_an_hour_ago(organization)
        out, err = run("clickhouse_backfill", "--organization", str(organization.id), "--batch-size", "10")
        row.refresh_from_db()
        assert (row.status, row.events_copied, row.scans) == ("complete", 30, 1)
        assert f"{organization.name} ({organization.id}): complete" in out
        assert backfill.readable(organization, reads_from=MARCH)
        whole = usage(organization, metric)
        assert (whole.source, whole.units) == ("clickhouse", expected)
        # Again: nothing to do, still complete.
        out, _ = run("clickhouse_backfill", "--organization", organization.name, "--no-progress")
        row.refresh_from_db()
        assert (row.status, row.events_copied) == ("complete", 30)


@override_settings(CLICKHOUSE_URL="")
def test_dry_run_writes_nothing(organization):
    store_events(organization, 12)
    with override_settings(CLICKHOUSE_URL=CLICKHOUSE_URL):
        out, _ = run("clickhouse_backfill", "--organization", str(organization.id), "--dry-run")
        assert "not started; would walk 12 events" in out
        assert "dry run: nothing written" in out
        assert not ClickHouseBackfill.objects.filter(organization=organization).exists()
        assert store.count_events(organization.id, created_before=later(), from_timestamp=None) == 0


@override_settings(CLICKHOUSE_URL="")
def test_a_backfill_from_a_date_covers_only_windows_from_it(organization):
    metric = make_metric(organization, "m", "sum_agg", field_name="v")
    store_events(organization, 5, prefix="early", day=5)
    store_events(organization, 5, prefix="late", day=20)
    with override_settings(CLICKHOUSE_URL=CLICKHOUSE_URL):
        run("clickhouse_backfill", "--organization", str(organization.id), "--from", "2024-03-15", "--no-progress")
        started_an_hour_ago(organization)
        run("clickhouse_backfill", "--organization", str(organization.id), "--from", "2024-03-15", "--no-progress")
        row = backfill_row(organization)
        assert (row.status, row.events_copied) == ("complete", 5)
        assert usage(organization, metric).source == "rollups"  # March 1 is before the backfill's start
        later_window = usage(organization, metric, start=at(2024, 3, 15))
        assert later_window.source == "clickhouse"
        assert (
            later_window.units
            == aggregate(
                organization,
                external_subscription_id="s1",
                metric=metric,
                from_datetime=at(2024, 3, 15),
                to_datetime=APRIL,
                store="postgres",
            ).units
        )
        # Reaching further back starts a new walk; until it completes, PostgreSQL answers.
        row = backfill.clickhouse_backfill_start(organization, from_timestamp=None)
        assert (row.status, row.cursor_timestamp) == ("running", None)
        assert usage(organization, metric, start=at(2024, 3, 15)).source == "rollups"


@override_settings(CLICKHOUSE_URL="")
def test_events_stored_without_clickhouse_after_the_backfill_withdraw_it(organization):
    metric = make_metric(organization, "m", "sum_agg", field_name="v")
    store_events(organization, 8)
    with override_settings(CLICKHOUSE_URL=CLICKHOUSE_URL):
        backfill.clickhouse_backfill_start(organization)
        assert backfill.clickhouse_backfill_run(organization, now=later()).status == "complete"
    # A process that never got CLICKHOUSE_URL keeps ingesting: no outbox row, ClickHouse misses it.
    store_events(organization, 3, prefix="missed")
    with override_settings(CLICKHOUSE_URL=CLICKHOUSE_URL):
        row = backfill.clickhouse_backfill_reverify(organization, now=later())
        assert row.status == "running"
        assert "ClickHouse holds 8 events, PostgreSQL 11" in row.last_error
        assert usage(organization, metric).source == "rollups"
        # The next walk copies what was missed.
        row = backfill.clickhouse_backfill_run(organization, now=later())
        assert (row.status, row.verified_events, row.last_error) == ("complete", 11, "")
        whole = usage(organization, metric)
        assert whole.source == "clickhouse"
        assert (
            whole.units
            == aggregate(
                organization,
                external_subscription_id="s1",
                metric=metric,
                from_datetime=MARCH,
                to_datetime=APRIL,
                store="postgres",
            ).units
        )


def test_counts_that_never_match_fail_the_backfill_until_restarted(organization):
    store_events(organization, 4)
    store.clickhouse_flush(organization=organization)
    # ClickHouse holds an event PostgreSQL no longer has: a walk cannot repair that.
    Event.objects.filter(organization=organization, transaction_id="t0").delete()
    backfill.clickhouse_backfill_start(organization)
    for scan in (1, 2):
        row = backfill.clickhouse_backfill_run(organization, now=later())
        assert (row.status, row.scans) == ("running", scan)
    row = backfill.clickhouse_backfill_run(organization, now=later())
    assert (row.status, row.scans) == ("failed", 3)
    assert "ClickHouse holds 4 events, PostgreSQL 3" in row.last_error
    assert organization.id not in backfill.clickhouse_backfills_due()  # the sweeper leaves it alone
    with pytest.raises(CommandError, match="not complete"):
        run("clickhouse_backfill", "--organization", str(organization.id), "--no-progress")
    out, _ = run("clickhouse_backfill", "--dry-run", "--organization", str(organization.id))
    assert "failed (all events; " in out and "last check: ClickHouse holds 4 events" in out
    row = backfill.clickhouse_backfill_start(organization, restart=True)
    assert (row.status, row.scans, row.last_error) == ("running", 0, "")


def test_another_clickhouse_database_needs_its_own_backfill(organization):
    store_events(organization, 2)
    backfill.clickhouse_backfill_start(organization)
    assert backfill.clickhouse_backfill_run(organization, now=later()).status == "complete"
    assert backfill.readable(organization, reads_from=MARCH)
    other = CLICKHOUSE_URL.rsplit("/", 1)[0] + "/bxb_elsewhere"
    with override_settings(CLICKHOUSE_URL=other):
        assert not backfill.readable(organization, reads_from=MARCH)
        assert backfill.backfill_of(organization) is None


def test_the_sweeper_starts_a_backfill_for_every_organization(organization):
    other, _ = organization_create("Second Org")
    assert {organization.id, other.id} <= set(backfill.clickhouse_backfills_due())
    assert ClickHouseBackfill.objects.filter(organization__in=[organization, other], status="running").count() == 2
    # Complete ones come back once a day for their check.
    for org in (organization, other):
        backfill.clickhouse_backfill_run(org, now=later())
    due = backfill.clickhouse_backfills_due()
    assert organization.id not in due and other.id not in due
    assert organization.id in backfill.clickhouse_backfills_due(now=timezone.now() + timedelta(days=2))


@override_settings(CLICKHOUSE_URL="")
def test_a_rollup_rebuild_copies_the_recomputed_values_again(organization):
    metric = make_metric(organization, "m", "sum_agg", field_name="v")
    store_events(organization, 6)
    with override_settings(CLICKHOUSE_URL=CLICKHOUSE_URL):
        backfill.clickhouse_backfill_start(organization)
        assert backfill.clickhouse_backfill_run(organization, now=later()).status == "complete"
        metric.field_name = "w"  # every event's value changes (no "w": no value)
        metric.save()
        services.usage_rollups_rebuild(organization, from_datetime=MARCH, to_datetime=APRIL)
        assert ClickHouseOutbox.objects.filter(organization=organization).exists()
        assert usage(organization, metric).source == "rollups"
        store.clickhouse_flush()
        rebuilt = usage(organization, metric)
        assert rebuilt.source == "clickhouse"
        assert rebuilt.units == 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks")
def test_two_runners_never_copy_the_same_organization_at_once(organization):
    store_events(organization, 5)
    backfill.clickhouse_backfill_start(organization)
    locked, release = threading.Event(), threading.Event()

    def hold() -> None:
        try:
            with transaction.atomic():
                ClickHouseBackfill.objects.select_for_update().get(organization=organization)
                locked.set()
                release.wait(10)
        finally:
            from django.db import connection as thread_connection

            thread_connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert locked.wait(10)
        row = backfill.clickhouse_backfill_run(organization, now=later())
        assert (row.status, row.events_copied) == ("running", 0)  # returned at once, copied nothing
    finally:
        release.set()
        holder.join()
    row = backfill.clickhouse_backfill_run(organization, now=later())
    assert (row.status, row.events_copied) == ("complete", 5)


@override_settings(CLICKHOUSE_URL="")
def test_counts_wait_for_every_process_to_get_clickhouse_url(organization):
    """A rolling deploy: the worker has CLICKHOUSE_URL and walks; an API process without it still
    stores events (no outbox row). The counts are compared only after the settle delay."""
    metric = make_metric(organization, "m", "sum_agg", field_name="v")
    store_events(organization, 6)
    with override_settings(CLICKHOUSE_URL=CLICKHOUSE_URL):
        backfill.clickhouse_backfill_start(organization)
        row = backfill.clickhouse_backfill_run(organization)
        assert (row.status, row.events_copied, row.verified_at) == ("running", 6, None)
        assert backfill.settles_at(row) > timezone.now() + timedelta(minutes=14)
        assert not backfill.readable(organization, reads_from=MARCH)
    store_events(organization, 2, prefix="rolling", day=2)  # the API process, before its restart
    with override_settings(CLICKHOUSE_URL=CLICKHOUSE_URL):
        row = backfill.clickhouse_backfill_run(organization, now=later())
        assert row.status == "running" and "ClickHouse holds 6 events, PostgreSQL 8" in row.last_error
        row = backfill.clickhouse_backfill_run(organization, now=later())
        assert (row.status, row.verified_events) == ("complete", 8)
        assert usage(organization, metric).units == aggregate(
            organization, external_subscription_id="s1", metric=metric, from_datetime=MARCH, to_datetime=APRIL,
            store="postgres",
        ).units  # fmt: skip


@override_settings(CLICKHOUSE_URL="")
def test_switching_clickhouse_off_then_on_again_verifies_before_reading_it(organization):
    metric = make_metric(organization, "m", "sum_agg", field_name="v")
    store_events(organization, 5, day=20)
    with override_settings(CLICKHOUSE_URL=CLICKHOUSE_URL):
        backfill.clickhouse_backfill_start(organization)
        assert backfill.clickhouse_backfill_run(organization, now=later()).status == "complete"
    # Switched off: the sweeper (a worker without CLICKHOUSE_URL) withdraws the backfill; events
    # stored meanwhile never reach ClickHouse, some dated before the backfill's cursor.
    tasks.clickhouse_backfill_sweep()
    store_events(organization, 3, prefix="while_off", day=4)
    with override_settings(CLICKHOUSE_URL=CLICKHOUSE_URL):
        row = backfill_row(organization)
        assert row.status == "running" and "switched off" in row.last_error
        assert not backfill.readable(organization, reads_from=MARCH)
        assert usage(organization, metric).source == "rollups"
        row = backfill.clickhouse_backfill_run(organization, now=later())  # from the cursor: counts differ
        assert (row.status, row.cursor_timestamp) == ("running", None)
        row = backfill.clickhouse_backfill_run(organization, now=later())
        assert (row.status, row.verified_events) == ("complete", 8)
        whole = usage(organization, metric)
        assert whole.source == "clickhouse"
        assert whole.units == aggregate(
            organization, external_subscription_id="s1", metric=metric, from_datetime=MARCH, to_datetime=APRIL,
            store="postgres",
        ).units  # fmt: skip
