"""Faults during a billing run: a database connection killed mid-batch, a worker that never reports.

The connection tests are transactional: they kill this test's own PostgreSQL backend with
`pg_terminate_backend` (filtered by the test database's name and our backend's pid), as a failover
or an administrator would, and check that no customer is left unbilled and the run's record is true.
"""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest
from django.db import connection, transaction

from invoicing.billing import run as billing_batch
from invoicing.billing import runs, sweep, writer
from invoicing.models import BillingRun, Invoice, InvoiceSubscription
from tests.factories.customers import OrganizationFactory
from tests.factories.invoicing import add_events, make_charge, make_customer, make_metric, make_plan, subscribe

AT = datetime(2024, 5, 1, 1, tzinfo=UTC)


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def _customers(organization, n, code="calls"):
    plan = make_plan(organization, amount_cents=1000)
    make_charge(plan, make_metric(organization, code), properties={"amount": "1"})
    customers = []
    for _ in range(n):
        customer = make_customer(organization)
        sub = subscribe(customer, plan, at(2024, 4, 1))
        add_events(sub, code, [at(2024, 4, 5)] * 2)
        customers.append(customer)
    return customers


def _terminate_own_backend() -> None:
    """What `pg_terminate_backend` does to a worker's connection: from another session, end ours
    (only this test database's backend with our pid)."""
    pid = connection.connection.info.backend_pid
    settings = connection.settings_dict
    dsn = f"host={settings['HOST'] or '127.0.0.1'} port={settings['PORT'] or 5432} user={settings['USER']} dbname=postgres"
    if settings.get("PASSWORD"):
        dsn += f" password={settings['PASSWORD']}"
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid = %s",
            [settings["NAME"], pid],
        )


