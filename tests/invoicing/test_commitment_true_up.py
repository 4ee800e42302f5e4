"""Minimum commitment (docs/billing-semantics.md §5.8) measured on every charge fee of the commitment period."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from catalog.models import Commitment
from invoicing.billing.run import customer_bill
from invoicing.models import Fee
from invoicing.services.advance import pay_in_advance_fees
from invoicing.services.lifecycle import invoice_void
from tests.factories.invoicing import add_events, make_charge, make_customer, make_metric, make_plan, subscribe

pytestmark = pytest.mark.django_db


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def _yearly_plan(organization):
    plan = make_plan(organization, amount_cents=10_000, interval="yearly", bill_charges_monthly=True)
    Commitment.objects.create(plan=plan, commitment_type="minimum_commitment", amount_cents=1_000_000)
    advance = make_metric(organization, "advance_metered", "sum_agg", field_name="total")
    metered = make_metric(organization, "metered", "sum_agg", field_name="total")
    recurring = make_metric(organization, "recurring_advance", "sum_agg", field_name="total", recurring=True)
    make_charge(plan, advance, properties={"amount": "1"}, pay_in_advance=True)
    make_charge(plan, metered, properties={"amount": "1"})
    make_charge(plan, recurring, properties={"amount": "1"}, pay_in_advance=True)
    return plan


def _commitment_fees(invoice):
    return list(invoice.fees.filter(fee_type="commitment").values_list("amount_cents", flat=True))


def test_yearly_plan_billing_charges_monthly(organization):
    """commitments/minimum/in_arrears/calendar/yearly_spec: started 5 March 2024, 302/366 of the year →
    commitment 825,137 − base 8,251 − March usage 100 (billed on 1 April) − in-advance fees
    200 + 3,000 + 5,500 = **808,086** on the invoice of 1 January."""
    customer = make_customer(organization)
    plan = _yearly_plan(organization)
    sub = subscribe(customer, plan, at(2024, 3, 5, 10))
    add_events(sub, "advance_metered", [at(2024, 3, 5, 11)], total=2)
    add_events(sub, "metered", [at(2024, 3, 5, 11)], total=1)
    add_events(sub, "advance_metered", [at(2024, 3, 5, 11)], total=30)
    pay_in_advance_fees(organization, external_subscription_ids=[sub.external_id], now=at(2024, 3, 5, 12))
    [april] = customer_bill(customer.id, at=at(2024, 4, 1, 1))
    assert _commitment_fees(april) == []
    assert april.fees.get(charge__billable_metric__code="metered").amount_cents == 100
    add_events(sub, "advance_metered", [at(2024, 8, 5, 10)], total=55)
    pay_in_advance_fees(organization, external_subscription_ids=[sub.external_id], now=at(2024, 8, 5, 11))
    invoices = customer_bill(customer.id, at=at(2025, 1, 1, 1))
    assert [_commitment_fees(i) for i in invoices] == [[]] * 8 + [[808_086]]
    final = invoices[-1]
    assert final.fees.get(fee_type="subscription").amount_cents == 8251


def test_fees_of_a_voided_invoice_do_not_count(organization):
    customer = make_customer(organization)
    plan = _yearly_plan(organization)
    sub = subscribe(customer, plan, at(2024, 3, 5, 10))
    add_events(sub, "metered", [at(2024, 3, 5, 11)], total=1000)
    [april] = customer_bill(customer.id, at=at(2024, 4, 1, 1))
    invoice_void(organization, invoice_id=april.id)
    invoices = customer_bill(customer.id, at=at(2025, 1, 1, 1))
    assert _commitment_fees(invoices[-1]) == [825_137 - 8251]
    assert Fee.objects.filter(invoice=april, amount_cents=100_000).exists()


def test_monthly_plan_counts_pay_in_advance_fees(organization):
    """A monthly commitment of 1,000,000 with 10,000 base, 1,000 in arrears and 500 paid in advance → 988,500."""
    customer = make_customer(organization)
    plan = make_plan(organization, amount_cents=10_000)
    Commitment.objects.create(plan=plan, commitment_type="minimum_commitment", amount_cents=1_000_000)
    calls = make_metric(organization, "calls")
    seats = make_metric(organization, "seats")
    make_charge(plan, calls, properties={"amount": "10"})
    make_charge(plan, seats, properties={"amount": "5"}, pay_in_advance=True, invoiceable=False)
    sub = subscribe(customer, plan, at(2024, 1, 1))
    add_events(sub, "calls", [at(2024, 1, 5)])
    add_events(sub, "seats", [at(2024, 1, 6)])
    pay_in_advance_fees(organization, external_subscription_ids=[sub.external_id], now=at(2024, 1, 7))
    [invoice] = customer_bill(customer.id, at=at(2024, 2, 1, 1))
    assert _commitment_fees(invoice) == [988_500]
