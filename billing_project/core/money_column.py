"""`money_column("amount_cents", "currency", "amount")`: an admin column showing an amount in its
currency (`12.50 USD`, `billing_project.core.money.format_amount`), declared in one line.

    class InvoiceAdmin(admin.ModelAdmin):
        list_display = ("number", "total")
        total = money_column("total_amount_cents", "currency", "total", ordering="total_amount_cents")

Both attributes may follow relations with dots (`"subscription.plan.amount_currency"`); name the
relations in the admin's `list_select_related`.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import Any

from django.contrib import admin

from billing_project.core.money import format_amount


def money_column(cents: str, currency: str, description: str, *, ordering: str | None = None) -> Callable[..., str]:
    """An admin display method: the amount at attribute `cents` in the currency at `currency`."""
    amount_of, currency_of = attrgetter(cents), attrgetter(currency)

    def column(model_admin: Any, obj: Any) -> str:
        return format_amount(amount_of(obj), currency_of(obj))

    return admin.display(description=description, ordering=ordering)(column)
