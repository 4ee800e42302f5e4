"""Closing and opening invoices right after the state change (docs/invoicing.md §4, "Invoiced at once").

These run with real commits (`transaction=True`) and eager tasks, as `./dev run` does: the
invoice must exist when the API call returns, with no beat running. The sweep afterwards (or
racing the task) must not bill the same period again.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, connections
from django.utils import timezone

from invoicing import tasks
from invoicing.billing.run import customer_bill, customers_bill
from invoicing.models import Invoice, InvoiceStatus, InvoiceSubscription, InvoicingReason
from invoicing.services.immediate import subscriptions_bill_now
from subscriptions.models import Subscription, SubscriptionStatus
from subscriptions.services import subscription_activate_due
from tests.factories.invoicing import add_events, make_charge, make_customer, make_metric, make_plan, subscribe
from webhooks.models import WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def endpoint(organization):
    return WebhookEndpoint.objects.create(organization=organization, webhook_url="http://127.0.0.1:9/hook")


def _webhook(webhook_type: str, invoice_id) -> bool:
    return any(
        json.loads(d.body)["invoice"]["lago_id"] == str(invoice_id)
        for d in WebhookDelivery.objects.filter(webhook_type=webhook_type)
    )


def _periods(subscription: Subscription) -> list[InvoiceSubscription]:
    return list(InvoiceSubscription.objects.filter(subscription=subscription).select_related("invoice"))


def _usage_subscription(organization, *, external_id="sub-now", plan=None, **customer_extra):
    customer = make_customer(organization, external_id=f"cus-{external_id}", **customer_extra)
    plan = plan or make_plan(organization, code=f"arrears-{external_id}", amount_cents=0)
    metric = make_metric(organization, f"calls_{external_id.replace('-', '_')}")
    make_charge(plan, metric, properties={"amount": "1"})
    now = timezone.now()
    sub = subscribe(customer, plan, now - timedelta(minutes=5), external_id=external_id)
    add_events(sub, metric.code, [now - timedelta(minutes=1)] * 3)
    return customer, sub


def test_termination_is_invoiced_when_the_delete_returns_and_the_sweep_adds_nothing(api, organization, endpoint):
    customer, sub = _usage_subscription(organization)

    response = api.delete(f"/api/v1/subscriptions/{sub.external_id}")

    assert response.status_code == 200
    [closing] = [p for p in _periods(sub) if p.invoicing_reason == InvoicingReason.SUBSCRIPTION_TERMINATING]
    invoice = closing.invoice
    assert invoice.status == InvoiceStatus.FINALIZED
    assert invoice.fees.filter(fee_type="charge").get().amount_cents == 300
    assert _webhook("invoice.created", invoice.id)

    # The hourly safety net finds nothing left for that period, now or later.
    assert customer_bill(customer.id) == []
    tasks.billing_sweep()
    assert len(_periods(sub)) == len({(p.invoicing_reason, p.charges_from_datetime) for p in _periods(sub)})
    assert [p.invoicing_reason for p in _periods(sub)].count(InvoicingReason.SUBSCRIPTION_TERMINATING) == 1


def test_termination_with_a_grace_period_is_a_draft_and_invoice_drafted(api, organization, endpoint):
    _, sub = _usage_subscription(organization, invoice_grace_period=3)

    assert api.delete(f"/api/v1/subscriptions/{sub.external_id}").status_code == 200

    [closing] = [p for p in _periods(sub) if p.invoicing_reason == InvoicingReason.SUBSCRIPTION_TERMINATING]
    assert closing.invoice.status == InvoiceStatus.DRAFT
    assert _webhook("invoice.drafted", closing.invoice_id)
    assert not WebhookDelivery.objects.filter(webhook_type="invoice.created").exists()


def test_on_termination_invoice_skip_issues_no_closing_invoice(api, organization):
    _, sub = _usage_subscription(organization)

    assert api.delete(f"/api/v1/subscriptions/{sub.external_id}?on_termination_invoice=skip").status_code == 200

    assert not [p for p in _periods(sub) if p.invoicing_reason == InvoicingReason.SUBSCRIPTION_TERMINATING]


def test_in_advance_start_is_invoiced_when_the_post_returns(api, organization, endpoint):
    make_plan(organization, code="adv", amount_cents=3100, pay_in_advance=True)
    make_customer(organization, external_id="cus-adv")

    response = api.post(
        "/api/v1/subscriptions",
        {"subscription": {"external_customer_id": "cus-adv", "plan_code": "adv", "external_id": "sub-adv"}},
        format="json",
    )

    assert response.status_code == 200, response.content
    sub = Subscription.objects.get(external_id="sub-adv")
    [opening] = _periods(sub)
    assert opening.invoicing_reason == InvoicingReason.SUBSCRIPTION_STARTING
    assert opening.invoice.status == InvoiceStatus.FINALIZED
    assert opening.invoice.fees.get().fee_type == "subscription"
    assert opening.invoice.fees_amount_cents > 0
    assert _webhook("invoice.created", opening.invoice_id)
    assert customer_bill(sub.customer_id) == []


def test_in_arrears_start_is_not_invoiced_at_once(api, organization):
    make_plan(organization, code="arr", amount_cents=3100)
    make_customer(organization, external_id="cus-arr")
    payload = {"subscription": {"external_customer_id": "cus-arr", "plan_code": "arr", "external_id": "sub-arr"}}

    assert api.post("/api/v1/subscriptions", payload, format="json").status_code == 200

    assert not Invoice.objects.filter(organization=organization).exists()


def test_in_advance_start_in_trial_waits_for_the_trial_end(api, organization):
    make_plan(organization, code="trial", amount_cents=3100, pay_in_advance=True, trial_period=10)
    make_customer(organization, external_id="cus-trial")
    payload = {"subscription": {"external_customer_id": "cus-trial", "plan_code": "trial", "external_id": "sub-t"}}

    assert api.post("/api/v1/subscriptions", payload, format="json").status_code == 200

    assert not Invoice.objects.filter(organization=organization).exists()


def test_upgrade_bills_the_old_closing_and_the_new_opening_on_one_invoice(api, organization, endpoint):
    old_plan = make_plan(organization, code="small", amount_cents=1000)
    make_plan(organization, code="big", amount_cents=5000, pay_in_advance=True)
    customer, old = _usage_subscription(organization, external_id="sub-up", plan=old_plan)

    response = api.post(
        "/api/v1/subscriptions",
        {"subscription": {"external_customer_id": customer.external_id, "plan_code": "big", "external_id": "sub-up"}},
        format="json",
    )

    assert response.status_code == 200, response.content
    new = Subscription.objects.get(external_id="sub-up", status=SubscriptionStatus.ACTIVE)
    assert new.previous_subscription_id == old.id
    [closing] = [p for p in _periods(old) if p.invoicing_reason == InvoicingReason.SUBSCRIPTION_TERMINATING]
    [opening] = _periods(new)
    assert opening.invoicing_reason == InvoicingReason.SUBSCRIPTION_STARTING
    assert closing.invoice_id == opening.invoice_id  # Lago's `upgrading`: one invoice for both
    assert closing.invoice.fees.filter(subscription=old, fee_type="charge").get().amount_cents == 300
    assert closing.invoice.fees.filter(subscription=new, fee_type="subscription").get().amount_cents > 0
    assert customer_bill(customer.id) == []


def test_upgrade_from_in_arrears_to_in_arrears_bills_only_the_old_subscription(api, organization):
    old_plan = make_plan(organization, code="s", amount_cents=1000)
    make_plan(organization, code="b", amount_cents=5000)
    customer, old = _usage_subscription(organization, external_id="sub-aa", plan=old_plan)
    payload = {
        "subscription": {"external_customer_id": customer.external_id, "plan_code": "b", "external_id": "sub-aa"}
    }

    assert api.post("/api/v1/subscriptions", payload, format="json").status_code == 200

    new = Subscription.objects.get(external_id="sub-aa", status=SubscriptionStatus.ACTIVE)
    assert [p.invoicing_reason for p in _periods(old)][-1] == InvoicingReason.SUBSCRIPTION_TERMINATING
    assert _periods(new) == []


def test_downgrade_is_not_billed_at_request_time(api, organization):
    old_plan = make_plan(organization, code="expensive", amount_cents=5000)
    make_plan(organization, code="cheap", amount_cents=1000, pay_in_advance=True)
    customer, old = _usage_subscription(organization, external_id="sub-down", plan=old_plan)
    payload = {
        "subscription": {"external_customer_id": customer.external_id, "plan_code": "cheap", "external_id": "sub-down"}
    }

    assert api.post("/api/v1/subscriptions", payload, format="json").status_code == 200

    # Lago switches a downgrade at the period end: the old subscription stays active, unbilled.
    old.refresh_from_db()
    assert old.status == SubscriptionStatus.ACTIVE
    assert not Invoice.objects.filter(organization=organization).exists()


def test_scheduled_downgrade_bills_the_old_closing_and_the_new_opening_when_it_switches(organization):
    """The period-end switch (activations job) bills both at once, as Lago's downgrade does."""
    customer = make_customer(organization, external_id="cus-sw")
    old_plan = make_plan(organization, code="old", amount_cents=5000)
    new_plan = make_plan(organization, code="new", amount_cents=1000, pay_in_advance=True)
    now = timezone.now()
    boundary = datetime(now.year, now.month, 1, tzinfo=UTC)
    old = subscribe(customer, old_plan, boundary - timedelta(days=20), external_id="sub-sw")
    pending = Subscription.objects.create(
        organization=organization,
        customer=customer,
        plan=new_plan,
        external_id="sub-sw",
        status=SubscriptionStatus.PENDING,
        subscription_at=boundary,
        activation_at=boundary,
        previous_subscription=old,
    )

    assert subscription_activate_due(pending.id, at=now) is True

    [closing] = [p for p in _periods(old) if p.invoicing_reason == InvoicingReason.SUBSCRIPTION_TERMINATING]
    [opening] = _periods(pending)
    assert opening.invoicing_reason == InvoicingReason.SUBSCRIPTION_STARTING
    assert closing.invoice_id == opening.invoice_id
    assert customer_bill(customer.id) == []


