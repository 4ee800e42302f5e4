"""The billing run against Lago's worked examples (docs/billing-semantics.md §5, §6), to the cent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from catalog.models import ChargeTax, Commitment
from invoicing.billing import sweep as billing
from invoicing.billing.run import customer_bill
from invoicing.models import Fee, Invoice, InvoiceSubscription
from subscriptions.models import SubscriptionStatus
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


def fees_of(invoice: Invoice) -> list[tuple[str, int]]:
    return sorted((f.fee_type, f.amount_cents) for f in invoice.fees.all())


def test_first_period_prorated_in_advance_with_tax(organization):
    """terminate_pay_in_advance_spec: 5,000 in advance from 8 Feb 2023 → 21/28 → 3,750 + 20 % = 4,500."""
    customer = make_customer(organization)
    plan = make_plan(organization, amount_cents=5000, pay_in_advance=True)
    tax_plan(plan, make_tax(organization, "20"))
    subscribe(customer, plan, at(2023, 2, 8, 10))
    [invoice] = customer_bill(customer.id, at=at(2023, 2, 8, 11))
    assert invoice.fees_amount_cents == 3750
    assert invoice.taxes_amount_cents == 750
    assert invoice.total_amount_cents == 4500
    assert invoice.status == "finalized"
    assert invoice.payment_status == "pending"
    period = invoice.invoice_subscriptions.get()
    assert period.invoicing_reason == "subscription_starting"


def test_first_period_in_customer_timezone(organization):
    """Same plan, customer in Los Angeles: 22 days → 3,929 + 786 = 4,715."""
    customer = make_customer(organization, timezone="America/Los_Angeles")
    plan = make_plan(organization, amount_cents=5000, pay_in_advance=True)
    tax_plan(plan, make_tax(organization, "20"))
    subscribe(customer, plan, at(2023, 2, 8, 0))
    [invoice] = customer_bill(customer.id, at=at(2023, 2, 8, 1))
    assert invoice.total_amount_cents == 4715


def test_anniversary_in_advance_is_not_prorated_then_periodic(organization):
    """upgrade_spec: anniversary in advance from 29 June 2023 → 1,000; on 29 July base + usage."""
    customer = make_customer(organization)
    plan = make_plan(organization, amount_cents=1000, pay_in_advance=True)
    metric = make_metric(organization, "calls")
    make_charge(plan, metric, properties={"amount": "0.10"})
    sub = subscribe(customer, plan, at(2023, 6, 29, 12, 12), billing_time="anniversary")
    [first] = customer_bill(customer.id, at=at(2023, 6, 29, 13))
    assert fees_of(first) == [("subscription", 1000)]
    add_events(sub, "calls", [at(2023, 7, 1, 10)] * 3 + [at(2023, 7, 29, 0, 30)])
    assert customer_bill(customer.id, at=at(2023, 7, 28, 23)) == []
    [second] = customer_bill(customer.id, at=at(2023, 7, 29, 1))
    assert fees_of(second) == [("charge", 30), ("subscription", 1000)]
    period = second.invoice_subscriptions.get()
    assert period.charges_from_datetime == at(2023, 6, 29, 12, 12)
    assert period.charges_to_datetime == at(2023, 7, 29)
    assert period.from_datetime == at(2023, 7, 29)


def test_calendar_in_arrears_bills_on_the_first(organization):
    customer = make_customer(organization)
    plan = make_plan(organization, amount_cents=3100)
    subscribe(customer, plan, at(2024, 1, 1))
    assert customer_bill(customer.id, at=at(2024, 1, 31, 23)) == []
    [invoice] = customer_bill(customer.id, at=at(2024, 2, 1, 0, 5))
    assert fees_of(invoice) == [("subscription", 3100)]
    assert invoice.issuing_date.isoformat() == "2024-02-01"
    assert invoice.invoice_subscriptions.get().invoicing_reason == "subscription_periodic"


def test_termination_closing_invoice(organization):
    """progressive_billing_spec: 3,100 in arrears from 1 Dec, terminated 18 Dec 00:00 → 1,800."""
    customer = make_customer(organization)
    plan = make_plan(organization, amount_cents=3100)
    sub = subscribe(customer, plan, at(2023, 12, 1))
    sub.status = SubscriptionStatus.TERMINATED
    sub.terminated_at = at(2023, 12, 18)
    sub.termination_reason = "manual"
    sub.save()
    [invoice] = customer_bill(customer.id, at=at(2023, 12, 18, 0, 30))
    assert fees_of(invoice) == [("subscription", 1800)]
    assert invoice.invoice_subscriptions.get().invoicing_reason == "subscription_terminating"
    assert customer_bill(customer.id, at=at(2024, 1, 1, 1)) == []


def test_quarterly_termination_counts_32_days(organization):
    """upgrade_proration_spec: quarterly 91,000 from 20 May 10:00, terminated 20 June 10:00 → 32,000."""
    customer = make_customer(organization)
    plan = make_plan(organization, amount_cents=91000, interval="quarterly")
    sub = subscribe(customer, plan, at(2023, 5, 20, 10))
    sub.status = SubscriptionStatus.TERMINATED
    sub.terminated_at = at(2023, 6, 20, 10)
    sub.termination_reason = "manual"
    sub.save()
    [invoice] = customer_bill(customer.id, at=at(2023, 6, 20, 11))
    assert fees_of(invoice) == [("subscription", 32000)]


def test_skip_termination_invoice(organization):
    customer = make_customer(organization)
    plan = make_plan(organization, amount_cents=3100)
    sub = subscribe(customer, plan, at(2023, 12, 1), on_termination_invoice="skip")
    sub.status = SubscriptionStatus.TERMINATED
    sub.terminated_at = at(2023, 12, 18)
    sub.save()
    assert customer_bill(customer.id, at=at(2023, 12, 19)) == []


def test_skip_termination_still_bills_the_periods_before_it(organization):
    """Terminated on 10 January with on_termination_invoice=skip before December was billed:
    December is still invoiced, the closing period is not (mypy found the termination time compared
    with the count of items due: a TypeError)."""
    customer = make_customer(organization)
    plan = make_plan(organization, amount_cents=3100)
    sub = subscribe(customer, plan, at(2023, 12, 1), on_termination_invoice="skip")
    sub.status = SubscriptionStatus.TERMINATED
    sub.terminated_at = at(2024, 1, 10)
    sub.save()
    # The sweep that finds who is due (it stops at the first item) sees December, and crashed too.
    due = billing.billing_due(at(2024, 1, 11), organization=organization)
    assert list(due) == [customer.id] and due[customer.id].oldest == at(2024, 1, 1)
    [december] = customer_bill(customer.id, at=at(2024, 1, 11))
    assert fees_of(december) == [("subscription", 3100)]
    assert customer_bill(customer.id, at=at(2024, 1, 12)) == []


def _upgrade(customer, old_plan, new_plan, started, upgraded_at):
    old = subscribe(customer, old_plan, started, external_id="main")
    old.status = SubscriptionStatus.TERMINATED
    old.terminated_at = upgraded_at
    old.termination_reason = "upgraded"
    old.save()
    new = subscribe(customer, new_plan, upgraded_at, external_id="main", previous_subscription=old)
    return old, new


def test_upgrade_in_arrears(organization):
    """Docs: €100 → €200 in arrears, upgrade on 15 January → 14/31 × 100 = €45.16, then 17/31 × 200 = €109.68."""
    customer = make_customer(organization, currency="EUR")
    old_plan = make_plan(organization, amount_cents=10000, currency="EUR")
    new_plan = make_plan(organization, amount_cents=20000, currency="EUR")
    _upgrade(customer, old_plan, new_plan, at(2024, 1, 1), at(2024, 1, 15, 9))
    [closing] = customer_bill(customer.id, at=at(2024, 1, 15, 10))
    assert fees_of(closing) == [("subscription", 4516)]
    [periodic] = customer_bill(customer.id, at=at(2024, 2, 1, 1))
    assert fees_of(periodic) == [("subscription", 10968)]


def test_upgrade_in_advance(organization):
    """multiple_upgrade_spec: 1,000 → 1,500 in advance on 12 March → 1500/31 × 20 = 968."""
    customer = make_customer(organization)
    old_plan = make_plan(organization, amount_cents=1000, pay_in_advance=True)
    new_plan = make_plan(organization, amount_cents=1500, pay_in_advance=True)
    old = subscribe(customer, old_plan, at(2024, 3, 1), external_id="main")
    [march_1] = customer_bill(customer.id, at=at(2024, 3, 1, 1))
    assert fees_of(march_1) == [("subscription", 1000)]
    old.status = SubscriptionStatus.TERMINATED
    old.terminated_at = at(2024, 3, 12, 9)
    old.termination_reason = "upgraded"
    old.save()
    subscribe(customer, new_plan, at(2024, 3, 12, 9), external_id="main", previous_subscription=old)
    [march_12] = customer_bill(customer.id, at=at(2024, 3, 12, 10))
    assert fees_of(march_12) == [("subscription", 968)]
    reasons = sorted(march_12.invoice_subscriptions.values_list("invoicing_reason", flat=True))
    assert reasons == ["subscription_starting", "subscription_terminating"]


def test_in_advance_billed_late_after_termination_covers_the_days_used(organization):
    """bxb: a period billed after its termination is known bills only the days used (no credit note)."""
    customer = make_customer(organization)
    plan = make_plan(organization, amount_cents=1000, pay_in_advance=True)
    sub = subscribe(customer, plan, at(2024, 3, 1))
    sub.status = SubscriptionStatus.TERMINATED
    sub.terminated_at = at(2024, 3, 12, 9)
    sub.termination_reason = "manual"
    sub.save()
    starting, closing = customer_bill(customer.id, at=at(2024, 3, 12, 10))
    assert fees_of(starting) == [("subscription", 387)]  # 12/31 × 1,000
    assert closing.fees_amount_cents == 0  # the closing invoice of an in-advance plan (Lago: 0)


def test_trial_in_advance_billed_when_trial_ends(organization):
    """free_trial_billing_spec: 5,000,000 in advance, 5 March 2024 12:12 + 10 days → 17/31 → 2,741,935."""
    customer = make_customer(organization)
    plan = make_plan(organization, amount_cents=5_000_000, pay_in_advance=True, trial_period=Decimal(10))
    subscribe(customer, plan, at(2024, 3, 5, 12, 12), trial_ends_at=at(2024, 3, 15, 12, 12))
    assert customer_bill(customer.id, at=at(2024, 3, 15, 12)) == []
    [invoice] = customer_bill(customer.id, at=at(2024, 3, 15, 13))
    assert fees_of(invoice) == [("subscription", 2_741_935)]


def test_usage_charges_filters_and_groups(organization):
    customer = make_customer(organization)
    plan = make_plan(organization, amount_cents=0)
    metric = make_metric(organization, "api")
    from catalog.models import BillableMetricFilter, ChargeFilter

    BillableMetricFilter.objects.create(billable_metric=metric, key="region", values=["eu", "us"])
    charge = make_charge(plan, metric, properties={"amount": "1"})
    ChargeFilter.objects.create(
        organization=organization, charge=charge, values={"region": ["eu"]}, properties={"amount": "2"}
    )
    grouped_metric = make_metric(organization, "seats")
    make_charge(plan, grouped_metric, properties={"amount": "5"}, pricing_group_keys=["team"])
    sub = subscribe(customer, plan, at(2024, 4, 1))
    add_events(sub, "api", [at(2024, 4, 2)] * 3, region="eu")
    add_events(sub, "api", [at(2024, 4, 3)] * 4, region="us")
    add_events(sub, "seats", [at(2024, 4, 3)] * 2, team="a")
    add_events(sub, "seats", [at(2024, 4, 4)], team="b")
    [invoice] = customer_bill(customer.id, at=at(2024, 5, 1, 1))
    charge_fees = {
        (str(f.properties.get("filter_values")), str(f.grouped_by)): f.amount_cents
        for f in invoice.fees.filter(fee_type="charge")
    }
    assert charge_fees == {
        ("{'region': ['eu']}", "{}"): 600,
        ("None", "{}"): 400,
        ("None", "{'team': 'a'}"): 1000,
        ("None", "{'team': 'b'}"): 500,
    }
    assert invoice.fees_amount_cents == 2500 + 0


def test_graduated_charge_breakdown(organization):
    customer = make_customer(organization)
    plan = make_plan(organization, amount_cents=0)
    metric = make_metric(organization, "calls")
    ranges = [
        {"from_value": 0, "to_value": 10, "per_unit_amount": "1", "flat_amount": "0"},
        {"from_value": 11, "to_value": None, "per_unit_amount": "0.5", "flat_amount": "2"},
    ]
    make_charge(plan, metric, model="graduated", properties={"graduated_ranges": ranges})
    sub = subscribe(customer, plan, at(2024, 4, 1))
    add_events(sub, "calls", [at(2024, 4, 2)] * 14)
    [invoice] = customer_bill(customer.id, at=at(2024, 5, 1, 1))
    fee = invoice.fees.get(fee_type="charge")
    assert fee.amount_cents == 1000 + 200 + 200  # 10 × 1 + flat 2 + 4 × 0.5
    assert fee.units == Decimal(14)
    assert fee.amount_details["charge_model"] == "graduated"
    assert fee.amount_details["breakdown"]


def test_graduated_percentage_period_without_usage_bills_the_first_flat_fee(organization):
    """Lago "apply flat fee even when usage is zero": 0–10 @1 % + $2, 11–∞ @2 % + $3, no event in
    April → the April invoice bills the first tier's $2 (200 cents), as graduated and volume do."""
    customer = make_customer(organization)
    plan = make_plan(organization, amount_cents=0)
    metric = make_metric(organization, "volume_gp", "sum_agg", field_name="amount")
    ranges = [
        {"from_value": 0, "to_value": 10, "rate": "1", "flat_amount": "2"},
        {"from_value": 11, "to_value": None, "rate": "2", "flat_amount": "3"},
    ]
    make_charge(plan, metric, model="graduated_percentage", properties={"graduated_percentage_ranges": ranges})
    subscribe(customer, plan, at(2024, 4, 1))
    [invoice] = customer_bill(customer.id, at=at(2024, 5, 1, 1))
    fee = invoice.fees.get(fee_type="charge")
    assert fee.units == 0
    assert fee.amount_cents == 200
    assert invoice.fees_amount_cents == 200


