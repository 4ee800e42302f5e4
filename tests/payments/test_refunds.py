"""Credit-note refunds go back through the provider that took the payment."""

from __future__ import annotations

import pytest

from invoicing.credits.inputs import CreditNoteCreate
from invoicing.credits.models import RefundStatus
from invoicing.credits.services.credit_notes import credit_note_create
from payments.models import Refund
from payments.services import collection, refunds
from tests.factories.customers import CustomerFactory
from tests.factories.payments import finalized_invoice, stripe_connection, stripe_customer

pytestmark = pytest.mark.django_db


def _paid_by_card(organization, fake, amount=10_000, currency="USD"):
    connection = stripe_connection(organization)
    customer = stripe_customer(
        organization, connection, provider_customer_id=fake.add_customer(), method="pm_card_visa", currency=currency
    )
    invoice = finalized_invoice(customer, amount, currency=currency, with_fee=True)
    payment = collection.payment_submit(collection.invoice_collect(invoice.id).id)
    invoice.refresh_from_db()
    assert invoice.payment_status == "succeeded"
    return invoice, payment


def test_a_credit_note_with_a_refund_is_refunded_at_stripe(
    organization, fake_stripe, django_capture_on_commit_callbacks
):
    invoice, payment = _paid_by_card(organization, fake_stripe)
    fee = invoice.fees.get()
    with django_capture_on_commit_callbacks(execute=True):
        note = credit_note_create(
            organization,
            CreditNoteCreate.from_body(
                {
                    "invoice_id": invoice.id,
                    "items": [{"fee_id": str(fee.id), "amount_cents": 4000}],
                    "refund_amount_cents": 4000,
                    "reason": "order_change",
                }
            ),
        )
    refund = Refund.objects.get(credit_note=note)
    assert refund.status == RefundStatus.SUCCEEDED and refund.amount_cents == 4000
    (request,) = fake_stripe.posts("/v1/refunds")
    assert request["params"]["payment_intent"] == payment.provider_payment_id
    assert request["params"]["amount"] == "4000"
    assert request["idempotency_key"] == f"bxb_refund_{refund.id}"
    note.refresh_from_db()
    assert note.refund_status == "succeeded" and note.refunded_at is not None
    payment.refresh_from_db()
    assert payment.refunded_amount_cents == 4000
    # Asked again (a retried task): nothing more is refunded.
    refunds.credit_note_refund(organization, credit_note_id=note.id)
    assert len(fake_stripe.posts("/v1/refunds")) == 1


def test_refund_of_a_zero_decimal_currency(organization, fake_stripe, django_capture_on_commit_callbacks):
    invoice, _ = _paid_by_card(organization, fake_stripe, amount=3000, currency="JPY")
    fee = invoice.fees.get()
    with django_capture_on_commit_callbacks(execute=True):
        credit_note_create(
            organization,
            CreditNoteCreate.from_body(
                {
                    "invoice_id": invoice.id,
                    "items": [{"fee_id": str(fee.id), "amount_cents": 1000}],
                    "refund_amount_cents": 1000,
                }
            ),
        )
    (request,) = fake_stripe.posts("/v1/refunds")
    assert request["params"]["amount"] == "1000"


def test_a_refund_lost_in_a_timeout_is_resent_with_the_same_key(organization, fake_stripe, settings):
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    invoice, _ = _paid_by_card(organization, fake_stripe)
    fee = invoice.fees.get()
    note = credit_note_create(
        organization,
        CreditNoteCreate.from_body(
            {
                "invoice_id": invoice.id,
                "items": [{"fee_id": str(fee.id), "amount_cents": 2500}],
                "refund_amount_cents": 2500,
            }
        ),
    )
    fake_stripe.fail_next(1, "timeout")
    (refund,) = refunds.credit_note_refund(organization, credit_note_id=note.id)
    assert refund.status == RefundStatus.PENDING and refund.provider_refund_id == ""
    refund = refunds.refund_submit(refund.id)
    assert refund.status == RefundStatus.SUCCEEDED
    assert len(fake_stripe.refunds) == 1  # the timed-out request was processed; the resend replayed it
    assert {r["idempotency_key"] for r in fake_stripe.posts("/v1/refunds")} == {refund.idempotency_key}


def test_refund_webhook_sets_a_pending_refund(client, organization, fake_stripe, django_capture_on_commit_callbacks):
    from payments.providers import RefundResult
    from tests.factories.payments import WEBHOOK_SECRET
    from tests.payments.fake_stripe import event, sign

    invoice, payment = _paid_by_card(organization, fake_stripe)
    fee = invoice.fees.get()
    note = credit_note_create(
        organization,
        CreditNoteCreate.from_body(
            {
                "invoice_id": invoice.id,
                "items": [{"fee_id": str(fee.id), "amount_cents": 1000}],
                "refund_amount_cents": 1000,
            }
        ),
    )
    refund = Refund.objects.create(
        organization=organization,
        payment=payment,
        credit_note=note,
        amount_cents=1000,
        currency="USD",
        idempotency_key="bxb_refund_manual_test",
    )
    refunds.refund_record_result(refund.id, RefundResult(status="pending", provider_refund_id="re_pending"))
    body = event(
        "charge.refunded",
        {
            "id": "ch_1",
            "object": "charge",
            "payment_intent": payment.provider_payment_id,
            "refunds": {"data": [{"id": "re_pending", "status": "succeeded", "metadata": {}}]},
        },
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/webhooks/stripe/{organization.id}",
            data=body,
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=sign(body, WEBHOOK_SECRET),
        )
    assert response.status_code == 200
    refund.refresh_from_db()
    note.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED and note.refund_status == "succeeded"


def test_a_manual_payment_gives_a_pending_refund_settled_by_hand(organization):
    customer = CustomerFactory(organization=organization)
    invoice = finalized_invoice(customer, 5000, with_fee=True)
    collection.payment_create_manual(organization, invoice_id=invoice.id, amount_cents=5000, reference="wire")
    fee = invoice.fees.get()
    note = credit_note_create(
        organization,
        CreditNoteCreate.from_body(
            {
                "invoice_id": invoice.id,
                "items": [{"fee_id": str(fee.id), "amount_cents": 500}],
                "refund_amount_cents": 500,
            }
        ),
    )
    (refund,) = refunds.credit_note_refund(organization, credit_note_id=note.id)
    assert refund.status == RefundStatus.PENDING
    note.refresh_from_db()
    assert note.refund_status == "pending"
