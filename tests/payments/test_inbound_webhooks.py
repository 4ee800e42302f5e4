"""Inbound Stripe webhooks: real signatures (Stripe's scheme), stored once, processed after commit."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from django.utils import timezone

from payments.models import EventStatus, Payment, PaymentMethod, PaymentStatus, ProviderEvent
from payments.services import collection, events
from tests.factories.payments import WEBHOOK_SECRET, finalized_invoice, stripe_connection, stripe_customer
from tests.payments.fake_stripe import event, sign

pytestmark = pytest.mark.django_db


@pytest.fixture
def stripe_setup(organization, fake_stripe):
    connection = stripe_connection(organization)
    cus = fake_stripe.add_customer()
    customer = stripe_customer(organization, connection, provider_customer_id=cus, method="pm_sepa_debit")
    return connection, customer


def post(client, organization, body, secret=WEBHOOK_SECRET, signature=None, capture=None):
    header = signature or sign(body, secret)
    url = f"/webhooks/stripe/{organization.id}"
    if capture is None:
        return client.post(url, data=body, content_type="application/json", HTTP_STRIPE_SIGNATURE=header)
    with capture(execute=True):
        return client.post(url, data=body, content_type="application/json", HTTP_STRIPE_SIGNATURE=header)


def _processing_payment(customer, amount=5000):
    invoice = finalized_invoice(customer, amount)
    payment = collection.invoice_collect(invoice.id)
    payment = collection.payment_submit(payment.id)
    assert payment.status == PaymentStatus.PROCESSING
    return invoice, payment


def _intent(payment, status, **extra):
    return {
        "id": payment.provider_payment_id,
        "object": "payment_intent",
        "status": status,
        "amount": payment.amount_cents,
        "currency": payment.currency.lower(),
        "metadata": {"bxb_payment_id": str(payment.id)},
        **extra,
    }


def test_succeeded_event_settles_the_invoice(client, organization, stripe_setup, django_capture_on_commit_callbacks):
    _, customer = stripe_setup
    invoice, payment = _processing_payment(customer)
    body = event("payment_intent.succeeded", _intent(payment, "succeeded"))
    response = post(client, organization, body, capture=django_capture_on_commit_callbacks)
    assert response.status_code == 200
    payment.refresh_from_db()
    invoice.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert invoice.payment_status == "succeeded"
    assert invoice.total_paid_amount_cents == 5000
    stored = ProviderEvent.objects.get()
    assert stored.status == EventStatus.PROCESSED and stored.event_type == "payment_intent.succeeded"


def test_replayed_event_is_acknowledged_and_ignored(
    client, organization, stripe_setup, django_capture_on_commit_callbacks
):
    _, customer = stripe_setup
    invoice, payment = _processing_payment(customer)
    body = event("payment_intent.succeeded", _intent(payment, "succeeded"), event_id="evt_replayed")
    first = post(client, organization, body, capture=django_capture_on_commit_callbacks)
    second = post(client, organization, body, capture=django_capture_on_commit_callbacks)
    assert first.status_code == second.status_code == 200
    assert second.json()["duplicate"] is True
    assert ProviderEvent.objects.count() == 1
    invoice.refresh_from_db()
    assert invoice.total_paid_amount_cents == 5000  # counted once


@pytest.mark.parametrize("forgery", ["wrong_secret", "tampered", "stale", "missing"])
def test_forged_events_are_refused(client, organization, stripe_setup, forgery):
    _, customer = stripe_setup
    _invoice, payment = _processing_payment(customer)
    body = event("payment_intent.succeeded", _intent(payment, "succeeded"))
    if forgery == "wrong_secret":
        response = post(client, organization, body, secret="whsec_attacker")
    elif forgery == "tampered":
        response = post(
            client, organization, body.replace("succeeded", "succeeded "), signature=sign(body, WEBHOOK_SECRET)
        )
    elif forgery == "stale":
        response = post(client, organization, body, signature=sign(body, WEBHOOK_SECRET, int(time.time()) - 3600))
    else:
        response = client.post(f"/webhooks/stripe/{organization.id}", data=body, content_type="application/json")
    assert response.status_code == 400
    assert ProviderEvent.objects.count() == 0
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PROCESSING


def test_unknown_organization_is_404(client, fake_stripe):
    body = event("payment_intent.succeeded", {"id": "pi_x"})
    response = client.post(
        "/webhooks/stripe/00000000-0000-0000-0000-000000000000",
        data=body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=sign(body, WEBHOOK_SECRET),
    )
    assert response.status_code == 404


def test_another_tenants_secret_does_not_verify(client, organization, other_tenant, stripe_setup):
    stripe_connection(other_tenant.organization, webhook_secret="whsec_other")
    body = event("payment_intent.succeeded", {"id": "pi_x"})
    response = post(client, organization, body, secret="whsec_other")
    assert response.status_code == 400


def test_event_before_our_record_waits_and_is_retried(
    client, organization, stripe_setup, django_capture_on_commit_callbacks
):
    """Stripe's webhook overtakes our own commit of the PaymentIntent id (the webhook must still find its payment)."""
    _, customer = stripe_setup
    invoice = finalized_invoice(customer, 2500)
    body = event(
        "payment_intent.succeeded",
        {"id": "pi_early", "object": "payment_intent", "status": "succeeded", "metadata": {}},
    )
    post(client, organization, body, capture=django_capture_on_commit_callbacks)
    stored = ProviderEvent.objects.get()
    assert stored.status == EventStatus.WAITING
    assert stored.next_attempt_at is not None
    # Our record appears (the charge call's answer is committed).
    payment = collection.invoice_collect(invoice.id)
    Payment.objects.filter(id=payment.id).update(provider_payment_id="pi_early", status=PaymentStatus.PROCESSING)
    with django_capture_on_commit_callbacks(execute=True):
        events.provider_events_retry_due(now=timezone.now() + dt.timedelta(hours=1))
    stored.refresh_from_db()
    payment.refresh_from_db()
    invoice.refresh_from_db()
    assert stored.status == EventStatus.PROCESSED
    assert payment.status == PaymentStatus.SUCCEEDED
    assert invoice.payment_status == "succeeded"


