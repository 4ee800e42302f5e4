"""Lifetime usage (docs/billing-semantics.md §10): `GET`/`PUT /subscriptions/{external_id}/lifetime_usage`."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from billing_project.core.api.shapes import utc_iso
from billing_project.core.errors import ValidationFailure
from customers.models import Organization
from usage_monitoring import selectors
from usage_monitoring.models import LifetimeUsage, UsageActivity
from usage_monitoring.representation import (
    LifetimeUsageShape,
    LifetimeUsageThresholdShape,
    lifetime_usage_payload,
)
from usage_monitoring.services.evaluation import lifetime_refresh, lifetime_row


def _thresholds(subscription: Any, lifetime: LifetimeUsage) -> list[LifetimeUsageThresholdShape]:
    """Each threshold with its completion ratio (0..1) and when it was reached.

    A recurring threshold is shown for its next point (its last reached point while none is next).
    """
    thresholds = selectors.applicable_usage_thresholds(subscription)
    if not thresholds:
        return []
    total = Decimal(lifetime.total_amount_cents)
    applied = {a.amount_cents: a for a in lifetime.applied_thresholds.all()}
    steps = [t for t in thresholds if not t.recurring]
    result: list[LifetimeUsageThresholdShape] = []
    for threshold in steps:
        reached = applied.get(threshold.amount_cents)
        ratio = min(total / Decimal(threshold.amount_cents), Decimal(1))
        result.append(
            {
                "amount_cents": threshold.amount_cents,
                "completion_ratio": float(round(ratio, 4)),
                "reached_at": utc_iso(reached.created_at) if reached else None,
            }
        )
    recurring = next((t for t in thresholds if t.recurring), None)
    if recurring is not None:
        base = max((t.amount_cents for t in steps), default=0)
        step = recurring.amount_cents
        k = int((total - base) // step) if total >= base + step else 0
        start = base + k * step
        point = start + recurring.amount_cents
        ratio = min(max(total - start, Decimal(0)) / Decimal(recurring.amount_cents), Decimal(1))
        result.append({"amount_cents": point, "completion_ratio": float(round(ratio, 4)), "reached_at": None})
    return result


def lifetime_usage_get(
    organization: Organization, *, external_subscription_id: str, now: dt.datetime | None = None
) -> LifetimeUsageShape:
    now = now or timezone.now()
    sub = selectors.subscription_for(organization, external_subscription_id)
    with transaction.atomic():
        usage = selectors.period_usage(sub, now)
        if usage is None:
            lifetime = LifetimeUsage.objects.get_or_create(
                subscription=selectors.chain(sub)[0],
                defaults={"organization": organization, "external_subscription_id": sub.external_id},
            )[0]
        else:
            lifetime, _ = lifetime_refresh(sub, usage, now=now)
    return lifetime_usage_payload(
        lifetime, subscription=sub, window=usage.window if usage else None, thresholds=_thresholds(sub, lifetime)
    )


def lifetime_usage_update(
    organization: Organization,
    *,
    external_subscription_id: str,
    external_historical_usage_amount_cents: int,
    now: dt.datetime | None = None,
) -> LifetimeUsageShape:
    """Set `external_historical_usage_amount_cents` (usage billed elsewhere before bxb)."""
    value = external_historical_usage_amount_cents
    if value < 0:
        raise ValidationFailure.single("external_historical_usage_amount_cents", "value_is_invalid")
    sub = selectors.subscription_for(organization, external_subscription_id)
    with transaction.atomic():
        row = lifetime_row(sub)
        row.external_historical_usage_amount_cents = value
        row.save(update_fields=["external_historical_usage_amount_cents", "updated_at"])
        # Thresholds may be crossed by the new figure: the next sweep evaluates the subscription.
        UsageActivity.objects.update_or_create(
            organization=organization,
            external_subscription_id=sub.external_id,
            defaults={"marked_at": now or timezone.now()},
        )
        from usage_monitoring.tasks import evaluate_subscription

        org_id, ext = str(organization.pk), sub.external_id
        transaction.on_commit(lambda: evaluate_subscription.delay(org_id, ext), robust=True)
    return lifetime_usage_get(organization, external_subscription_id=external_subscription_id, now=now)
