"""The invoicing commands ops run by hand: billing (dry run, organization by name), listing runs."""

from __future__ import annotations

from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from invoicing.models import BillingRun, Invoice
from tests.factories.customers import OrganizationFactory
from tests.factories.invoicing import add_events, make_charge, make_customer, make_metric, make_plan, subscribe

pytestmark = pytest.mark.django_db

AT = "2024-05-01T01:00:00Z"


def _due(organization, n=2):
    plan = make_plan(organization, amount_cents=1000)
    make_charge(plan, make_metric(organization, "calls"), properties={"amount": "1"})
    customers = []
    for _ in range(n):
        customer = make_customer(organization)
        add_events(
            subscribe(customer, plan, datetime(2024, 4, 1, tzinfo=UTC)), "calls", [datetime(2024, 4, 5, tzinfo=UTC)]
        )
        customers.append(customer)
    return customers


def run(*args):
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_run_billing_dry_run_lists_what_is_due_and_writes_nothing(organization):
    customers = _due(organization)
    out, _ = run("run_billing", "--at", AT, "--dry-run")
    assert BillingRun.objects.count() == 0 and Invoice.objects.count() == 0
    for customer in customers:
        assert f"would bill customer {customer.external_id} ({customer.id}): 1 subscription(s)" in out
    assert "due since 2024-05-01T00:00:00+00:00" in out
    assert "2 customers, 2 subscriptions due (nothing written)" in out


def test_run_billing_by_organization_name_bills_and_records_the_run(organization):
    _due(organization)
    other = OrganizationFactory(name="Other")
    _due(other, 1)
    out, err = run("run_billing", "--at", AT, "--organization", organization.name)
    assert "2 invoices created, 0 customers failed" in out and "(succeeded)" in out
    assert "2/2 customers (100%" in err  # progress on stderr, one line per tenth when not a terminal
    run_row = BillingRun.objects.get()
    assert (run_row.organization, run_row.status, run_row.batches_reported) == (organization, "succeeded", 1)
    assert not Invoice.objects.filter(organization=other).exists()


def test_run_billing_refuses_an_ambiguous_organization_name(organization):
    _due(organization)
    OrganizationFactory(name=organization.name)
    with pytest.raises(CommandError, match="several organizations are named"):
        run("run_billing", "--at", AT, "--organization", organization.name)
    assert BillingRun.objects.count() == 0 and Invoice.objects.count() == 0


def test_list_billing_runs_shows_runs_and_one_run_with_its_failures(organization, monkeypatch):
    from invoicing.billing import fees

    customers = _due(organization)

    def broken(organization, *, external_subscription_id, **kwargs):
        raise ValueError("graduated ranges overlap")

    monkeypatch.setattr(fees, "price_charge", broken)
    run("run_billing", "--at", AT, "--no-progress")
    run_row = BillingRun.objects.get()
    assert run_row.status == "failed" and run_row.customers_failed == 2
    out, _ = run("list_billing_runs")
    assert str(run_row.id) in out and "failed" in out and "failed=2" in out and "1 run(s)" in out
    out, _ = run("list_billing_runs", "--status", "succeeded")
    assert "0 run(s)" in out
    out, _ = run("list_billing_runs", "--run", str(run_row.id))
    for customer in customers:
        assert f"failed  {customer.external_id} ({customer.id}): ValueError('graduated ranges overlap')" in out
    with pytest.raises(CommandError):
        run("list_billing_runs", "--run", "nope")


def test_finalize_drafts_twin_of_the_beat_entry(organization):
    customer = make_customer(organization, invoice_grace_period=2)
    subscribe(customer, make_plan(organization, amount_cents=500), datetime(2024, 4, 1, tzinfo=UTC))
    run("run_billing", "--at", AT, "--no-progress")
    draft = Invoice.objects.get()
    assert draft.status == "draft" and draft.finalize_at == datetime(2024, 5, 3, tzinfo=UTC)
    out, _ = run("finalize_drafts", "--at", "2024-05-02T00:00:00Z")
    assert "dry run" not in out and "0 draft(s) finalized" in out  # not due yet
    out, _ = run("finalize_drafts", "--at", "2024-05-03T01:00:00Z", "--dry-run")
    assert f"would finalize draft {draft.id} of customer {customer.external_id}" in out
    draft.refresh_from_db()
    assert draft.status == "draft"
    out, err = run("finalize_drafts", "--at", "2024-05-03T01:00:00Z", "--organization", organization.name)
    assert "1 draft(s) finalized, 0 failed" in out and "1/1 drafts (100%" in err
    draft.refresh_from_db()
    assert draft.status == "finalized" and draft.number


def test_mark_overdue_twin_of_the_beat_entry(organization):
    from datetime import timedelta

    from django.utils import timezone

    from tests.factories.payments import finalized_invoice

    customer = make_customer(organization)
    late = finalized_invoice(customer, 700, payment_due_date=timezone.now().date() - timedelta(days=3))
    finalized_invoice(customer, 800)  # not due yet
    out, _ = run("mark_overdue", "--dry-run")
    assert f"would mark overdue {late.number}" in out and "1 invoice(s) overdue (nothing written)" in out
    assert not Invoice.objects.filter(payment_overdue=True).exists()
    out, _ = run("mark_overdue", "--organization", str(organization.id), "--no-progress")
    assert "1 invoice(s) marked overdue" in out
    late.refresh_from_db()
    assert late.payment_overdue
    assert "0 invoice(s) marked overdue" in run("mark_overdue")[0]  # twice: nothing more


def test_reconcile_pay_in_advance_fees_takes_an_organization_name(organization):
    out, _ = run("reconcile_pay_in_advance_fees", "--dry-run", "--organization", organization.name)
    assert "Traceback" not in out
    with pytest.raises(CommandError, match="no organization named"):
        run("reconcile_pay_in_advance_fees", "--dry-run", "--organization", "Nobody")
