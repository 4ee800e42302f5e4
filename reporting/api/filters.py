"""Query parameters of the analytics routes (billing_project/core/api/filters.py)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError

from billing_project.core.api.filters import IntegerFilter, LagoFilterSet, TextField, TextFilter
from billing_project.core.money import is_currency
from reporting.selectors import MAX_MONTHS


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
