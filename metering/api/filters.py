"""Query parameters of the metering lists (billing_project/core/api/filters.py)."""

from __future__ import annotations

from billing_project.core.api.filters import DateTimeFilter, LagoFilterSet, TextFilter


class EventFilters(LagoFilterSet):
    code = TextFilter(help_text="billable metric code")
    external_subscription_id = TextFilter()
    timestamp_from = DateTimeFilter(help_text="events at or after")
    timestamp_to = DateTimeFilter(help_text="events at or before")


class EventErrorFilters(LagoFilterSet):
    error_code = TextFilter()
    code = TextFilter()
    external_subscription_id = TextFilter()


class EventLookupFilters(LagoFilterSet):
    paginated = False
    external_subscription_id = TextFilter()
