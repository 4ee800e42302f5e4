"""Collecting finalized invoices from a saved card through Stripe (the fake server)."""

from __future__ import annotations

import pytest

from invoicing.credits.inputs import WalletCreate
from invoicing.models import Invoice
from payments.models import Payment, PaymentStatus
from payments.providers import TransientProviderError
from payments.services import collection
from tests.factories.payments import finalized_invoice, stripe_connection, stripe_customer

pytestmark = pytest.mark.django_db


def _setup(organization, fake, method="pm_card_visa", currency="USD"):
    connection = stripe_connection(organization)
    cus = fake.add_customer()
    customer = stripe_customer(organization, connection, provider_customer_id=cus, method=method, currency=currency)
    return connection, customer


def _collect(invoice):
    payment = collection.invoice_collect(invoice.id)
    assert payment is not None
    return collection.payment_submit(payment.id)


def test_success_settles_the_invoice(organization, fake_stripe):
    _, customer = _setup(organization, fake_stripe)
    invoice = finalized_invoice(customer, 12_345)
    payment = _collect(invoice)
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.provider_payment_id.startswith("pi_")
    invoice.refresh_from_db()
    assert invoice.payment_status == "succeeded"
    assert invoice.total_paid_amount_cents == 12_345
    assert invoice.total_due_amount_cents == 0
    (request,) = fake_stripe.posts("/v1/payment_intents")
    params = request["params"]
    assert params["amount"] == "12345" and params["currency"] == "usd"
    assert params["off_session"] == "true" and params["confirm"] == "true"
    assert params["payment_method"] == "pm_card_visa"
    assert params["metadata"]["bxb_payment_id"] == str(payment.id)
    assert request["idempotency_key"] == f"bxb_payment_{payment.id}"
    assert request["api_key"] == "sk_test_123"


def test_zero_decimal_currency_is_sent_in_its_own_unit(organization, fake_stripe):
    _, customer = _setup(organization, fake_stripe, currency="JPY")
    invoice = finalized_invoice(customer, 1500, currency="JPY")
    _collect(invoice)
    (request,) = fake_stripe.posts("/v1/payment_intents")
    assert request["params"]["amount"] == "1500" and request["params"]["currency"] == "jpy"


@pytest.mark.parametrize(
    ("currency", "cents", "sent"),
    [("USD", 1999, 1999), ("JPY", 1999, 1999), ("KWD", 1250, 1250), ("ISK", 1500, 150000), ("EUR", 1, 1)],
)
def test_stripe_amounts_are_exact(currency, cents, sent):
    from payments.providers.stripe import from_stripe_amount, stripe_amount

    assert stripe_amount(cents, currency) == sent
    assert from_stripe_amount(sent, currency) == cents


def test_three_decimal_amounts_stripe_cannot_take_are_refused_not_rounded():
    from payments.providers import ProviderError
    from payments.providers.stripe import stripe_amount

    with pytest.raises(ProviderError):
        stripe_amount(1255, "KWD")


def test_decline_fails_the_invoice_and_schedules_a_retry(organization, fake_stripe):
    _, customer = _setup(organization, fake_stripe, method="pm_card_chargeDeclined")
    invoice = finalized_invoice(customer, 5000)
    payment = _collect(invoice)
    assert payment.status == PaymentStatus.FAILED
    assert payment.error_code == "generic_decline"
    assert payment.provider_payment_id.startswith("pi_")
    assert payment.next_retry_at is not None
    assert (payment.next_retry_at - payment.failed_at).days == 1
    invoice.refresh_from_db()
    assert invoice.payment_status == "failed"
    assert invoice.total_paid_amount_cents == 0


def test_3ds_requires_action_keeps_the_invoice_pending(organization, fake_stripe):
    _, customer = _setup(organization, fake_stripe, method="pm_card_threeDSecure")
    invoice = finalized_invoice(customer, 5000)
    payment = _collect(invoice)
    assert payment.status == PaymentStatus.REQUIRES_ACTION
    assert payment.next_action_url.startswith("https://hooks.stripe.test/3ds/")
    invoice.refresh_from_db()
    assert invoice.payment_status == "pending"


