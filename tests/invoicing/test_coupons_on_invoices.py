"""Coupons consumed on real invoices (docs/billing-semantics.md §6.1 and §8), end to end through the billing run."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from catalog.models import AppliedCoupon, ChargeTax, CouponTarget
from invoicing.billing.run import customer_bill
from invoicing.services import invoice_finalize
from tests.factories.catalog import AppliedCouponFactory, CouponFactory
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

pytestmark = pytest.mark.django_db


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def _apply(customer, **coupon):
    applied = {k: coupon.pop(k) for k in ("frequency", "frequency_duration") if k in coupon}
    created = CouponFactory(organization=customer.organization, **coupon)
    extra = {}
    if applied.get("frequency") == "recurring":
        extra["frequency_duration_remaining"] = applied.get("frequency_duration")
    if created.coupon_type == "percentage":
        extra.update(amount_cents=None, amount_cents_remaining=None, amount_currency=None)
        extra["percentage_rate"] = created.percentage_rate
    return AppliedCouponFactory(
        coupon=created, organization=customer.organization, customer=customer, **applied, **extra
    )


def _bill_months(customer, months):
    return [customer_bill(customer.id, at=at(2024, m, 1, 1))[0] for m in months]


def _customer_on_plan(organization, amount_cents=1000):
    customer = make_customer(organization, currency="USD")
    subscribe(customer, make_plan(organization, amount_cents=amount_cents), at(2024, 1, 1))
    return customer


def test_once_fixed_amount_carries_over_until_used(organization):
    customer = _customer_on_plan(organization)
    applied = _apply(customer, amount_cents=1500)
    first, second, third = _bill_months(customer, [2, 3, 4])
    assert [i.coupons_amount_cents for i in (first, second, third)] == [1000, 500, 0]
    assert [i.total_amount_cents for i in (first, second, third)] == [0, 500, 1000]
    applied.refresh_from_db()
    assert (applied.amount_cents_remaining, applied.status) == (0, "terminated")
    assert first.credits[0]["item_type"] == "coupon" and first.credits[0]["amount_cents"] == 1000


def test_recurring_fixed_amount_applies_in_full_each_period_and_loses_the_rest(organization):
    customer = _customer_on_plan(organization)
    applied = _apply(customer, amount_cents=1500, frequency="recurring", frequency_duration=2)
    invoices = _bill_months(customer, [2, 3, 4])
    assert [i.coupons_amount_cents for i in invoices] == [1000, 1000, 0]
    applied.refresh_from_db()
    assert (applied.frequency_duration_remaining, applied.status) == (0, "terminated")


def test_forever_percentage_never_ends(organization):
    customer = _customer_on_plan(organization)
    applied = _apply(customer, coupon_type="percentage", percentage_rate=Decimal("12.5"), frequency="forever")
    invoices = _bill_months(customer, [2, 3, 4])
    assert [i.coupons_amount_cents for i in invoices] == [125, 125, 125]
    applied.refresh_from_db()
    assert applied.status == "active"


def test_percentage_once_applies_to_one_invoice(organization):
    customer = _customer_on_plan(organization)
    _apply(customer, coupon_type="percentage", percentage_rate=Decimal("10"), frequency="once")
    assert [i.coupons_amount_cents for i in _bill_months(customer, [2, 3])] == [100, 0]


def test_an_expired_coupon_already_applied_keeps_working(organization):
    customer = _customer_on_plan(organization)
    applied = _apply(customer, amount_cents=300, expiration="time_limit", expiration_at=at(2024, 1, 5))
    [invoice] = _bill_months(customer, [2])
    assert invoice.coupons_amount_cents == 300
    applied.refresh_from_db()
    assert applied.status == "terminated"


def test_drafts_take_coupons_only_at_finalization(organization):
    customer = make_customer(organization, currency="USD", invoice_grace_period=3)
    subscribe(customer, make_plan(organization, amount_cents=1000), at(2024, 1, 1))
    applied = _apply(customer, amount_cents=400)
    [draft] = customer_bill(customer.id, at=at(2024, 2, 1, 1))
    assert (draft.status, draft.coupons_amount_cents, draft.total_amount_cents) == ("draft", 0, 1000)
    assert AppliedCoupon.objects.get(id=applied.id).amount_cents_remaining == 400
    final = invoice_finalize(organization, invoice_id=draft.id, now=at(2024, 2, 4, 1))
    assert (final.coupons_amount_cents, final.total_amount_cents) == (400, 600)
    assert AppliedCoupon.objects.get(id=applied.id).amount_cents_remaining == 0


def test_taxes_on_invoice_spec_mixed_rates_end_to_end(organization):
    """taxes_on_invoice_spec: 10,000 (10 %) + 5,000 (0 %) + 3,000 and 2,000 (20 %), coupon 1,000
    spread 500/250/150/100 → taxes 950/0/570/380 = 1,900, total 20,900."""
    customer = make_customer(organization, currency="USD")
    plan = make_plan(organization, amount_cents=10_000)
    tax_plan(plan, make_tax(organization, "10"))
    zero, twenty = make_tax(organization, "0"), make_tax(organization, "20")
    sub = subscribe(customer, plan, at(2024, 1, 1))
    for code, amount, tax in (("fx", "50", zero), ("cards", "30", twenty), ("cards2", "20", twenty)):
        charge = make_charge(plan, make_metric(organization, code), properties={"amount": amount})
        ChargeTax.objects.create(charge=charge, tax=tax)
        add_events(sub, code, [at(2024, 1, 10)])
    _apply(customer, amount_cents=1000)
    [invoice] = _bill_months(customer, [2])
    assert invoice.fees_amount_cents == 20_000
    assert invoice.coupons_amount_cents == 1000
    assert invoice.taxes_amount_cents == 1900
    assert invoice.total_amount_cents == 20_900
    spread = sorted((f.amount_cents, f.precise_coupons_amount_cents, f.taxes_amount_cents) for f in invoice.fees.all())
    assert spread == [(2000, 100, 380), (3000, 150, 570), (5000, 250, 0), (10_000, 500, 950)]
    rows = sorted((t.tax_rate, t.amount_cents) for t in invoice.applied_taxes.all())
    assert rows == [(0, 0), (10, 950), (20, 950)]


def test_coupons_breakdown_spec_metric_then_plan_then_rest_end_to_end(organization):
    """coupons_breakdown_spec: 8 charges on 2 plans; coupons applied unlimited (500), plan-limited
    (1,000 on plan 2), metric-limited (2,000 on bm1+bm2) are used metric → plan → rest:
    coupons 3,500, sub-total 16,500, taxes 1,889 (1,411 + 479), total 18,389."""
    customer = make_customer(organization, currency="USD")
    vat10, vat20 = make_tax(organization, "10"), make_tax(organization, "20")
    plans = [make_plan(organization, amount_cents=0), make_plan(organization, amount_cents=0)]
    metrics = {}
    for index, plan in enumerate(plans):
        sub = subscribe(customer, plan, at(2024, 1, 1))
        for n, (dollars, tax) in enumerate(((10, vat10), (20, vat20), (30, vat10), (40, vat10)), start=1):
            code = f"bm{index * 4 + n}"
            metrics[code] = make_metric(organization, code)
            charge = make_charge(plan, metrics[code], properties={"amount": str(dollars)})
            ChargeTax.objects.create(charge=charge, tax=tax)
            add_events(sub, code, [at(2024, 1, 10)])
    _apply(customer, amount_cents=500, code="coupon3")
    plan_limited = _apply(customer, amount_cents=1000, code="coupon2", limited_plans=True)
    CouponTarget.objects.create(coupon=plan_limited.coupon, plan=plans[1])
    metric_limited = _apply(customer, amount_cents=2000, code="coupon1", limited_billable_metrics=True)
    for code in ("bm1", "bm2"):
        CouponTarget.objects.create(coupon=metric_limited.coupon, billable_metric=metrics[code])

    [invoice] = _bill_months(customer, [2])
    assert invoice.fees_amount_cents == 20_000
    assert invoice.coupons_amount_cents == 3500
    assert invoice.sub_total_excluding_taxes_amount_cents == 16_500
    assert invoice.taxes_amount_cents == 1889
    assert sorted(t.amount_cents for t in invoice.applied_taxes.all()) == [479, 1411]
    assert invoice.total_amount_cents == 18_389
    assert [c["code"] for c in invoice.credits] == ["coupon1", "coupon2", "coupon3"]
