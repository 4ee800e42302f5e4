"""The catalog's part in other apps' flows (registered from CatalogConfig.ready())."""

from __future__ import annotations

from typing import Any

from catalog import selectors
from catalog.api.serializers import taxes_data
from catalog.services.taxes import customer_has_taxes_annotation, customer_tax_codes_validate, customer_taxes_apply
from customers.models import Customer


def customer_taxes_represent(customer: Customer) -> dict[str, Any]:
    """`taxes[]` of the customer response (Lago: the customer's own taxes)."""
    return {"taxes": taxes_data(selectors.customer_taxes(customer))}


__all__ = [
    "customer_has_taxes_annotation",
    "customer_tax_codes_validate",
    "customer_taxes_apply",
    "customer_taxes_represent",
]
