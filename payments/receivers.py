"""Receivers of lower apps' signals and hooks. They only enqueue tasks on commit."""

from __future__ import annotations

import logging
from typing import Any

from celery.exceptions import Retry
from django.db import transaction

logger = logging.getLogger(__name__)


def _enqueue(task_name: str, object_id: str) -> None:
    """Enqueue after commit. Run eagerly (no broker), a provider outage must not fail the request
    that triggered it: the sweepers pick the work up again."""
    from payments import tasks
    from payments.providers import TransientProviderError

    try:
        getattr(tasks, task_name).delay(object_id)
    except (TransientProviderError, Retry):
        logger.warning("payments task deferred", extra={"task": task_name, "object_id": object_id})


def on_invoice_finalized(sender: Any, invoice: Any, organization: Any, **kwargs: Any) -> None:
    from payments.models import EmailKind
    from payments.services.emails import email_schedule

    email_schedule(organization, kind=EmailKind.INVOICE_FINALIZED, document_id=invoice.id)
    if invoice.total_amount_cents <= 0 or not invoice.customer.payment_provider:
        return
    invoice_id = str(invoice.id)
    transaction.on_commit(lambda: _enqueue("collect_invoice", invoice_id))


def on_customer_upserted(sender: Any, customer: Any, created: bool, **kwargs: Any) -> None:
    """`customers.signals.customer_upserted`: create the provider customer after commit when asked to."""
    from payments.services.customers import wants_provider_customer

    if not wants_provider_customer(customer):
        return
    customer_id = str(customer.id)
    transaction.on_commit(lambda: _enqueue("sync_provider_customer", customer_id))


def on_credit_note_refund_requested(sender: Any, credit_note: Any, organization: Any, **kwargs: Any) -> None:
    credit_note_id = str(credit_note.id)
    transaction.on_commit(lambda: _enqueue("refund_credit_note", credit_note_id))


def on_credit_note_created(sender: Any, credit_note: Any, organization: Any, **kwargs: Any) -> None:
    from payments.models import EmailKind
    from payments.services.emails import email_schedule

    email_schedule(organization, kind=EmailKind.CREDIT_NOTE_CREATED, document_id=credit_note.id)
