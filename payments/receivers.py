"""Receivers of lower apps' signals and hooks. They only enqueue tasks on commit."""

from __future__ import annotations

from typing import Any

from django.db import transaction


def on_invoice_finalized(sender: Any, invoice: Any, organization: Any, **kwargs: Any) -> None:
    if invoice.total_amount_cents <= 0 or not invoice.customer.payment_provider:
        return
    invoice_id = str(invoice.id)

    def enqueue() -> None:
        from payments import tasks

        tasks.collect_invoice.delay(invoice_id)

    transaction.on_commit(enqueue)


def on_customer_upsert(customer: Any, payload: dict[str, Any]) -> None:
    """customers.extensions `apply`: create the provider customer after commit when asked to."""
    from payments.services.customers import wants_provider_customer

    if not wants_provider_customer(customer):
        return
    customer_id = str(customer.id)

    def enqueue() -> None:
        from payments import tasks

        tasks.sync_provider_customer.delay(customer_id)

    transaction.on_commit(enqueue)


def on_credit_note_refund_requested(sender: Any, credit_note: Any, organization: Any, **kwargs: Any) -> None:
    credit_note_id = str(credit_note.id)

    def enqueue() -> None:
        from payments import tasks

        tasks.refund_credit_note.delay(credit_note_id)

    transaction.on_commit(enqueue)
