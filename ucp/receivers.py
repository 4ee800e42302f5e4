"""Receivers of lower apps' signals (connected in UcpConfig.ready()): each only enqueues, on
commit, a check whether the change belongs to an order placed through UCP."""

from __future__ import annotations

from typing import Any

from django.db import transaction


def _later(kind: str, object_id: Any) -> None:
    from ucp import tasks

    value = str(object_id)
    transaction.on_commit(lambda: tasks.order_changed.delay(kind, value), robust=True)


def on_invoices_finalized(sender: Any, invoices: list[Any], **kwargs: Any) -> None:
    """One task for a billing batch's invoices (not one per invoice): their orders in a few reads."""
    from ucp import tasks

    ids = [str(invoice.id) for invoice in invoices]
    if ids:
        transaction.on_commit(lambda: tasks.invoices_finalized.delay(ids), robust=True)


def on_credit_note(sender: Any, credit_note: Any, **kwargs: Any) -> None:
    _later("invoice", credit_note.invoice_id)


def on_subscription_ended(sender: Any, subscription: Any, **kwargs: Any) -> None:
    _later("subscription", subscription.id)
