"""Celery tasks of payments. Each takes ids, calls one service, and is safe to run twice."""

from __future__ import annotations

import logging
import smtplib
from typing import Any

from celery import shared_task

from billing_project.core.errors import DomainError
from payments.providers import TransientProviderError
from payments.services import collection, customers, dunning, events, refunds

logger = logging.getLogger(__name__)


@shared_task(name="payments.collect_invoice", acks_late=True)
def collect_invoice(invoice_id: str, origin: str = "automatic") -> str | None:
    payment = collection.invoice_collect(invoice_id, origin=origin)
    return str(payment.id) if payment else None


@shared_task(
    name="payments.submit_payment",
    bind=True,
    acks_late=True,
    max_retries=8,
    autoretry_for=(TransientProviderError,),
    retry_backoff=30,
    retry_backoff_max=3600,
)
def submit_payment(self: Any, payment_id: str) -> str:
    """Send (or re-send, with the same idempotency key) a pending attempt to its provider."""
    return collection.payment_submit(payment_id).status


@shared_task(name="payments.process_provider_event", acks_late=True)
def process_provider_event(event_id: str) -> str:
    return events.provider_event_process(event_id).status


@shared_task(
    name="payments.sync_provider_customer",
    acks_late=True,
    max_retries=8,
    autoretry_for=(TransientProviderError,),
    retry_backoff=60,
)
def sync_provider_customer(customer_id: str) -> str | None:
    try:
        return customers.provider_customer_ensure(customer_id).provider_customer_id
    except DomainError as exc:  # no connection, or the provider refused: visible in the logs
        logger.warning("provider customer not created", extra={"customer_id": customer_id, "error": str(exc)})
        return None


@shared_task(name="payments.refund_credit_note", acks_late=True)
def refund_credit_note(credit_note_id: str) -> list[str]:
    """Refund a credit note's refund part through the provider (one Refund per payment, keyed)."""
    from invoicing.credits.models import CreditNote

    note = CreditNote.objects.select_related("organization").filter(id=credit_note_id).first()
    if note is None or note.refund_amount_cents <= 0:
        return []
    try:
        return [r.status for r in refunds.credit_note_refund(note.organization, credit_note_id=note.id)]
    except DomainError as exc:  # the refund row is failed and the credit note settled as failed
        logger.warning("credit note refund refused", extra={"credit_note_id": credit_note_id, "error": str(exc)})
        return []


@shared_task(name="payments.retry_sweep")
def retry_sweep() -> int:
    """Beat: retries that are due, pending attempts and refunds to re-submit, waiting events."""
    started = collection.payments_retry_due()
    collection.payments_reconcile()
    events.provider_events_retry_due()
    refunds.refunds_retry_pending()
    customers.provider_customers_sync_pending()
    from payments.services import emails

    emails.emails_retry_due()
    return len(started)


@shared_task(name="payments.dunning")
def run_dunning() -> int:
    return len(dunning.dunning_run())


@shared_task(name="payments.generate_payment_receipt_pdf", acks_late=True)
def generate_payment_receipt_pdf(receipt_id: str) -> str:
    from payments.services import receipts

    return receipts.receipt_generate_pdf(receipt_id).file.name


@shared_task(
    name="payments.send_document_email",
    acks_late=True,
    max_retries=5,
    autoretry_for=(smtplib.SMTPException, OSError),
    retry_backoff=60,
    retry_backoff_max=3600,
)
def send_document_email(sent_email_id: str) -> str:
    """Send one ledger row (invoice, credit note, receipt e-mail); an SMTP failure is retried."""
    from payments.services import emails

    return emails.email_deliver(sent_email_id).status
