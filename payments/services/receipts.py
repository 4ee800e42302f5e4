"""Payment receipts: one per succeeded payment (provider or manual), numbered without gaps per
organization, with a PDF rendered after commit and the webhook `payment_receipt.created`
(docs/payments.md §10).

`receipt_issue` runs inside the transaction that marks the payment succeeded: the counter's row
lock orders concurrent receipts of an organization, and a rolled-back payment takes its number
back with it, so the numbers have no gaps. A payment has at most one receipt (unique), so a
replayed success never issues a second one."""

from __future__ import annotations

import logging
from uuid import UUID

from django.db import transaction
from django.db.models import F

from payments.models import Payment, PaymentReceipt, PaymentReceiptCounter

logger = logging.getLogger(__name__)


def receipt_prefix(organization: object) -> str:
    from invoicing.services.lifecycle import document_prefix

    return document_prefix(organization)  # type: ignore[arg-type]


def _next_number(organization_id: UUID | str) -> int:
    counter, _ = PaymentReceiptCounter.objects.get_or_create(organization_id=organization_id)
    PaymentReceiptCounter.objects.filter(id=counter.id).update(last_value=F("last_value") + 1)
    return int(PaymentReceiptCounter.objects.values_list("last_value", flat=True).get(id=counter.id))


def receipt_issue(payment: Payment) -> PaymentReceipt:
    """The payment's receipt, issued now if it has none. Call inside the success transaction."""
    existing = PaymentReceipt.objects.filter(payment_id=payment.id).first()
    if existing is not None:
        return existing
    with transaction.atomic():
        sequential = _next_number(payment.organization_id)
        organization = payment.organization
        receipt = PaymentReceipt.objects.create(
            organization_id=payment.organization_id,
            payment=payment,
            sequential_id=sequential,
            number=f"{receipt_prefix(organization)}-RCPT-{sequential:06d}",
        )
        _announce(receipt)
    return receipt


def _announce(receipt: PaymentReceipt) -> None:
    from payments.representation import payment_receipt_payload
    from webhooks.services import webhook_send_row

    webhook_send_row(receipt, "payment_receipt.created", "payment_receipt", payment_receipt_payload)
    receipt_id = str(receipt.id)
    transaction.on_commit(lambda: _enqueue_pdf(receipt_id))
    from payments.models import EmailKind
    from payments.services.emails import email_schedule

    email_schedule(receipt.organization, kind=EmailKind.PAYMENT_RECEIPT_CREATED, document_id=receipt.id)


def _enqueue_pdf(receipt_id: str) -> None:
    from payments import tasks

    try:
        tasks.generate_payment_receipt_pdf.delay(receipt_id)
    except Exception:  # a broker outage must not fail the payment; the PDF is made on first download
        logger.exception("payment receipt PDF not enqueued", extra={"payment_receipt_id": receipt_id})


def receipt_generate_pdf(receipt_id: UUID | str, *, force: bool = False) -> PaymentReceipt:
    from invoicing.services.documents import pdf_store
    from payments.pdf import render_receipt_pdf

    receipt = PaymentReceipt.objects.select_related(
        "organization", "payment", "payment__customer", "payment__invoice", "payment__connection"
    ).get(id=receipt_id)
    if receipt.file and not force:
        return receipt
    return pdf_store(receipt, render_receipt_pdf(receipt), force=force)