def test_a_billing_failure_never_fails_the_request(api, organization, monkeypatch):
    _, sub = _usage_subscription(organization)

    def broken(*args, **kwargs):
        raise RuntimeError("billing is down")

    monkeypatch.setattr("invoicing.services.immediate.customer_bill", broken)
    response = api.delete(f"/api/v1/subscriptions/{sub.external_id}")

    assert response.status_code == 200
    sub.refresh_from_db()
    assert sub.status == SubscriptionStatus.TERMINATED
    monkeypatch.undo()
    # The sweep, the safety net, bills it later.
    [invoice] = customer_bill(sub.customer_id)
    assert invoice.invoice_subscriptions.get().invoicing_reason == InvoicingReason.SUBSCRIPTION_TERMINATING


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
def test_the_task_and_the_sweep_racing_leave_one_invoice(organization):
    customer, sub = _usage_subscription(organization)
    # Terminated without the on-commit task (a plain update sends no signal): both paths will race.
    Subscription.objects.filter(id=sub.id).update(status=SubscriptionStatus.TERMINATED, terminated_at=timezone.now())
    at = timezone.now()
    functions = [
        lambda: subscriptions_bill_now([sub.id], reason="subscription_terminating", at=at),
        lambda: customers_bill([customer.id], at=at).invoices_created,
        lambda: customer_bill(customer.id, at=at),
        lambda: tasks.bill_subscriptions([str(sub.id)], "subscription_terminating"),
    ]
    barrier = threading.Barrier(len(functions))
    results: list[object] = [None] * len(functions)

    def run(index, fn):
        try:
            barrier.wait()
            results[index] = fn()
        except Exception as exc:  # inspected below
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(functions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert not [r for r in results if isinstance(r, Exception)], [repr(r) for r in results]
    closing = [p for p in _periods(sub) if p.invoicing_reason == InvoicingReason.SUBSCRIPTION_TERMINATING]
    assert len(closing) == 1
    assert Invoice.objects.filter(customer=customer).count() == len({p.invoice_id for p in _periods(sub)})