def test_spending_minimum_true_up_prorated(organization):
    """Minimum $10, usage 800 cents, 25 of 28 days → 93 cents."""
    customer = make_customer(organization)
    plan = make_plan(organization, amount_cents=0)
    metric = make_metric(organization, "calls")
    make_charge(plan, metric, properties={"amount": "1"}, min_amount_cents=1000)
    sub = subscribe(customer, plan, at(2023, 2, 1))
    add_events(sub, "calls", [at(2023, 2, 2)] * 8)
    sub.status = SubscriptionStatus.TERMINATED
    sub.terminated_at = at(2023, 2, 25, 12)
    sub.save()
    [invoice] = customer_bill(customer.id, at=at(2023, 2, 25, 13))
    charge_fees = sorted(invoice.fees.filter(fee_type="charge").values_list("amount_cents", flat=True))
    assert charge_fees == [93, 800]
    true_up = invoice.fees.get(true_up_parent_fee__isnull=False)
    assert true_up.amount_cents == 93


def test_minimum_commitment_true_up(organization):
    """commitments spec: commitment 1,000,000/month, plan 10,000 (+ 1,000 usage) → 989,000."""
    customer = make_customer(organization)
    plan = make_plan(organization, amount_cents=10000)
    Commitment.objects.create(plan=plan, commitment_type="minimum_commitment", amount_cents=1_000_000)
    metric = make_metric(organization, "calls")
    make_charge(plan, metric, properties={"amount": "10"})
    sub = subscribe(customer, plan, at(2024, 1, 1))
    add_events(sub, "calls", [at(2024, 1, 5)])
    [invoice] = customer_bill(customer.id, at=at(2024, 2, 1, 1))
    assert fees_of(invoice) == [("charge", 1000), ("commitment", 989_000), ("subscription", 10000)]
    assert invoice.fees_amount_cents == 1_000_000


