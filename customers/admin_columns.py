"""Admin columns shared by the rows that choose how they are billed: a payment method
(`customers.payment_choice`) and invoice custom sections (`customers.section_choice`). Wallets, their
recurring rules and transactions, and subscriptions list them the same way."""

from __future__ import annotations

from typing import Any

from django.contrib import admin

from customers.entities import section_choice_description
from customers.payment_choice import payment_method_description


class ChoiceColumns:
    """Mixed into a model admin or inline: `payment_method_chosen` and `invoice_sections_chosen`,
    to name in its fields or columns."""

    @admin.display(description="payment method")
    def payment_method_chosen(self, obj: Any) -> str:
        return payment_method_description(obj, obj.organization_id)

    @admin.display(description="invoice custom sections")
    def invoice_sections_chosen(self, obj: Any) -> str:
        return section_choice_description(obj.section_choice, obj.organization_id)
