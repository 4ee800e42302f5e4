"""Query parameters of the credits lists: credit notes, wallets, wallet transactions (billing_project/core/api/filters.py)."""

from __future__ import annotations

from billing_project.core.api.filters import DateFilter, IntegerFilter, LagoFilterSet, ListFilter, TextFilter
from billing_project.core.bounds import MAX_AMOUNT_CENTS


class CreditNoteFilters(LagoFilterSet):
    external_customer_id = TextFilter()
    invoice_id = TextFilter(help_text="lago_id of the invoice")
    invoice_number = TextFilter(help_text="number of the credited invoice")
    credit_status = TextFilter()
    refund_status = TextFilter()
    reason = TextFilter()
    currency = TextFilter()
    issuing_date_from = DateFilter()
    issuing_date_to = DateFilter()
    amount_from = IntegerFilter(min_value=0, max_value=MAX_AMOUNT_CENTS, help_text="total_amount_cents at least")
    amount_to = IntegerFilter(min_value=0, max_value=MAX_AMOUNT_CENTS, help_text="total_amount_cents at most")
    search_term = TextFilter(help_text="part of the number, or of the customer's name, external id or email")
    billing_entity_codes = ListFilter(help_text="codes of the billing entities (404 for an unknown one)")


class WalletFilters(LagoFilterSet):
    external_customer_id = TextFilter()
    status = TextFilter()
    currency = TextFilter()
    billing_entity_codes = ListFilter(help_text="codes of the billing entities (404 for an unknown one)")


class WalletTransactionFilters(LagoFilterSet):
    status = TextFilter()
    transaction_type = TextFilter()
    transaction_status = TextFilter()
