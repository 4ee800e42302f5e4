"""Celery tasks of payments. Each takes ids, calls one service, and is safe to run twice."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from payments.providers import TransientProviderError
from payments.services import collection, customers, dunning, events, refunds


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


@shared_task(name="payments.sync_provider_customer", acks_late=True)
def sync_provider_customer(customer_id: str) -> str | None:
    return customers.provider_customer_ensure(customer_id).provider_customer_id


@shared_task(name="payments.refund_credit_note", acks_late=True)
def refund_credit_note(credit_note_id: str) -> list[str]:
    """Refund a credit note's refund part through the provider (one Refund per payment, keyed)."""
    from invoicing.models import CreditNote

    note = CreditNote.objects.select_related("organization").filter(id=credit_note_id).first()
    if note is None or note.refund_amount_cents <= 0:
        return []
    return [r.status for r in refunds.credit_note_refund(note.organization, credit_note_id=note.id)]


@shared_task(name="payments.retry_sweep")
def retry_sweep() -> int:
    """Beat: retries that are due, pending attempts and refunds to re-submit, waiting events."""
    started = collection.payments_retry_due()
    collection.payments_reconcile()
    events.provider_events_retry_due()
    refunds.refunds_retry_pending()
    return len(started)


@shared_task(name="payments.dunning")
def run_dunning() -> int:
    return len(dunning.dunning_run())
