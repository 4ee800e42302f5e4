"""`bill_fixed_charges_monthly` on yearly and semiannual plans (docs/billing-semantics.md §5.9): the
fixed charges are billed every month (in advance at the month's start, in arrears at its end) while
the subscription fee keeps its yearly or half-yearly period, and usage charges stay on their own
window unless `bill_charges_monthly` is set too."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from invoicing.billing.run import customer_bill
from invoicing.models import InvoiceSubscription
from subscriptions import periods
from subscriptions.models import FixedChargeUnits
from subscriptions.selectors import next_billing_at
from tests.factories.catalog import AddOnFactory, FixedChargeFactory
from tests.factories.invoicing import add_events, make_charge, make_customer, make_metric, make_plan, subscribe

pytestmark = pytest.mark.django_db


def at(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def _fixed(plan, *, amount="10", units=10, **extra):
    add_on = AddOnFactory(organization=plan.organization, code=extra.pop("add_on_code", "seats"), name="Seats")
    return FixedChargeFactory(plan=plan, add_on=add_on, units=Decimal(units), properties={"amount": amount}, **extra)


def _amounts(invoice, fee_type):
    return sorted(f.amount_cents for f in invoice.fees.filter(fee_type=fee_type))


def test_yearly_in_arrears_fixed_charge_billed_every_month_base_fee_yearly(organization, settings):
    """Yearly plan 1,200.00 in arrears, 10 seats × 10.00 in arrears, monthly: eleven invoices of
    10,000 (Jan–Nov), then on 1 January 2026 the December seats 10,000 with the year's 120,000."""
    settings.BILLING_MAX_PERIODS_PER_RUN = 24
    customer = make_customer(organization)
    plan = make_plan(organization, amount_cents=120_000, interval="yearly", bill_fixed_charges_monthly=True)
    _fixed(plan)
    subscribe(customer, plan, at(2025, 1, 1))
    invoices = customer_bill(customer.id, at=at(2026, 1, 1, 1))
    assert len(invoices) == 12
    assert [_amounts(i, "fixed_charge") for i in invoices] == [[10_000]] * 12
    assert [_amounts(i, "subscription") for i in invoices] == [[]] * 11 + [[120_000]]
    february = invoices[0].fees.get(fee_type="fixed_charge")
    assert february.properties["fixed_charges_from_datetime"] == at(2025, 1, 1).isoformat()
    assert february.properties["fixed_charges_to_datetime"] == at(2025, 2, 1).isoformat()
    assert customer_bill(customer.id, at=at(2026, 1, 1, 2)) == []  # billed once


def test_yearly_in_advance_prorated_first_month_then_each_month(organization):
    """Started 19 January, 10 seats × 10.00 in advance, prorated: 10,000 × 13/31 = 4,193.5… → 4,194
    on the starting invoice, then 10,000 on 1 February for February (no base fee: paid in arrears).
    25 seats from 10 February: the increase 15 × 10.00 × 19/28 = 10,178.57… → 10,179 at once
    (the month is the period), and 25,000 on 1 March."""
    from invoicing.services.fixed_charges import fixed_charge_increase_bill

    customer = make_customer(organization)
    plan = make_plan(organization, amount_cents=120_000, interval="yearly", bill_fixed_charges_monthly=True)
    fixed = _fixed(plan, pay_in_advance=True, prorated=True)
    sub = subscribe(customer, plan, at(2025, 1, 19, 10))
    starting, february = customer_bill(customer.id, at=at(2025, 2, 1, 1))
    assert _amounts(starting, "fixed_charge") == [4194]
    assert _amounts(february, "fixed_charge") == [10_000]
    assert _amounts(february, "subscription") == []
    FixedChargeUnits.objects.create(
        organization=organization, subscription=sub, fixed_charge=fixed, units=Decimal(25), timestamp=at(2025, 2, 10)
    )
    increase = fixed_charge_increase_bill(sub.id, fixed.id, at=at(2025, 2, 10))
    assert increase is not None and _amounts(increase, "fixed_charge") == [10_179]
    assert fixed_charge_increase_bill(sub.id, fixed.id, at=at(2025, 2, 10)) is None  # billed once
    [march] = customer_bill(customer.id, at=at(2025, 3, 1, 1))
    assert _amounts(march, "fixed_charge") == [25_000]


def test_yearly_in_advance_base_fee_stays_yearly(organization):
    """Plan 1,200.00 yearly in advance from 1 January: 120,000 and the January seats 10,000 on the
    starting invoice, then 10,000 a month with no base fee until the next year."""
    customer = make_customer(organization)
    plan = make_plan(
        organization, amount_cents=120_000, interval="yearly", pay_in_advance=True, bill_fixed_charges_monthly=True
    )
    _fixed(plan, pay_in_advance=True)
    subscribe(customer, plan, at(2025, 1, 1))
    starting, february, march = customer_bill(customer.id, at=at(2025, 3, 1, 1))
    assert (_amounts(starting, "subscription"), _amounts(starting, "fixed_charge")) == ([120_000], [10_000])
    assert (_amounts(february, "subscription"), _amounts(february, "fixed_charge")) == ([], [10_000])
    assert (_amounts(march, "subscription"), _amounts(march, "fixed_charge")) == ([], [10_000])