def test_event_for_a_pending_attempt_is_found_by_our_metadata(
    client, organization, stripe_setup, django_capture_on_commit_callbacks
):
    """The attempt row exists but our charge call has not returned yet: metadata finds it."""
    _, customer = stripe_setup
    invoice = finalized_invoice(customer, 2500)
    payment = collection.invoice_collect(invoice.id)
    assert payment.status == PaymentStatus.PENDING and payment.provider_payment_id == ""
    body = event(
        "payment_intent.succeeded",
        {"id": "pi_fast", "status": "succeeded", "metadata": {"bxb_payment_id": str(payment.id)}},
    )
    post(client, organization, body, capture=django_capture_on_commit_callbacks)
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED and payment.provider_payment_id == "pi_fast"


def test_an_event_never_matched_fails_after_its_attempts(organization, stripe_setup):
    connection, _ = stripe_setup
    stored = ProviderEvent.objects.create(
        organization=organization,
        connection=connection,
        provider="stripe",
        event_id="evt_orphan",
        event_type="payment_intent.succeeded",
        payload={"data": {"object": {"id": "pi_nobody", "metadata": {}}}},
        attempts=events.MAX_WAITING_ATTEMPTS - 1,
    )
    events.provider_event_process(stored.id)
    stored.refresh_from_db()
    assert stored.status == EventStatus.FAILED and "still unknown" in stored.error


def test_3ds_canceled_is_failed_and_retried_not_left_pending(
    client, organization, fake_stripe, django_capture_on_commit_callbacks
):
    """A canceled 3DS PaymentIntent must not stay pending."""
    connection = stripe_connection(organization)
    customer = stripe_customer(
        organization, connection, provider_customer_id=fake_stripe.add_customer(), method="pm_card_threeDSecure"
    )
    invoice = finalized_invoice(customer, 3000)
    payment = collection.payment_submit(collection.invoice_collect(invoice.id).id)
    assert payment.status == PaymentStatus.REQUIRES_ACTION
    post(
        client,
        organization,
        event("payment_intent.canceled", _intent(payment, "canceled")),
        capture=django_capture_on_commit_callbacks,
    )
    payment.refresh_from_db()
    invoice.refresh_from_db()
    assert payment.status == PaymentStatus.CANCELED
    assert payment.next_retry_at is not None
    assert invoice.payment_status == "failed"


