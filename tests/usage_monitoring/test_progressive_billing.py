"""Progressive billing and lifetime usage (docs/billing-semantics.md §10), to the cent."""

from __future__ import annotations

import pytest

from catalog.models import UsageThreshold
from invoicing.billing.run import customer_bill
from invoicing.models import Invoice, InvoiceStatus, InvoiceType
from invoicing.services import invoice_void
from subscriptions.models import SubscriptionStatus
from tests.factories.invoicing import make_plan, make_tax, subscribe, tax_plan
from tests.factories.usage_monitoring import at, metered_subscription, send_events
from usage_monitoring.models import AppliedUsageThreshold, LifetimeUsage
from usage_monitoring.services.evaluation import subscription_evaluate

pytestmark = pytest.mark.django_db


def evaluate(sub, now):
    return subscription_evaluate(sub.organization, external_subscription_id=sub.external_id, now=now, force=True)


def progressive_invoices(organization):
    return list(
        Invoice.objects.filter(organization=organization, invoice_type=InvoiceType.PROGRESSIVE_BILLING).order_by(
            "created_at"
        )
    )


def test_lago_progressive_billing_spec(organization):
    """progressive_billing_spec: threshold 20,000; 1,000,000 units × $0.0002 on day 5 → progressive invoice
    20,000; 1,000,000 more on day 15 → nothing; month end 3,100 + 40,000 − 20,000 = 23,100."""
    sub = metered_subscription(
        organization, started_at=at(2024, 3, 1), amount="0.0002", plan_amount_cents=3100, thresholds=[(20000, False)]
    )
    send_events(sub, "units", 1_000_000, at(2024, 3, 5, 10))
    result = evaluate(sub, at(2024, 3, 5, 10, 5))
    invoice = result["progressive_invoice"]
    assert invoice.invoice_type == InvoiceType.PROGRESSIVE_BILLING
    assert invoice.status == InvoiceStatus.FINALIZED and invoice.number
    assert (invoice.fees_amount_cents, invoice.progressive_billing_credit_amount_cents) == (20000, 0)
    assert invoice.total_amount_cents == 20000
    [row] = invoice.invoice_subscriptions.all()
    assert row.invoicing_reason == "progressive_billing"
    assert (row.charges_from_datetime, row.charges_to_datetime) == (at(2024, 3, 1), at(2024, 3, 5, 10, 5))

    send_events(sub, "units", 1_000_000, at(2024, 3, 15, 10))
    assert evaluate(sub, at(2024, 3, 15, 10, 5))["progressive_invoice"] is None
    assert len(progressive_invoices(organization)) == 1

    [period_end] = customer_bill(sub.customer_id, at=at(2024, 4, 1, 1))
    fees = sorted(period_end.fees.values_list("fee_type", "amount_cents"))
    assert fees == [("charge", 40000), ("subscription", 3100)]
    assert period_end.fees_amount_cents == 43100
    assert period_end.progressive_billing_credit_amount_cents == 20000
    assert period_end.total_amount_cents == 23100
    assert {"item_type": "invoice", "item_id": str(invoice.id)}.items() <= period_end.credits[0].items()


def test_recurring_threshold_bills_each_step_and_deducts_earlier_progressive_invoices(organization):
    sub = metered_subscription(
        organization, started_at=at(2024, 3, 1), amount="1", thresholds=[(1000, False), (500, True)]
    )
    send_events(sub, "units", 12, at(2024, 3, 2))  # 1,200: crosses 1,000
    first = evaluate(sub, at(2024, 3, 2, 1))["progressive_invoice"]
    assert first.total_amount_cents == 1200
    send_events(sub, "units", 2, at(2024, 3, 3))  # 1,400: next point is 1,500
    assert evaluate(sub, at(2024, 3, 3, 1))["progressive_invoice"] is None
    send_events(sub, "units", 7, at(2024, 3, 4))  # 2,100: crosses 1,500 and 2,000 -> one invoice
    second = evaluate(sub, at(2024, 3, 4, 1))["progressive_invoice"]
    assert second.fees_amount_cents == 2100
    assert second.progressive_billing_credit_amount_cents == 1200
    assert second.total_amount_cents == 900
    applied = list(AppliedUsageThreshold.objects.values_list("amount_cents", "recurring", "invoice_id"))
    assert applied == [(1000, False, first.id), (2000, True, second.id)]
    send_events(sub, "units", 1, at(2024, 3, 20))
    [period_end] = customer_bill(sub.customer_id, at=at(2024, 4, 1, 1))
    assert period_end.fees_amount_cents == 2200
    assert period_end.progressive_billing_credit_amount_cents == 2100
    assert period_end.total_amount_cents == 100  # never twice for the same usage
    billed = sum(i.total_amount_cents for i in Invoice.objects.filter(organization=organization))
    assert billed == 2200


