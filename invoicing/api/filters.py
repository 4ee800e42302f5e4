"""Query parameters of the invoicing lists (billing_project/core/api/filters.py)."""

from __future__ import annotations

from billing_project.core.api.filters import (
    BooleanFilter,
    DateFilter,
    IntegerFilter,
    LagoFilterSet,
    ListFilter,
    TextFilter,
)
from billing_project.core.bounds import MAX_AMOUNT_CENTS


class InvoiceFilters(LagoFilterSet):
    external_customer_id = TextFilter()
    currency = TextFilter()
    invoice_type = TextFilter()
    status = ListFilter(help_text="one status (or status[] several)")
    statuses = ListFilter()
    payment_status = ListFilter()
    payment_statuses = ListFilter()
    issuing_date_from = DateFilter()
    issuing_date_to = DateFilter()
    amount_from = IntegerFilter(min_value=0, max_value=MAX_AMOUNT_CENTS, help_text="total_amount_cents at least")
    amount_to = IntegerFilter(min_value=0, max_value=MAX_AMOUNT_CENTS, help_text="total_amount_cents at most")
    payment_overdue = BooleanFilter()
    search_term = TextFilter()
    purchase_order_number = TextFilter()
    billing_entity_codes = ListFilter(help_text="codes of the billing entities (404 for an unknown one)")


class FeeFilters(LagoFilterSet):
    fee_type = TextFilter()
    payment_status = TextFilter()
    external_subscription_id = TextFilter()
    external_customer_id = TextFilter()
    billable_metric_code = TextFilter()
    currency = TextFilter()
    event_transaction_id = TextFilter()


class CurrentUsageFilters(LagoFilterSet):
    paginated = False
    external_subscription_id = TextFilter(required=True)
    apply_taxes = BooleanFilter(help_text="default true")


class PastUsageFilters(LagoFilterSet):
    external_subscription_id = TextFilter(required=True)
    billable_metric_code = TextFilter()
    periods_count = IntegerFilter(min_value=1, max_value=1000, help_text="the last N invoiced periods")
