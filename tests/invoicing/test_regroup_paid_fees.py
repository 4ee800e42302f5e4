"""`regroup_paid_fees: "invoice"` (docs/billing-semantics.md §5.3): paid, non-invoiceable pay-in-advance fees
are grouped on an `advance_charges` invoice at the end of their period."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command

from invoicing import tasks
from invoicing.models import Fee, Invoice
from invoicing.services.advance import paid_fees_regroup, pay_in_advance_fees
from invoicing.services.lifecycle import fee_update
from subscriptions.services import subscription_terminate
from tests.factories.invoicing import (
    add_events,
    make_charge,
    make_customer,
    make_metric,
    make_plan,
    make_tax,
    subscribe,
    tax_plan,
)
from webhooks.models import WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def _setup(organization, *, regroup="invoice", code="seats", tax="20"):
    customer = make_customer(organization)
    plan = make_plan(organization, amount_cents=0)
    if tax:
        tax_plan(plan, make_tax(organization, tax))
    metric = make_metric(organization, code)
    charge = make_charge(
        plan,
        metric,
        properties={"amount": "10"},
        pay_in_advance=True,
        invoiceable=False,
        regroup_paid_fees=regroup,
    )
    sub = subscribe(customer, plan, at(2024, 5, 1))
    return customer, sub, charge


def _fees(organization, sub, days):
    add_events(sub, "seats", [at(2024, 5, d, 9) for d in days])
    fees = pay_in_advance_fees(organization, external_subscription_ids=[sub.external_id], now=at(2024, 5, 20))
    assert [f.invoice_id for f in fees] == [None] * len(days)
    return sorted(fees, key=lambda f: f.properties["timestamp"])


def _pay(organization, fee, when):
    return fee_update(organization, fee_id=fee.id, payment_status="succeeded", now=when)


def test_paid_fees_are_grouped_at_the_period_end_on_a_paid_invoice(organization, api):
    WebhookEndpoint.objects.create(organization=organization, webhook_url="http://127.0.0.1:9/hook")
    customer, sub, _ = _setup(organization)
    first, second, third = _fees(organization, sub, [2, 3, 4])
    _pay(organization, first, at(2024, 5, 10))
    _pay(organization, second, at(2024, 5, 11))

    assert paid_fees_regroup(customer.id, at=at(2024, 5, 31, 23)) == []  # the period has not ended
    [invoice] = paid_fees_regroup(customer.id, at=at(2024, 6, 1, 0, 10))
    assert invoice.invoice_type == "advance_charges"
    assert (invoice.fees_amount_cents, invoice.taxes_amount_cents, invoice.total_amount_cents) == (2000, 400, 2400)
    assert (invoice.status, invoice.payment_status, invoice.total_paid_amount_cents) == ("finalized", "succeeded", 2400)
    assert invoice.total_due_amount_cents == 0
    assert invoice.number and not invoice.number.endswith("DRAFT")
    assert set(invoice.fees.values_list("id", flat=True)) == {first.id, second.id}
    period = invoice.invoice_subscriptions.get()
    assert period.invoicing_reason == "in_advance_charge_periodic"
    assert (period.charges_from_datetime, period.charges_to_datetime) == (at(2024, 5, 1), at(2024, 6, 1))
    assert Fee.objects.get(id=third.id).invoice_id is None  # not paid: not regrouped

    assert paid_fees_regroup(customer.id, at=at(2024, 6, 1, 1)) == []  # run twice: nothing more
    response = api.put(f"/api/v1/fees/{first.id}", {"fee": {"payment_status": "failed"}}, format="json")
    assert response.status_code == 405 and response.json()["code"] == "invoiced_fee"

    created = WebhookDelivery.objects.filter(webhook_type="invoice.created").order_by("-created_at").first()
    assert created.payload["invoice"]["payment_status"] == "succeeded"
    assert created.payload["invoice"]["invoice_type"] == "advance_charges"

    # paid after its period's regroup invoice: on the next period's
    _pay(organization, third, at(2024, 6, 5))
    assert paid_fees_regroup(customer.id, at=at(2024, 6, 30)) == []
    [late] = paid_fees_regroup(customer.id, at=at(2024, 7, 1, 0, 10))
    assert late.fees_amount_cents == 1000 and late.total_amount_cents == 1200
    assert late.invoice_subscriptions.get().charges_from_datetime == at(2024, 6, 1)


def test_fees_of_charges_without_regroup_stay_uninvoiced(organization):
    customer, sub, _ = _setup(organization, regroup=None)
    [fee] = _fees(organization, sub, [2])
    _pay(organization, fee, at(2024, 5, 10))
    assert paid_fees_regroup(customer.id, at=at(2024, 6, 2)) == []
    assert Fee.objects.get(id=fee.id).invoice_id is None


def test_termination_regroups_at_the_termination(organization):
    customer, sub, _ = _setup(organization, tax=None)
    [fee] = _fees(organization, sub, [2])
    _pay(organization, fee, at(2024, 5, 10))
    subscription_terminate(organization, sub, now=at(2024, 5, 15, 12))
    [invoice] = paid_fees_regroup(customer.id, at=at(2024, 5, 15, 13))
    assert invoice.total_amount_cents == 1000
    assert invoice.invoice_subscriptions.get().charges_to_datetime == at(2024, 5, 15, 12)


def test_sweep_task_and_command(organization, django_capture_on_commit_callbacks):
    customer, sub, _ = _setup(organization)
    first, second = _fees(organization, sub, [2, 3])
    _pay(organization, first, at(2024, 5, 10))
    assert tasks.regroup_paid_fees_sweep(at(2024, 6, 1, 1).isoformat()) == 1
    assert Invoice.objects.filter(customer=customer, invoice_type="advance_charges").count() == 1
    _pay(organization, second, at(2024, 6, 2))
    call_command("regroup_paid_fees", "--at", "2024-06-01T02:00:00", "--dry-run")
    assert Invoice.objects.filter(customer=customer, invoice_type="advance_charges").count() == 1
    call_command("regroup_paid_fees", "--at", "2024-07-01T02:00:00")
    assert Invoice.objects.filter(customer=customer, invoice_type="advance_charges").count() == 2


@pytest.mark.django_db(transaction=True)
def test_lago_python_client_marks_fees_paid_and_finds_the_regroup_invoice(lago):
    from lago_python_client.models.fee import Fee as LagoFee

    organization = lago.organization
    customer, sub, _ = _setup(organization)
    first, second = _fees(organization, sub, [2, 3])
    for fee in (first, second):
        updated = lago.client.fees.update(LagoFee(payment_status="succeeded"), str(fee.id))
        assert updated.payment_status == "succeeded"
    # paid now: regrouped at the end of the period that holds today
    assert paid_fees_regroup(customer.id, at=datetime.now(UTC)) == []
    [invoice] = paid_fees_regroup(customer.id, at=datetime.now(UTC) + timedelta(days=32))
    found = lago.client.invoices.find(str(invoice.id))
    assert (found.invoice_type, found.payment_status, found.total_amount_cents) == (
        "advance_charges",
        "succeeded",
        2400,
    )
    assert sorted(f.lago_id for f in found.fees.__root__) == sorted(str(f.id) for f in (first, second))


@pytest.mark.django_db(transaction=True)
def test_concurrent_regroups_make_one_invoice():
    """Three workers regroup the same customer at once (PostgreSQL row locks): one invoice, each fee once."""
    import threading

    from django.db import connection, connections

    from tests.factories.customers import OrganizationFactory

    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL")
    organization = OrganizationFactory()
    customer, sub, _ = _setup(organization)
    fees = _fees(organization, sub, [2, 3, 4])
    for fee in fees:
        _pay(organization, fee, at(2024, 5, 10))
    barrier = threading.Barrier(3)
    results: list[object] = [None] * 3

    def run(index: int) -> None:
        try:
            barrier.wait()
            results[index] = paid_fees_regroup(customer.id, at=at(2024, 6, 1, 1))
        except Exception as exc:  # inspected below
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(len(r) for r in results) == [0, 0, 1], results
    [invoice] = Invoice.objects.filter(customer=customer, invoice_type="advance_charges")
    assert invoice.fees.count() == 3 and invoice.total_amount_cents == 3600
