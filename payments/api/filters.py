"""Query parameters of the payments lists (billing_project/core/api/filters.py)."""

from __future__ import annotations

from billing_project.core.api.filters import LagoFilterSet, TextFilter


class PaymentFilters(LagoFilterSet):
    external_customer_id = TextFilter()
    invoice_id = TextFilter(help_text="lago_id of the invoice")


class PaymentRequestFilters(LagoFilterSet):
    external_customer_id = TextFilter()
    payment_status = TextFilter()
    currency = TextFilter()


class PaymentReceiptFilters(LagoFilterSet):
    invoice_id = TextFilter(
        help_text="lago_id of an invoice: receipts of its payments, and of payment requests covering it"
    )
