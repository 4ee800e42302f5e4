"""Helpers shared by the subscription services: the transition ledger, webhooks, locks, parsing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from django.utils.dateparse import parse_datetime

from billing_project.core import bounds
from billing_project.core.actor import current_actor
from billing_project.core.errors import NotAllowedFailure, NotFoundFailure
from customers.models import Customer
from subscriptions import state_machine
from subscriptions.models import Subscription, SubscriptionTransition
from webhooks.services import webhook_send_row


def record_transition(
    subscription: Subscription,
    *,
    event: str,
    from_status: str,
    at: datetime,
    reason: str = "",
    details: dict[str, Any] | None = None,
) -> SubscriptionTransition:
    return SubscriptionTransition.objects.create(
        organization_id=subscription.organization_id,
        subscription=subscription,
        event=event,
        from_status=from_status,
        to_status=subscription.status,
        actor=current_actor().trail_label,
        reason=reason,
        occurred_at=at,
        details=details or {},
    )


def emit(subscription: Subscription, webhook_type: str) -> None:
    """Lago's subscription webhook, written to the outbox inside the caller's transaction."""
    from subscriptions.representation import subscription_payload

    webhook_send_row(subscription, webhook_type, "subscription", subscription_payload)


def lock_customer(customer_id: UUID | str) -> Customer:
    """Every change to a customer's subscriptions runs under this row lock: one at a time."""
    return Customer.objects.select_for_update(of=("self",)).select_related("organization").get(pk=customer_id)


def lock_subscription(subscription_id: UUID | str) -> Subscription:
    return (
        Subscription.objects.select_for_update(of=("self",))
        .select_related("organization", "customer", "customer__organization", "plan")
        .get(pk=subscription_id)
    )


def lock_changeable(organization_id: UUID | str, subscription: Subscription) -> Subscription:
    """Lock the customer, then the subscription, for a change that only a live (pending or active)
    subscription of this organization takes: another tenant's is a 404, a terminated or canceled
    one 405 `invalid_status`."""
    lock_customer(subscription.customer_id)
    subscription = lock_subscription(subscription.pk)
    if str(subscription.organization_id) != str(organization_id):
        raise NotFoundFailure("subscription")
    if subscription.status in state_machine.FINAL_STATUSES:
        raise NotAllowedFailure(state_machine.REFUSED_CODE)
    return subscription


def parse_instant(value: Any) -> datetime | None:
    """An ISO-8601 string (or datetime) to an aware datetime; a date-only string is 00:00 UTC.

    Raises ValueError when the value is not a date, or lies outside 2000..2100.
    """
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        result = value
    elif isinstance(value, str):
        text = value.strip()
        result = parse_datetime(text)
        if result is None and len(text) == 10:
            result = parse_datetime(f"{text}T00:00:00")
        if result is None:
            raise ValueError("invalid date")
    else:
        raise ValueError("invalid date")
    if result.tzinfo is None:
        result = result.replace(tzinfo=UTC)
    if not bounds.datetime_in_range(result):
        raise ValueError("date outside 2000..2100")  # billing_project/core/bounds.py
    return result
