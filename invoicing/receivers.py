"""Receivers of lower apps' signals (connected in InvoicingConfig.ready()). Each only enqueues."""

from __future__ import annotations

from typing import Any

from django.db import transaction


def on_events_ingested(
    sender: Any,
    organization: Any,
    external_subscription_ids: Any,
    pay_in_advance_charges: bool | None = None,
    **kwargs: Any,
) -> None:
    """Instant fees of pay-in-advance charges for the events just stored.

    Whether the organization has such charges is read from the database at every ingestion, never
    cached: a "no such charge" kept in one process would skip the fees of a charge created in
    another. PostgreSQL's insert statement (one event or a batch) answers it in its own round trip
    (`pay_in_advance_charges`); otherwise one indexed query here. The reconciliation sweep bills
    whatever is still missed (invoicing/services/advance.py)."""
    if not external_subscription_ids:
        return
    if pay_in_advance_charges is None:
        from invoicing.services.advance import organization_has_advance_charges

        pay_in_advance_charges = organization_has_advance_charges(organization.id)
    if not pay_in_advance_charges:
        return
    from invoicing import tasks

    organization_id, ids = str(organization.id), sorted(external_subscription_ids)
    # robust: with eager tasks a failure is logged, never raised into the ingestion request (the
    # events are stored; the reconciliation sweep bills what is left).
    transaction.on_commit(lambda: tasks.pay_in_advance_fees.delay(organization_id, ids), robust=True)


# --- subscriptions: closing and opening invoices at once (invoicing/services/immediate.py) -------

# `subscription_started` reasons of a plan change, and `subscription_terminated` reasons of the
# subscription it replaces: both are billed when the successor starts, on one invoice.
_PLAN_CHANGE_STARTS = frozenset({"upgraded", "downgraded_now", "downgrade"})
_PLAN_CHANGE_ENDS = frozenset({"upgraded", "downgraded", "downgraded_now"})


def _bill_on_commit(subscription_ids: list[Any], reason: str) -> None:
    from invoicing import tasks

    ids = [str(pk) for pk in subscription_ids]
    # robust: with eager tasks (no broker) a billing failure is logged, never raised into the
    # request that changed the subscription; the hourly sweep bills what is still due.
    transaction.on_commit(lambda: tasks.bill_subscriptions.delay(ids, reason), robust=True)


def _in_trial(subscription: Any) -> bool:
    from django.utils import timezone

    return subscription.trial_ends_at is not None and subscription.trial_ends_at > timezone.now()


def _bills_at_start(plan: Any) -> bool:
    """A plan paid in advance, or with fixed charges paid in advance, bills its first period at once."""
    from catalog.models import FixedCharge

    return bool(plan.pay_in_advance) or FixedCharge.live.filter(plan=plan, pay_in_advance=True).exists()


def on_subscription_started(sender: Any, subscription: Any, reason: str = "", **kwargs: Any) -> None:
    """A plan change bills the replaced subscription's closing period with the new one's opening
    period (Lago's `upgrading`); a new in-advance plan bills its first period (`subscription_starting`)."""
    ids = []
    if reason in _PLAN_CHANGE_STARTS and subscription.previous_subscription_id is not None:
        ids.append(subscription.previous_subscription_id)
    if _bills_at_start(subscription.plan) and not _in_trial(subscription):
        ids.append(subscription.id)
    if ids:
        _bill_on_commit(ids, "upgrading" if reason in _PLAN_CHANGE_STARTS else "subscription_starting")


def on_subscription_terminated(sender: Any, subscription: Any, reason: str = "", **kwargs: Any) -> None:
    if reason in _PLAN_CHANGE_ENDS:
        return  # billed with its successor, see on_subscription_started
    _bill_on_commit([subscription.id], "subscription_terminating")


def on_subscription_trial_ended(sender: Any, subscription: Any, **kwargs: Any) -> None:
    if _bills_at_start(subscription.plan):
        _bill_on_commit([subscription.id], "subscription_starting")


def on_fixed_charge_units_changed(
    sender: Any, subscription_id: Any, fixed_charge_id: Any, at: Any, **kwargs: Any
) -> None:
    """An increase of a fixed charge paid in advance is billed at once (docs/billing-semantics.md §5.9)."""
    from invoicing import tasks

    args = (str(subscription_id), str(fixed_charge_id), at.isoformat())
    transaction.on_commit(lambda: tasks.bill_fixed_charge_increase.delay(*args), robust=True)


def connect() -> None:
    from metering.signals import events_ingested
    from subscriptions import signals

    events_ingested.connect(on_events_ingested, dispatch_uid="invoicing.pay_in_advance_fees")
    signals.subscription_started.connect(on_subscription_started, dispatch_uid="invoicing.bill_now.started")
    signals.subscription_terminated.connect(on_subscription_terminated, dispatch_uid="invoicing.bill_now.terminated")
    signals.subscription_trial_ended.connect(on_subscription_trial_ended, dispatch_uid="invoicing.bill_now.trial")
    signals.fixed_charge_units_changed.connect(
        on_fixed_charge_units_changed, dispatch_uid="invoicing.fixed_charge_increase"
    )