def test_taxes_per_rate_with_coupon(organization):
    """Plan fee 10 % and charge fee 20 %; a 1,000 coupon spread 500/500 → 950 + 1,900 tax → 21,850."""
    from tests.factories.catalog import AppliedCouponFactory, CouponFactory

    customer = make_customer(organization)
    plan = make_plan(organization, amount_cents=10000)
    tax_plan(plan, make_tax(organization, "10"))
    metric = make_metric(organization, "calls")
    charge = make_charge(plan, metric, properties={"amount": "100"})
    ChargeTax.objects.create(charge=charge, tax=make_tax(organization, "20"))
    coupon = CouponFactory(organization=organization, amount_cents=1000)
    applied = AppliedCouponFactory(coupon=coupon, organization=organization, customer=customer)
    sub = subscribe(customer, plan, at(2024, 1, 1))
    add_events(sub, "calls", [at(2024, 1, 5)])
    [invoice] = customer_bill(customer.id, at=at(2024, 2, 1, 1))
    assert invoice.fees_amount_cents == 20000
    assert invoice.coupons_amount_cents == 1000
    assert invoice.sub_total_excluding_taxes_amount_cents == 19000
    assert invoice.taxes_amount_cents == 2850
    assert invoice.total_amount_cents == 21850
    assert sorted(invoice.applied_taxes.values_list("amount_cents", flat=True)) == [950, 1900]
    applied.refresh_from_db()
    assert applied.status == "terminated"
    assert invoice.credits[0]["item_type"] == "coupon"