def test_processing_stays_in_flight_and_blocks_a_second_attempt(organization, fake_stripe):
    _, customer = _setup(organization, fake_stripe, method="pm_sepa_debit")
    invoice = finalized_invoice(customer, 5000)
    payment = _collect(invoice)
    assert payment.status == PaymentStatus.PROCESSING
    assert collection.invoice_collect(invoice.id).id == payment.id
    assert Payment.objects.filter(invoice=invoice).count() == 1


def test_timeout_is_retried_by_the_sdk_with_the_same_key_and_charges_once(organization, fake_stripe):
    _, customer = _setup(organization, fake_stripe)
    invoice = finalized_invoice(customer, 7000)
    fake_stripe.fail_next(1, "timeout")
    payment = _collect(invoice)
    assert payment.status == PaymentStatus.SUCCEEDED
    posts = fake_stripe.posts("/v1/payment_intents")
    assert len(posts) == 2
    assert posts[0]["idempotency_key"] == posts[1]["idempotency_key"]
    assert posts[1]["replayed"] is True
    assert len(fake_stripe.charges()) == 1


def test_5xx_beyond_the_sdk_retries_leaves_the_attempt_pending_then_charges_once(organization, fake_stripe):
    _, customer = _setup(organization, fake_stripe)
    invoice = finalized_invoice(customer, 7000)
    fake_stripe.fail_next(3, "500")  # the first request and the SDK's two retries
    payment = collection.invoice_collect(invoice.id)
    with pytest.raises(TransientProviderError):
        collection.payment_submit(payment.id)
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING
    assert fake_stripe.charges() == []
    # The task runs again later: same attempt, same key.
    payment = collection.payment_submit(payment.id)
    assert payment.status == PaymentStatus.SUCCEEDED
    keys = {r["idempotency_key"] for r in fake_stripe.posts("/v1/payment_intents")}
    assert keys == {payment.idempotency_key}
    assert len(fake_stripe.charges()) == 1
    assert payment.submissions == 2


def test_worker_killed_after_the_stripe_call_retry_charges_once(organization, fake_stripe, monkeypatch):
    """The charge went through at Stripe, then the worker died before our transaction committed."""
    _, customer = _setup(organization, fake_stripe)
    invoice = finalized_invoice(customer, 9900)
    payment = collection.invoice_collect(invoice.id)

    real = collection.payment_record_result

    def die(*args, **kwargs):
        raise SystemExit("worker killed")

    monkeypatch.setattr(collection, "payment_record_result", die)
    with pytest.raises(SystemExit):
        collection.payment_submit(payment.id)
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING  # nothing of the answer was saved
    assert len(fake_stripe.charges()) == 1  # but Stripe charged

    monkeypatch.setattr(collection, "payment_record_result", real)
    payment = collection.payment_submit(payment.id)  # the task's retry
    assert payment.status == PaymentStatus.SUCCEEDED
    assert len(fake_stripe.payment_intents) == 1
    assert len(fake_stripe.charges()) == 1
    assert fake_stripe.posts("/v1/payment_intents")[-1]["replayed"] is True
    invoice.refresh_from_db()
    assert invoice.total_paid_amount_cents == 9900


def test_stale_pending_attempts_are_resubmitted_by_the_sweeper(
    organization, fake_stripe, django_capture_on_commit_callbacks
):
    import datetime as dt

    from django.utils import timezone

    _, customer = _setup(organization, fake_stripe)
    invoice = finalized_invoice(customer, 4200)
    payment = collection.invoice_collect(invoice.id)  # its submission was lost
    later = timezone.now() + dt.timedelta(minutes=30)
    with django_capture_on_commit_callbacks(execute=True):
        collection.payments_retry_due(now=later)
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert len(fake_stripe.charges()) == 1


