"""Query parameters of the features and entitlements routes (billing_project/core/api/filters.py)."""

from __future__ import annotations

from billing_project.core.api.filters import LagoFilterSet, TextFilter


class FeatureFilters(LagoFilterSet):
    search_term = TextFilter(help_text="search in the code, name and description")


class SubscriptionStatusFilters(LagoFilterSet):
    """Which of the subscriptions sharing an external id the route names (default: the active one).
    Lago also reads `status`; an unknown status finds no subscription (404), as Lago's."""

    paginated = False
    subscription_status = TextFilter(help_text="active (default), pending, terminated or canceled")
    status = TextFilter(help_text="the same as subscription_status (Lago's older name)")