def test_progressive_invoice_taxes_and_period_end_taxes_on_the_rest(organization):
    sub = metered_subscription(organization, started_at=at(2024, 3, 1), amount="1", thresholds=[(1000, False)])
    tax_plan(sub.plan, make_tax(organization, "10"))
    send_events(sub, "units", 10, at(2024, 3, 2))
    invoice = evaluate(sub, at(2024, 3, 2, 1))["progressive_invoice"]
    assert (invoice.fees_amount_cents, invoice.taxes_amount_cents, invoice.total_amount_cents) == (1000, 100, 1100)
    send_events(sub, "units", 5, at(2024, 3, 3))
    [period_end] = customer_bill(sub.customer_id, at=at(2024, 4, 1, 1))
    assert period_end.sub_total_excluding_taxes_amount_cents == 500
    assert (period_end.taxes_amount_cents, period_end.total_amount_cents) == (50, 550)


def test_thresholds_apply_over_the_lifetime_not_per_period(organization):
    sub = metered_subscription(organization, started_at=at(2024, 3, 1), amount="1", thresholds=[(1500, False)])
    send_events(sub, "units", 10, at(2024, 3, 2))
    assert evaluate(sub, at(2024, 3, 2, 1))["progressive_invoice"] is None
    customer_bill(sub.customer_id, at=at(2024, 4, 1, 1))  # March: 1,000 invoiced
    send_events(sub, "units", 6, at(2024, 4, 2))
    invoice = evaluate(sub, at(2024, 4, 2, 1))["progressive_invoice"]
    assert invoice.total_amount_cents == 600  # April usage not yet billed
    lifetime = LifetimeUsage.objects.get()
    assert (lifetime.invoiced_usage_amount_cents, lifetime.current_usage_amount_cents) == (1000, 600)


def test_external_historical_usage_counts_towards_thresholds(organization):
    sub = metered_subscription(organization, started_at=at(2024, 3, 1), amount="1", thresholds=[(1000, False)])
    LifetimeUsage.objects.create(
        organization=organization,
        subscription=sub,
        external_subscription_id=sub.external_id,
        external_historical_usage_amount_cents=900,
    )
    send_events(sub, "units", 1, at(2024, 3, 2))
    invoice = evaluate(sub, at(2024, 3, 2, 1))["progressive_invoice"]
    assert invoice.total_amount_cents == 100


