"""Query parameters of the credits lists: credit notes, wallets, wallet transactions (billing_project/core/api/filters.py)."""

from __future__ import annotations

from billing_project.core.api.filters import LagoFilterSet, TextFilter


class CreditNoteFilters(LagoFilterSet):
    external_customer_id = TextFilter()
    invoice_id = TextFilter(help_text="lago_id of the invoice")
    credit_status = TextFilter()
    refund_status = TextFilter()
    reason = TextFilter()
    currency = TextFilter()


class WalletFilters(LagoFilterSet):
    external_customer_id = TextFilter()
    status = TextFilter()


class WalletTransactionFilters(LagoFilterSet):
    status = TextFilter()
    transaction_type = TextFilter()
    transaction_status = TextFilter()