def test_month_end_anniversary(organization):
    """Anchor 31 January: periods start Feb 29 (2024), then Mar 31."""
    customer = make_customer(organization)
    plan = make_plan(organization, amount_cents=2900)
    subscribe(customer, plan, at(2024, 1, 31), billing_time="anniversary")
    [feb] = customer_bill(customer.id, at=at(2024, 2, 29, 1))
    assert feb.invoice_subscriptions.get().charges_to_datetime == at(2024, 2, 29)
    assert customer_bill(customer.id, at=at(2024, 3, 30, 1)) == []
    [mar] = customer_bill(customer.id, at=at(2024, 3, 31, 1))
    assert fees_of(mar) == [("subscription", 2900)]


def test_dst_boundary_in_customer_timezone(organization):
    """Paris: the March 2024 period ends at 31 March 22:00 UTC (after the spring-forward)."""
    customer = make_customer(organization, timezone="Europe/Paris")
    plan = make_plan(organization, amount_cents=3100)
    subscribe(customer, plan, at(2024, 2, 29, 23))  # 1 March 00:00 in Paris
    assert customer_bill(customer.id, at=at(2024, 3, 31, 21, 59)) == []
    [invoice] = customer_bill(customer.id, at=at(2024, 3, 31, 22, 0))
    period = invoice.invoice_subscriptions.get()
    assert period.charges_to_datetime == at(2024, 3, 31, 22)
    assert fees_of(invoice) == [("subscription", 3100)]
    assert invoice.issuing_date.isoformat() == "2024-04-01"


