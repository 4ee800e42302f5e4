"""Pay-in-advance charges (docs/billing-semantics.md §5.3): one instant fee per event, billed once."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from invoicing.billing.run import customer_bill
from invoicing.models import Fee, Invoice
from invoicing.services.advance import pay_in_advance_fees
from tests.factories.invoicing import add_events, make_charge, make_customer, make_metric, make_plan, subscribe
from webhooks.models import WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db

NOW = datetime(2024, 5, 20, 12, tzinfo=UTC)


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def _setup(organization, *, model="standard", properties=None, invoiceable=True, aggregation="count_agg"):
    customer = make_customer(organization)
    plan = make_plan(organization, amount_cents=0)
    metric = make_metric(organization, "seats", aggregation, field_name="n" if aggregation == "sum_agg" else None)
    charge = make_charge(
        plan,
        metric,
        model=model,
        properties=properties or {"amount": "10"},
        pay_in_advance=True,
        invoiceable=invoiceable,
    )
    sub = subscribe(customer, plan, at(2024, 5, 1))
    return customer, sub, charge


def test_count_standard_each_event_is_a_fee_of_1000_on_its_own_invoice(organization):
    customer, sub, charge = _setup(organization)
    add_events(sub, "seats", [at(2024, 5, 2), at(2024, 5, 3)])
    fees = pay_in_advance_fees(organization, external_subscription_ids=[sub.external_id], now=NOW)
    assert [f.amount_cents for f in fees] == [1000, 1000]
    assert Invoice.objects.filter(customer=customer).count() == 2
    assert {i.fees_amount_cents for i in Invoice.objects.filter(customer=customer)} == {1000}
    assert pay_in_advance_fees(organization, external_subscription_ids=[sub.external_id], now=NOW) == []
    add_events(sub, "seats", [at(2024, 5, 4)])
    [third] = pay_in_advance_fees(organization, external_subscription_ids=[sub.external_id], now=NOW)
    assert third.units == 1 and third.amount_cents == 1000
    # the period-end invoice does not bill them again
    [periodic] = customer_bill(customer.id, at=at(2024, 6, 1, 1))
    assert not periodic.fees.filter(charge=charge).exists()


def test_graduated_pays_the_difference(organization):
    ranges = [
        {"from_value": 0, "to_value": 2, "per_unit_amount": "0", "flat_amount": "0"},
        {"from_value": 3, "to_value": None, "per_unit_amount": "2", "flat_amount": "0"},
    ]
    _, sub, _ = _setup(organization, model="graduated", properties={"graduated_ranges": ranges})
    add_events(sub, "seats", [at(2024, 5, 2)] * 3)
    fees = pay_in_advance_fees(organization, external_subscription_ids=[sub.external_id], now=NOW)
    assert sorted(f.amount_cents for f in fees) == [0, 0, 200]  # Lago's [0, 0, 200]


def test_not_invoiceable_fee_without_invoice_and_fee_created(organization, api):
    WebhookEndpoint.objects.create(organization=organization, webhook_url="http://127.0.0.1:9/hook")
    _, sub, _ = _setup(organization, invoiceable=False)
    add_events(sub, "seats", [at(2024, 5, 2)])
    [fee] = pay_in_advance_fees(organization, external_subscription_ids=[sub.external_id], now=NOW)
    assert fee.invoice_id is None and fee.amount_cents == 1000
    assert WebhookDelivery.objects.filter(webhook_type="fee.created").count() == 1
    response = api.put(f"/api/v1/fees/{fee.id}", {"fee": {"payment_status": "succeeded"}}, format="json")
    assert response.status_code == 200
    assert response.json()["fee"]["payment_status"] == "succeeded"


def test_ingestion_triggers_the_task(organization, django_capture_on_commit_callbacks, monkeypatch):
    customer, sub, charge = _setup(organization)
    # The clock is set back to NOW below: the charge must exist before the event is received.
    type(charge).objects.filter(id=charge.id).update(created_at=at(2024, 5, 1))
    monkeypatch.setattr("invoicing.services.advance.timezone.now", lambda: NOW)
    with django_capture_on_commit_callbacks(execute=True):
        add_events(sub, "seats", [at(2024, 5, 2)])
    assert Fee.objects.filter(subscription=sub, pay_in_advance=True).count() == 1
    assert Invoice.objects.filter(customer=customer).count() == 1