def test_nothing_to_collect(organization, fake_stripe):
    connection, customer = _setup(organization, fake_stripe)
    paid = finalized_invoice(customer, 1000, payment_status="succeeded", total_paid_amount_cents=1000)
    assert collection.invoice_collect(paid.id) is None
    draft = finalized_invoice(customer, 1000, status="draft")
    assert collection.invoice_collect(draft.id) is None
    no_method = stripe_customer(organization, connection, provider_customer_id=fake_stripe.add_customer())
    assert collection.invoice_collect(finalized_invoice(no_method, 1000).id) is None
    assert fake_stripe.posts("/v1/payment_intents") == []


def test_provider_default_method_is_used_when_none_is_saved_here(organization, fake_stripe):
    connection = stripe_connection(organization)
    cus = fake_stripe.add_customer(default_payment_method="pm_card_visa")
    customer = stripe_customer(organization, connection, provider_customer_id=cus)
    payment = _collect(finalized_invoice(customer, 1000))
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.provider_method_id == "pm_card_visa"


def test_finalization_enqueues_collection(organization, fake_stripe, django_capture_on_commit_callbacks):
    """invoicing's `invoice_finalized` signal → payments collects after commit."""
    from invoicing.signals import invoice_finalized

    _, customer = _setup(organization, fake_stripe)
    invoice = finalized_invoice(customer, 3100)
    with django_capture_on_commit_callbacks(execute=True):
        invoice_finalized.send(sender=Invoice, invoice=invoice, organization=organization)
    invoice.refresh_from_db()
    assert invoice.payment_status == "succeeded"
    assert len(fake_stripe.charges()) == 1


def test_a_paid_wallet_top_up_is_charged_and_its_credits_settle(
    organization, fake_stripe, django_capture_on_commit_callbacks
):
    """Paid credits are a `credit` invoice; collecting it settles the purchased credits."""
    from invoicing.credits.models import Wallet
    from invoicing.credits.services.wallets import wallet_create

    _, customer = _setup(organization, fake_stripe)
    with django_capture_on_commit_callbacks(execute=True):
        wallet = wallet_create(
            organization,
            WalletCreate.from_body(
                {
                    "external_customer_id": customer.external_id,
                    "rate_amount": "1",
                    "paid_credits": "25.00",
                    "currency": "USD",
                }
            ),
        )
    (request,) = fake_stripe.posts("/v1/payment_intents")
    assert request["params"]["amount"] == "2500"
    wallet = Wallet.objects.get(id=wallet.id)
    assert wallet.balance_cents == 2500
    credit_invoice = Invoice.objects.get(customer=customer, invoice_type="credit")
    assert credit_invoice.payment_status == "succeeded"


def test_a_lost_webhook_is_reconciled_from_stripe(organization, fake_stripe):
    import datetime as dt

    from django.utils import timezone

    _, customer = _setup(organization, fake_stripe, method="pm_sepa_debit")
    invoice = finalized_invoice(customer, 6000)
    payment = _collect(invoice)
    assert payment.status == PaymentStatus.PROCESSING
    fake_stripe.payment_intents[payment.provider_payment_id]["status"] = "succeeded"  # its webhook never came
    assert collection.payments_reconcile(now=timezone.now() + dt.timedelta(minutes=30)) == 0  # too early
    assert collection.payments_reconcile(now=timezone.now() + dt.timedelta(hours=2)) == 1
    payment.refresh_from_db()
    invoice.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED and invoice.payment_status == "succeeded"


def test_an_abandoned_3ds_challenge_is_canceled_and_retried(organization, fake_stripe):
    import datetime as dt

    from django.utils import timezone

    _, customer = _setup(organization, fake_stripe, method="pm_card_threeDSecure")
    invoice = finalized_invoice(customer, 6000)
    payment = _collect(invoice)
    later = timezone.now() + dt.timedelta(hours=2)
    assert collection.payments_reconcile(now=later) == 0  # still waiting for the customer
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.REQUIRES_ACTION
    much_later = timezone.now() + dt.timedelta(hours=25)
    assert collection.payments_reconcile(now=much_later) == 1
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CANCELED and payment.error_code == "authentication_abandoned"
    assert fake_stripe.payment_intents[payment.provider_payment_id]["status"] == "canceled"
    assert payment.next_retry_at is not None
    invoice.refresh_from_db()
    assert invoice.payment_status == "failed"