def _kill_once(target, name, monkeypatch, calls: list[int]):
    real = getattr(target, name)

    def killed(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            _terminate_own_backend()
        return real(*args, **kwargs)

    monkeypatch.setattr(target, name, killed)


needs_postgresql = pytest.mark.skipif(connection.vendor != "postgresql", reason="pg_terminate_backend")


@needs_postgresql
@pytest.mark.django_db(transaction=True)
def test_a_connection_killed_mid_batch_bills_every_customer_one_by_one(monkeypatch):
    organization = OrganizationFactory()
    customers = _customers(organization, 4)
    run, due = runs.billing_run_start(AT, organization=organization, trigger="command")
    calls: list[int] = []
    _kill_once(writer, "write", monkeypatch, calls)
    created = runs.billing_run_batch(run.id, list(due), at=AT)
    assert calls, "the batch reached its write"
    assert created == 4
    assert set(Invoice.objects.values_list("customer_id", flat=True)) == {c.id for c in customers}
    assert InvoiceSubscription.objects.count() == 4
    run.refresh_from_db()
    assert run.invoices_created == 4 and run.customers_failed == 0, run.failures


@needs_postgresql
@pytest.mark.django_db(transaction=True)
def test_a_connection_killed_during_the_one_by_one_fallback_costs_one_customer_at_most(monkeypatch):
    """The batch fails as a whole, then the connection dies again while billing the first customer
    alone: that customer is recorded as failed and stays due; every other customer is billed."""
    organization = OrganizationFactory()
    customers = _customers(organization, 4)
    run, due = runs.billing_run_start(AT, organization=organization, trigger="command")

    def broken(*args, **kwargs):
        raise RuntimeError("the batch cannot run")

    monkeypatch.setattr(runs, "customers_bill", broken)  # the batch entry; one by one goes through customer_bill
    calls: list[int] = []
    _kill_once(billing_batch, "_read", monkeypatch, calls)
    created = runs.billing_run_batch(run.id, list(due), at=AT)
    assert created == 3
    run.refresh_from_db()
    assert run.invoices_created == 3 and run.customers_failed == 1
    assert Invoice.objects.count() == 3
    [left] = [c for c in customers if not Invoice.objects.filter(customer=c).exists()]
    assert run.failures[0]["customer_id"] == str(left.id)
    assert set(sweep.billing_due_customers(AT, organization=organization)) == {left.id}


@needs_postgresql
@pytest.mark.django_db(transaction=True)
def test_the_run_counts_commit_with_the_invoices(monkeypatch):
    """A batch whose invoices committed has its counts on the run even if the process dies right
    after the commit (the counts are written in the same transaction)."""
    organization = OrganizationFactory()
    _customers(organization, 3)
    run, due = runs.billing_run_start(AT, organization=organization, trigger="command")
    real = billing_batch.customers_bill

    def killed() -> None:
        raise SystemExit("worker killed right after the commit")

    def dies_after_commit(*args, **kwargs):
        outcome = real(*args, **kwargs)
        transaction.on_commit(killed)  # runs after the outermost commit, before anything else
        return outcome

    monkeypatch.setattr(billing_batch, "customers_bill", dies_after_commit)
    monkeypatch.setattr(runs, "customers_bill", dies_after_commit, raising=False)
    with pytest.raises(SystemExit):
        runs.billing_run_batch(run.id, list(due), at=AT)
    assert Invoice.objects.count() == 3
    run.refresh_from_db()
    assert run.invoices_created == 3


# --- a worker killed: the run knows it is incomplete, and retries --------------------------------------


def _billed(run, *positions):
    for batch in run.batches.filter(position__in=positions):
        runs.billing_run_batch(run.id, batch.customer_ids, at=AT, batch_id=batch.id)


@pytest.mark.django_db
def test_a_batch_that_never_reports_makes_the_run_incomplete_and_is_sent_again(
    organization, monkeypatch, django_capture_on_commit_callbacks
):
    customers = _customers(organization, 5)
    monkeypatch.setattr(runs, "BATCH_SIZE", 2)
    run, _ = runs.billing_run_start(AT, organization=organization, trigger="beat")
    assert run.batches_total == 3 and run.oldest_due_at == at(2024, 5, 1)
    lost = run.batches.get(position=1)
    _billed(run, 0, 2)  # the worker holding batch 1 was killed before its commit
    run.refresh_from_db()
    assert (run.status, run.batches_reported, run.invoices_created) == ("running", 2, 3)

    # First look: batches reported since the fan-out, so the others may still be on their way.
    with django_capture_on_commit_callbacks(execute=False) as sent:
        assert runs.billing_run_check(run.id, seen=-1, checks=0) == "waiting"
    assert len(sent) == 1  # only the next look
    # Next look, no progress: incomplete, what is missing is listed, the batch is sent again at once.
    with django_capture_on_commit_callbacks(execute=False):
        assert runs.billing_run_check(run.id, seen=2, checks=1) == "retried"
    run.refresh_from_db()
    assert run.status == "incomplete" and run.retries == 1
    assert run.customers_missing == 2 and sorted(run.missing) == sorted(lost.customer_ids)
    assert run.oldest_due_at == at(2024, 5, 1)  # those two customers are still uninvoiced
    assert runs.billing_run_lag(now=at(2024, 5, 1, 2)).lag_seconds is None  # a run for one organization only
    # The resent batch runs (eagerly here) and the run closes as succeeded, every customer billed once.
    with django_capture_on_commit_callbacks(execute=True):
        runs.billing_run_check(run.id, seen=2, checks=2)
    run.refresh_from_db()
    lost.refresh_from_db()
    assert (run.status, run.batches_reported, run.invoices_created, run.customers_missing) == ("succeeded", 3, 5, 0)
    assert run.oldest_due_at is None and run.finished_at is not None and lost.dispatches == 3
    assert sorted(Invoice.objects.values_list("customer_id", flat=True)) == sorted(c.id for c in customers)


@pytest.mark.django_db
def test_retries_stop_after_the_limit_and_a_late_batch_still_closes_the_run(
    organization, monkeypatch, django_capture_on_commit_callbacks
):
    _customers(organization, 3)
    monkeypatch.setattr(runs, "BATCH_SIZE", 2)
    monkeypatch.setattr(runs, "MAX_RETRIES", 1)
    run, _ = runs.billing_run_start(AT, organization=organization, trigger="beat")
    _billed(run, 0)
    with django_capture_on_commit_callbacks(execute=False):
        assert runs.billing_run_check(run.id, seen=1, checks=1) == "retried"
    with django_capture_on_commit_callbacks(execute=False) as sent:
        assert runs.billing_run_check(run.id, seen=1, checks=2) == "incomplete"
    assert sent == []  # no more looks: the hourly sweep finds those customers still due
    _billed(run, 1)  # the broker redelivers the lost message after its visibility timeout
    run.refresh_from_db()
    assert run.status == "succeeded" and run.invoices_created == 3


@pytest.mark.django_db
def test_a_batch_delivered_twice_is_billed_and_counted_once(organization, monkeypatch):
    _customers(organization, 2)
    run, _ = runs.billing_run_start(AT, organization=organization, trigger="beat")
    batch = run.batches.get()
    assert runs.billing_run_batch(run.id, batch.customer_ids, at=AT, batch_id=batch.id) == 2
    assert runs.billing_run_batch(run.id, batch.customer_ids, at=AT, batch_id=batch.id) == 0
    run.refresh_from_db()
    assert (run.status, run.batches_reported, run.invoices_created) == ("succeeded", 1, 2)


@pytest.mark.django_db
def test_the_sweep_bills_everything_and_its_watchdog_closes_the_run(organization, django_capture_on_commit_callbacks):
    from invoicing import tasks

    _customers(organization, 3)
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.billing_sweep(AT.isoformat()) == 3
    run = BillingRun.objects.get()
    assert (run.status, run.trigger, run.invoices_created, run.batches_reported) == ("succeeded", "beat", 3, 1)
    assert run.oldest_due_at is None
    lag = runs.billing_run_lag(now=at(2024, 5, 1, 2))
    assert lag.lag_seconds == 0 and lag.sweep_age_seconds == 3600


@pytest.mark.django_db
def test_a_run_whose_watchdog_was_lost_is_closed_by_the_next_sweep(organization, monkeypatch):
    _customers(organization, 2)
    run, _ = runs.billing_run_start(AT, organization=None, trigger="beat")
    BillingRun.objects.filter(id=run.id).update(created_at=at(2024, 5, 1, 1))
    assert runs.billing_runs_close_stale(now=at(2024, 5, 1, 2)) == 0
    assert runs.billing_runs_close_stale(now=at(2024, 5, 1, 4)) == 1
    run.refresh_from_db()
    assert run.status == "incomplete" and run.customers_missing == 2 and run.finished_at is not None
    # The lag gauge: the oldest of those customers' billings has been due since May 1st, 00:00.
    assert runs.billing_run_lag(now=at(2024, 5, 7)).lag_seconds == 6 * 86400


# --- PDFs whose task was lost ------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_pdf_sweeper_renders_finalized_invoices_that_have_none(organization, settings, tmp_path, capsys):
    from datetime import timedelta
    from io import StringIO

    from django.core.management import call_command
    from django.utils import timezone

    from invoicing import tasks
    from invoicing.services.documents import documents_missing_pdf

    settings.MEDIA_ROOT = str(tmp_path)
    settings.INVOICE_PDF_ON_FINALIZE = False  # the PDF tasks of the billing run are "lost"
    _customers(organization, 3)
    run, _ = runs.billing_run_start(AT, organization=organization, trigger="command")
    _billed(run, 0)
    settings.INVOICE_PDF_ON_FINALIZE = True
    invoices = list(Invoice.objects.order_by("id"))
    assert len(invoices) == 3 and not any(i.file for i in invoices)
    assert len(documents_missing_pdf()) == 0  # just finalized: their tasks may still be queued
    later = timezone.now() + timedelta(minutes=11)
    assert sorted(documents_missing_pdf(now=later).invoices) == [i.id for i in invoices]

    out = StringIO()
    call_command("regenerate_pdfs", "--dry-run", "--grace-minutes", "0", stdout=out)
    assert "dry run: 3 invoice(s), 0 credit note(s) without a PDF" in out.getvalue()
    assert not Invoice.objects.exclude(file="").exists()
    call_command("regenerate_pdfs", "--grace-minutes", "0", "--limit", "1", "--no-progress", stdout=out)
    assert "1 PDF(s) rendered, 0 failed" in out.getvalue()
    Invoice.objects.filter(id__in=[i.id for i in invoices]).update(finalized_at=timezone.now() - timedelta(hours=1))
    assert tasks.pdfs_sweep() == 2  # the beat sweeper (eager here) renders the others
    assert not Invoice.objects.filter(file="").exists() and len(documents_missing_pdf()) == 0
