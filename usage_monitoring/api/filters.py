"""Query parameters of the alerts and lifetime usage routes (billing_project/core/api/filters.py)."""

from __future__ import annotations

from billing_project.core.api.filters import LagoFilterSet, TextFilter
from subscriptions.models import SubscriptionStatus


class SubscriptionStatusFilters(LagoFilterSet):
    """Which of the subscriptions sharing an external_id the route names (default: the active one)."""

    paginated = False
    subscription_status = TextFilter(choices=SubscriptionStatus.values, help_text="default: active")


class AlertFilters(SubscriptionStatusFilters):
    paginated = True
