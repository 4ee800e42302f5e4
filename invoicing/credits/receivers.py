"""Receivers of the subscriptions app's signals for credits: they only enqueue a task on commit.

`subscription_terminated` → `invoicing.credit_note_for_termination`: the unused days of an
in-advance base fee and fixed charges become a credit note (docs/billing-semantics.md §5.6, §5.7, §5.9). Connected in
`InvoicingConfig.ready()`.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from subscriptions import signals


def _on_terminated(sender: Any, subscription: Any, **kwargs: Any) -> None:
    from invoicing.billing.fixed_charges import has_advance_fixed_charges

    if subscription.on_termination_credit_note == "skip":
        return
    if not subscription.plan.pay_in_advance and not has_advance_fixed_charges(subscription.plan_id):
        return
    subscription_id = str(subscription.id)

    def enqueue() -> None:
        from invoicing.credits import tasks as credit_tasks

        credit_tasks.credit_note_for_termination.delay(subscription_id)

    transaction.on_commit(enqueue)


def connect() -> None:
    signals.subscription_terminated.connect(_on_terminated, dispatch_uid="invoicing.credits.terminated")