def test_requires_payment_method_is_a_failure(client, organization, stripe_setup, django_capture_on_commit_callbacks):
    """`requires_payment_method` never leaves a payment processing."""
    _, customer = stripe_setup
    _invoice, payment = _processing_payment(customer)
    intent = _intent(
        payment,
        "requires_payment_method",
        last_payment_error={"code": "payment_intent_authentication_failure", "message": "auth failed"},
    )
    post(
        client, organization, event("payment_intent.payment_failed", intent), capture=django_capture_on_commit_callbacks
    )
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.FAILED
    assert payment.error_code == "payment_intent_authentication_failure"


def test_a_late_failure_does_not_undo_a_success(organization, stripe_setup):
    from payments.providers import ChargeResult

    _, customer = stripe_setup
    invoice, payment = _processing_payment(customer)
    collection.payment_record_result(payment.id, ChargeResult(status="succeeded"))
    collection.payment_record_result(payment.id, ChargeResult(status="failed"))
    payment.refresh_from_db()
    invoice.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED and invoice.payment_status == "succeeded"


def test_setup_intent_saves_the_default_method_and_collects(
    client, organization, fake_stripe, django_capture_on_commit_callbacks
):
    connection = stripe_connection(organization)
    cus = fake_stripe.add_customer()
    customer = stripe_customer(organization, connection, provider_customer_id=cus)
    invoice = finalized_invoice(customer, 4400)
    body = event(
        "setup_intent.succeeded",
        {"id": "seti_1", "object": "setup_intent", "customer": cus, "payment_method": "pm_card_visa"},
    )
    post(client, organization, body, capture=django_capture_on_commit_callbacks)
    method = PaymentMethod.objects.get(customer=customer)
    assert method.provider_method_id == "pm_card_visa" and method.is_default
    invoice.refresh_from_db()
    assert invoice.payment_status == "succeeded"


def test_checkout_session_completed_in_setup_mode(
    client, organization, fake_stripe, django_capture_on_commit_callbacks
):
    connection = stripe_connection(organization)
    cus = fake_stripe.add_customer()
    customer = stripe_customer(organization, connection, provider_customer_id=cus)
    old = PaymentMethod.objects.create(
        organization=organization, customer=customer, connection=connection, provider_method_id="pm_old"
    )
    seti = fake_stripe.add_setup_intent(cus, "pm_card_visa")
    body = event(
        "checkout.session.completed",
        {"id": "cs_1", "object": "checkout.session", "mode": "setup", "customer": cus, "setup_intent": seti},
    )
    post(client, organization, body, capture=django_capture_on_commit_callbacks)
    default = PaymentMethod.objects.get(customer=customer, is_default=True)
    assert default.provider_method_id == "pm_card_visa"
    old.refresh_from_db()
    assert old.is_default is False


def test_lost_dispute(client, organization, fake_stripe, django_capture_on_commit_callbacks):
    connection = stripe_connection(organization)
    customer = stripe_customer(
        organization, connection, provider_customer_id=fake_stripe.add_customer(), method="pm_card_visa"
    )
    invoice = finalized_invoice(customer, 3000)
    payment = collection.payment_submit(collection.invoice_collect(invoice.id).id)
    dispute = {
        "id": "dp_1",
        "object": "dispute",
        "payment_intent": payment.provider_payment_id,
        "status": "needs_response",
    }
    post(client, organization, event("charge.dispute.created", dispute), capture=django_capture_on_commit_callbacks)
    payment.refresh_from_db()
    assert payment.dispute_status == "needs_response" and payment.dispute_lost_at is None
    post(
        client,
        organization,
        event("charge.dispute.closed", {**dispute, "status": "lost"}),
        capture=django_capture_on_commit_callbacks,
    )
    payment.refresh_from_db()
    assert payment.dispute_status == "lost" and payment.dispute_lost_at is not None
    from payments.selectors import invoice_payment_dispute_lost_at

    assert invoice_payment_dispute_lost_at(invoice) == payment.dispute_lost_at


def test_unhandled_event_types_are_ignored(client, organization, stripe_setup, django_capture_on_commit_callbacks):
    post(client, organization, event("customer.updated", {"id": "cus_1"}), capture=django_capture_on_commit_callbacks)
    assert ProviderEvent.objects.get().status == EventStatus.IGNORED