def test_one_invoice_per_customer_and_day(organization):
    customer = make_customer(organization)
    plan_a = make_plan(organization, amount_cents=1000)
    plan_b = make_plan(organization, amount_cents=2000)
    subscribe(customer, plan_a, at(2024, 1, 1))
    subscribe(customer, plan_b, at(2024, 1, 1))
    [invoice] = customer_bill(customer.id, at=at(2024, 2, 1, 1))
    assert invoice.fees_amount_cents == 3000
    assert invoice.invoice_subscriptions.count() == 2


def test_catch_up_after_downtime_bills_each_period_once(organization):
    customer = make_customer(organization)
    plan = make_plan(organization, amount_cents=1000)
    subscribe(customer, plan, at(2024, 1, 1))
    invoices = customer_bill(customer.id, at=at(2024, 4, 1, 1))
    assert [i.issuing_date.isoformat() for i in invoices] == ["2024-02-01", "2024-03-01", "2024-04-01"]
    assert customer_bill(customer.id, at=at(2024, 4, 1, 2)) == []
    assert InvoiceSubscription.objects.count() == 3


def test_rerun_bills_nothing_twice(organization):
    customer = make_customer(organization)
    plan = make_plan(organization, amount_cents=1000)
    subscribe(customer, plan, at(2024, 1, 1))
    customer_bill(customer.id, at=at(2024, 2, 1, 1))
    customer_bill(customer.id, at=at(2024, 2, 1, 1))
    assert Invoice.objects.count() == 1
    assert Fee.objects.count() == 1


def test_crash_between_fees_and_commit_leaves_nothing(organization, monkeypatch):
    from invoicing.billing import writer

    customer = make_customer(organization)
    plan = make_plan(organization, amount_cents=1000)
    subscribe(customer, plan, at(2024, 1, 1))
    real = writer.notify

    def crash(finalized, drafts):
        assert Fee.objects.filter(invoice__in=finalized).exists()  # the fees and the number were written
        raise RuntimeError("worker killed")

    monkeypatch.setattr(writer, "notify", crash)
    with pytest.raises(RuntimeError):
        customer_bill(customer.id, at=at(2024, 2, 1, 1))
    assert Invoice.objects.count() == 0 and Fee.objects.count() == 0
    monkeypatch.setattr(writer, "notify", real)
    [invoice] = customer_bill(customer.id, at=at(2024, 2, 1, 1))
    assert invoice.number.endswith("-001")
    assert Invoice.objects.count() == 1


def test_unique_constraint_refuses_a_second_invoice_of_a_period(organization):
    from django.db import IntegrityError, transaction

    customer = make_customer(organization)
    plan = make_plan(organization, amount_cents=1000)
    sub = subscribe(customer, plan, at(2024, 1, 1))
    [invoice] = customer_bill(customer.id, at=at(2024, 2, 1, 1))
    row = invoice.invoice_subscriptions.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        InvoiceSubscription.objects.create(
            organization=organization,
            invoice=invoice,
            subscription=sub,
            invoicing_reason=row.invoicing_reason,
            timestamp=row.timestamp,
            from_datetime=row.from_datetime,
            to_datetime=row.to_datetime,
            charges_from_datetime=row.charges_from_datetime,
            charges_to_datetime=row.charges_to_datetime + timedelta(0),
        )
