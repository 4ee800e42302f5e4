"""Query parameters of the analytics routes (billing_project/core/api/filters.py)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError

from billing_project.core.api.filters import (
    BooleanFilter,
    DateFilter,
    IntegerFilter,
    LagoFilterSet,
    TextField,
    TextFilter,
)
from billing_project.core.money import is_currency
from customers.models import CustomerType
from reporting.selectors import MAX_MONTHS
from reporting.usage import GRANULARITIES


class CurrencyField(TextField):
    """An ISO 4217 code, any case; given back upper-case."""

    def to_python(self, value: Any) -> str | None:
        text = super().to_python(value)
        if text is None:
            return None
        if not is_currency(text.upper()):
            raise ValidationError("not a currency", code="invalid")
        return text.upper()


class CurrencyFilter(TextFilter):
    field_class = CurrencyField


class AnalyticsFilters(LagoFilterSet):
    paginated = False
    months = IntegerFilter(
        min_value=1, max_value=MAX_MONTHS, help_text="How many months back, this one included (default 12)."
    )
    currency = CurrencyFilter(help_text="ISO 4217 code; no conversion between currencies.")
    external_customer_id = TextFilter(help_text="only for the routes by customer")
    billing_entity_code = TextFilter(
        help_text="only the invoices of this billing entity (the routes by customer; 404 for an unknown code)"
    )


class UsageAnalyticsFilters(LagoFilterSet):
    """Lago's `GET /analytics/usage` filters."""

    paginated = False
    time_granularity = TextFilter(choices=GRANULARITIES, help_text="daily (default), weekly (from Monday) or monthly")
    from_date = DateFilter(help_text="issuing dates from this day (default: 30 days ago)")
    to_date = DateFilter(help_text="issuing dates up to this day included (default: today)")
    currency = CurrencyFilter(help_text="ISO 4217 code")
    customer_type = TextFilter(choices=CustomerType.values)
    external_customer_id = TextFilter()
    customer_country = TextFilter(help_text="ISO 3166 alpha-2")
    external_subscription_id = TextFilter()
    is_billable_metric_recurring = BooleanFilter()
    plan_code = TextFilter()
    billable_metric_code = TextFilter()
