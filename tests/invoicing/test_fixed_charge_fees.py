"""Fixed charge fees through the billing run (docs/billing-semantics.md §5.9): in arrears and in advance,
prorated or not, with unit changes, taxes, termination, and the batch path equal to the single one."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from catalog.models import FixedChargeTax
from invoicing.billing.run import customer_bill, customers_bill
from subscriptions.models import FixedChargeUnits
from tests.factories.catalog import AddOnFactory, FixedChargeFactory, TaxFactory
from tests.factories.invoicing import make_customer, make_plan, subscribe

pytestmark = pytest.mark.django_db


def at(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def _fixed(plan, *, amount="10", units=10, **extra):
    add_on = AddOnFactory(organization=plan.organization, code=extra.pop("add_on_code", "seats"), name="Seats")
    return FixedChargeFactory(
        plan=plan, add_on=add_on, units=Decimal(units), properties=extra.pop("properties", {"amount": amount}), **extra
    )


def _set_units(sub, fixed, units, when):
    FixedChargeUnits.objects.create(
        organization=sub.organization, subscription=sub, fixed_charge=fixed, units=Decimal(units), timestamp=when
    )


def _fixed_fees(invoice):
    return [
        (f.amount_cents, format(f.units.normalize(), "f"))
        for f in invoice.fees.filter(fee_type="fixed_charge").order_by("created_at", "amount_cents")
    ]


def test_in_arrears_prorated_seats_changed_on_the_12th(organization):
    """10 seats at 10.00, 25 from 12 January: (10 × 11 + 25 × 20) / 31 seat-months × 10.00 = 196.774… → 19,677."""
    customer = make_customer(organization)
    plan = make_plan(organization, amount_cents=0)
    fixed = _fixed(plan, prorated=True)
    sub = subscribe(customer, plan, at(2025, 1, 1))
    _set_units(sub, fixed, 25, at(2025, 1, 12, 15))
    [invoice] = customer_bill(customer.id, at=at(2025, 2, 1, 1))
    assert _fixed_fees(invoice) == [(19_677, "25")]
    fee = invoice.fees.get(fee_type="fixed_charge")
    assert fee.fixed_charge_id == fixed.id and fee.pay_in_advance is False
    assert fee.total_aggregated_units == Decimal("19.6774193548")


def test_in_arrears_not_prorated_bills_the_units_held_at_the_end(organization):
    customer = make_customer(organization)
    plan = make_plan(organization, amount_cents=0)
    fixed = _fixed(plan)
    sub = subscribe(customer, plan, at(2025, 1, 1))
    _set_units(sub, fixed, 25, at(2025, 1, 12))
    [invoice] = customer_bill(customer.id, at=at(2025, 2, 1, 1))
    assert _fixed_fees(invoice) == [(25_000, "25")]


def test_in_advance_prorated_first_period_then_full(organization):
    """Lago's upgrade scenario: add-ons 1.00 × 10 and 3.00 × 5, prorated, in advance, started 19 July:
    1,000 × 13/31 → 419 and 1,500 × 13/31 → 629 at the start, then 1,000 and 1,500 on 1 August."""
    customer = make_customer(organization)
    plan = make_plan(organization, amount_cents=0)
    _fixed(plan, amount="1", units=10, pay_in_advance=True, prorated=True, code="a")
    _fixed(plan, amount="3", units=5, pay_in_advance=True, prorated=True, code="b", add_on_code="other")
    subscribe(customer, plan, at(2022, 7, 19, 10))
    starting, august = customer_bill(customer.id, at=at(2022, 8, 1, 1))
    assert starting.invoice_subscriptions.get().invoicing_reason == "subscription_starting"
    assert sorted(a for a, _ in _fixed_fees(starting)) == [419, 629]
    assert not starting.fees.filter(fee_type="subscription").exists()  # the plan is paid in arrears
    assert sorted(a for a, _ in _fixed_fees(august)) == [1000, 1500]


def test_in_advance_not_prorated_bills_the_full_period_at_start(organization):
    customer = make_customer(organization)
    plan = make_plan(organization, amount_cents=5000, pay_in_advance=True)
    _fixed(plan, pay_in_advance=True)
    subscribe(customer, plan, at(2025, 1, 19))
    [starting] = customer_bill(customer.id, at=at(2025, 1, 20))
    assert _fixed_fees(starting) == [(10_000, "10")]
    assert starting.fees.get(fee_type="subscription").amount_cents == 2097  # 5,000 × 13/31


def test_graduated_fixed_charge(organization):
    """0–10 at 5.00, then 4.00 + 1.00 flat: 25 units → 50 + 1 + 60 = 111.00."""
    customer = make_customer(organization)
    plan = make_plan(organization, amount_cents=0)
    ranges = [
        {"from_value": 0, "to_value": 10, "per_unit_amount": "5", "flat_amount": "0"},
        {"from_value": 11, "to_value": None, "per_unit_amount": "4", "flat_amount": "1"},
    ]
    _fixed(plan, units=25, charge_model="graduated", properties={"graduated_ranges": ranges})
    subscribe(customer, plan, at(2025, 1, 1))
    [invoice] = customer_bill(customer.id, at=at(2025, 2, 1, 1))
    assert _fixed_fees(invoice) == [(11_100, "25")]


def test_termination_prorates_an_in_arrears_fixed_charge(organization):
    """Terminated on 20 January (the day counts): 10 × 20/31 × 10.00 = 64.516… → 6,452."""
    customer = make_customer(organization)
    plan = make_plan(organization, amount_cents=0)
    _fixed(plan, prorated=True)
    sub = subscribe(customer, plan, at(2025, 1, 1))
    sub.status = "terminated"
    sub.terminated_at = at(2025, 1, 20, 12)
    sub.save()
    [closing] = customer_bill(customer.id, at=at(2025, 1, 21))
    assert closing.invoice_subscriptions.get().invoicing_reason == "subscription_terminating"
    assert _fixed_fees(closing) == [(6452, "10")]


def test_fixed_charge_taxes_apply(organization):
    customer = make_customer(organization)
    plan = make_plan(organization, amount_cents=0)
    fixed = _fixed(plan)
    FixedChargeTax.objects.create(fixed_charge=fixed, tax=TaxFactory(organization=organization, code="vat", rate=20))
    subscribe(customer, plan, at(2025, 1, 1))
    [invoice] = customer_bill(customer.id, at=at(2025, 2, 1, 1))
    invoice.refresh_from_db()
    assert (invoice.fees_amount_cents, invoice.taxes_amount_cents, invoice.total_amount_cents) == (10_000, 2000, 12_000)


def test_batch_equals_single_customer(organization):
    plan = make_plan(organization, amount_cents=1000)
    fixed = _fixed(plan, prorated=True)
    customers = [make_customer(organization) for _ in range(3)]
    for n, customer in enumerate(customers):
        sub = subscribe(customer, plan, at(2025, 1, 1 + n))
        _set_units(sub, fixed, 20 + n, at(2025, 1, 10 + n))
    outcome = customers_bill([c.id for c in customers[:2]], at=at(2025, 2, 1, 1))
    batch = [_fixed_fees(invs[0]) for invs in (outcome.invoices[c.id] for c in customers[:2])]
    [alone] = customer_bill(customers[2].id, at=at(2025, 2, 1, 1))
    # 10 × 9 + 20 × 22 = 530 / 31 → 170.97 ; started the 2nd: 10 × 9 + 21 × 21 = 531 / 31 → 171.29
    assert batch == [[(17_097, "20")], [(17_129, "21")]]
    # started the 3rd: 10 × 9 + 22 × 20 = 530 / 31 → 170.97
    assert _fixed_fees(alone) == [(17_097, "22")]