def test_progressive_billing_across_an_upgrade(organization):
    """Lifetime usage spans the plan change; the threshold reached on the old plan is not billed again,
    the old plan's closing invoice deducts its progressive invoice, the new plan's next threshold bills
    only the new subscription's usage."""
    old = metered_subscription(
        organization, started_at=at(2024, 3, 1), amount="1", external_id="main", thresholds=[(1000, False)]
    )
    send_events(old, "units", 12, at(2024, 3, 5))
    first = evaluate(old, at(2024, 3, 5, 1))["progressive_invoice"]
    assert first.total_amount_cents == 1200
    # upgrade on 10 March to a plan with the same charge and thresholds 1,000 and 3,000
    new_plan = make_plan(organization, amount_cents=0)
    from tests.factories.invoicing import make_charge

    make_charge(new_plan, old.plan.charges.get().billable_metric, properties={"amount": "1"})
    for amount in (1000, 3000):
        UsageThreshold.objects.create(organization=organization, plan=new_plan, amount_cents=amount)
    old.status = SubscriptionStatus.TERMINATED
    old.terminated_at = at(2024, 3, 10)
    old.termination_reason = "upgraded"
    old.save()
    new = subscribe(old.customer, new_plan, at(2024, 3, 10), external_id="main", previous_subscription=old)
    [closing] = customer_bill(old.customer_id, at=at(2024, 3, 10, 1))
    assert closing.fees_amount_cents == 1200
    assert closing.progressive_billing_credit_amount_cents == 1200
    assert closing.total_amount_cents == 0
    send_events(new, "units", 10, at(2024, 3, 12))  # lifetime 2,200: 1,000 already applied
    assert evaluate(new, at(2024, 3, 12, 1))["progressive_invoice"] is None
    send_events(new, "units", 9, at(2024, 3, 13))  # lifetime 3,100: crosses 3,000
    second = evaluate(new, at(2024, 3, 13, 1))["progressive_invoice"]
    assert second.total_amount_cents == 1900  # the new subscription's usage only
    lifetime = LifetimeUsage.objects.get()
    assert lifetime.subscription_id == old.id
    assert lifetime.total_amount_cents == 3100
    [april] = customer_bill(old.customer_id, at=at(2024, 4, 1, 1))
    assert (april.fees_amount_cents, april.total_amount_cents) == (1900, 0)


def test_voided_progressive_invoice_is_not_deducted(organization):
    sub = metered_subscription(organization, started_at=at(2024, 3, 1), amount="1", thresholds=[(1000, False)])
    send_events(sub, "units", 10, at(2024, 3, 2))
    invoice = evaluate(sub, at(2024, 3, 2, 1))["progressive_invoice"]
    invoice_void(organization, invoice_id=invoice.id)
    [period_end] = customer_bill(sub.customer_id, at=at(2024, 4, 1, 1))
    assert (period_end.progressive_billing_credit_amount_cents, period_end.total_amount_cents) == (0, 1000)


def test_no_thresholds_no_progressive_invoice(organization):
    sub = metered_subscription(organization, started_at=at(2024, 3, 1), amount="1")
    send_events(sub, "units", 100, at(2024, 3, 2))
    assert evaluate(sub, at(2024, 3, 2, 1))["progressive_invoice"] is None
    assert progressive_invoices(organization) == []


def test_closed_period_is_left_to_the_billing_run(organization):
    sub = metered_subscription(organization, started_at=at(2024, 3, 1), amount="1", thresholds=[(1000, False)])
    send_events(sub, "units", 10, at(2024, 3, 31, 23))
    customer_bill(sub.customer_id, at=at(2024, 4, 1, 0, 30))
    # evaluated late, after the billing run: the period is closed, nothing billed twice
    assert evaluate(sub, at(2024, 4, 1, 1))["progressive_invoice"] is None
    assert progressive_invoices(organization) == []


def test_subscription_override_thresholds_replace_the_plans(api, organization):
    """`plan_overrides.usage_thresholds` at subscription creation (a child plan) is what is billed on."""
    import datetime as dt

    from tests.factories.invoicing import make_charge, make_customer, make_metric

    metric = make_metric(organization, code="units", aggregation_type="sum_agg", field_name="value")
    plan = make_plan(organization, amount_cents=0, code="metered")
    make_charge(plan, metric, properties={"amount": "1"})
    UsageThreshold.objects.create(organization=organization, plan=plan, amount_cents=100000)
    make_customer(organization, external_id="cus_o", currency="USD")
    r = api.post(
        "/api/v1/subscriptions",
        {
            "subscription": {
                "external_customer_id": "cus_o",
                "plan_code": "metered",
                "external_id": "sub_o",
                "plan_overrides": {"usage_thresholds": [{"amount_cents": 500, "threshold_display_name": "early"}]},
            }
        },
        format="json",
    )
    assert r.status_code == 200, r.content
    from subscriptions.models import Subscription

    sub = Subscription.objects.get(external_id="sub_o")
    assert sub.plan_id != plan.id  # the override's child plan
    later = sub.started_at + dt.timedelta(seconds=2)  # after the start, whatever the clock's fraction
    send_events(sub, "units", 6, later)
    invoice = evaluate(sub, later + dt.timedelta(seconds=1))["progressive_invoice"]
    assert invoice is not None and invoice.fees_amount_cents == 600