def test_semiannual_usage_charges_stay_on_the_half_year(organization, settings):
    """Semiannual plan, fixed charges monthly but not usage charges: the monthly invoices carry the
    seats only; the usage of the half year (3 events × 2.00 = 600) is billed on 1 July with the
    June seats and the base fee 30,000."""
    settings.BILLING_MAX_PERIODS_PER_RUN = 12
    customer = make_customer(organization)
    plan = make_plan(organization, amount_cents=30_000, interval="semiannual", bill_fixed_charges_monthly=True)
    metric = make_metric(organization, "calls")
    make_charge(plan, metric, properties={"amount": "2"})
    _fixed(plan)
    sub = subscribe(customer, plan, at(2025, 1, 1))
    add_events(sub, "calls", [at(2025, 1, 5), at(2025, 3, 5), at(2025, 6, 30)])
    invoices = customer_bill(customer.id, at=at(2025, 7, 1, 1))
    assert len(invoices) == 6
    assert [_amounts(i, "charge") for i in invoices] == [[]] * 5 + [[600]]
    assert [_amounts(i, "fixed_charge") for i in invoices] == [[10_000]] * 6
    assert _amounts(invoices[-1], "subscription") == [30_000]
    usage = invoices[-1].fees.get(fee_type="charge")
    assert usage.properties["charges_from_datetime"] == at(2025, 1, 1).isoformat()
    rows = InvoiceSubscription.objects.filter(subscription=sub).order_by("charges_to_datetime")
    assert [r.charges_to_datetime.month for r in rows] == [2, 3, 4, 5, 6, 7]


def test_bill_charges_monthly_only_keeps_fixed_charges_yearly(organization, settings):
    """Usage monthly, fixed charges not: the seats are billed once, at the year's end (10,000)."""
    settings.BILLING_MAX_PERIODS_PER_RUN = 24
    customer = make_customer(organization)
    plan = make_plan(organization, amount_cents=0, interval="yearly", bill_charges_monthly=True)
    _fixed(plan)
    subscribe(customer, plan, at(2025, 1, 1))
    invoices = customer_bill(customer.id, at=at(2026, 1, 1, 1))
    assert [_amounts(i, "fixed_charge") for i in invoices] == [[]] * 11 + [[10_000]]


def test_termination_closes_the_month_of_a_monthly_fixed_charge(organization):
    """Terminated on 20 March, prorated in arrears: 10 × 20/31 × 10.00 = 64.516… → 6,452 for March;
    the yearly base fee 120,000 × 79/365 = 25,972.6… → 25,973."""
    customer = make_customer(organization)
    plan = make_plan(organization, amount_cents=120_000, interval="yearly", bill_fixed_charges_monthly=True)
    _fixed(plan, prorated=True)
    sub = subscribe(customer, plan, at(2025, 1, 1))
    customer_bill(customer.id, at=at(2025, 3, 1, 1))
    sub.status = "terminated"
    sub.terminated_at = at(2025, 3, 20, 12)
    sub.save()
    [closing] = customer_bill(customer.id, at=at(2025, 3, 21))
    assert _amounts(closing, "fixed_charge") == [6452]
    assert _amounts(closing, "subscription") == [25_973]


def test_schedule_windows_and_next_billing(organization):
    customer = make_customer(organization)
    plan = make_plan(organization, amount_cents=0, interval="yearly", bill_fixed_charges_monthly=True)
    sub = subscribe(customer, plan, at(2025, 1, 1))
    assert next_billing_at(sub, at(2025, 1, 10)) == at(2025, 2, 1)
    schedule = periods.Schedule(
        interval=periods.Interval.YEARLY,
        billing_time=periods.BillingTime.CALENDAR,
        started_at=at(2025, 1, 1),
        bill_fixed_charges_monthly=True,
    )
    assert periods.charges_window_at(schedule, at(2025, 5, 3)) == periods.Window(at(2025, 1, 1), at(2026, 1, 1))
    assert periods.invoice_window_at(schedule, at(2025, 5, 3)) == periods.Window(at(2025, 5, 1), at(2025, 6, 1))
    month = periods.fixed_charges_period_at(schedule, at(2025, 5, 3))
    assert (month.full.start, month.full.end) == (at(2025, 5, 1), at(2025, 6, 1))
    monthly_plan = periods.Schedule(
        interval=periods.Interval.MONTHLY,
        billing_time=periods.BillingTime.CALENDAR,
        started_at=at(2025, 1, 1),
        bill_fixed_charges_monthly=True,
    )
    assert periods.invoice_window_at(monthly_plan, at(2025, 5, 3)) == periods.Window(at(2025, 5, 1), at(2025, 6, 1))


def test_minimum_commitment_counts_every_month_of_fixed_charges(organization, settings):
    """Commitment 250,000 a year: base 120,000 + 12 × 10,000 seats in arrears = 240,000 → a true-up
    of 10,000 on the invoice that closes the year (the eleven earlier months count)."""
    from catalog.models import Commitment

    settings.BILLING_MAX_PERIODS_PER_RUN = 24
    customer = make_customer(organization)
    plan = make_plan(organization, amount_cents=120_000, interval="yearly", bill_fixed_charges_monthly=True)
    Commitment.objects.create(plan=plan, commitment_type="minimum_commitment", amount_cents=250_000)
    _fixed(plan)
    subscribe(customer, plan, at(2025, 1, 1))
    invoices = [
        i
        for month in range(2, 14)
        for i in customer_bill(customer.id, at=at(2025 + month // 13, (month - 1) % 12 + 1, 1, 1))
    ]
    assert [_amounts(i, "commitment") for i in invoices] == [[]] * 11 + [[10_000]]
