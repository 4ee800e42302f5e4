"""The catalog's answer to `customers.hooks.customer_taxes` (filled in `CatalogConfig.ready()`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from catalog import selectors
from catalog.api.serializers import taxes_data
from catalog.services.taxes import (
    billing_entity_taxes,
    billing_entity_taxes_apply,
    customer_has_taxes_annotation,
    customer_tax_codes_validate,
    customer_taxes_apply,
)
from customers.models import BillingEntity, Customer, Organization


class CatalogCustomerTaxes:
    """`customers.hooks.CustomerTaxes`: a customer's own taxes, by code."""

    prefetch: tuple[str, ...] = ("tax_links__tax",)

    def locked_read_annotations(self) -> dict[str, Any]:
        return customer_has_taxes_annotation()

    def validate(self, organization: Organization, tax_codes: list[str] | None) -> None:
        customer_tax_codes_validate(organization, tax_codes)

    def apply(self, customer: Customer, tax_codes: list[str] | None, *, created: bool) -> Mapping[str, Sequence[Any]]:
        return customer_taxes_apply(customer, tax_codes, created=created)

    def represent(
        self, customer: Customer, *, related: Mapping[str, Sequence[Any]] | None = None
    ) -> list[dict[str, Any]]:
        """`taxes[]` of the customer response (Lago: the customer's own taxes)."""
        links = related.get("tax_links") if related is not None else None
        return taxes_data(selectors.customer_taxes(customer, links=links))


class CatalogBillingEntityTaxes:
    """`customers.hooks.BillingEntityTaxes`: a billing entity's default taxes, by code."""

    def validate(self, organization: Organization, tax_codes: list[str]) -> None:
        customer_tax_codes_validate(organization, tax_codes)

    def apply(self, entity: BillingEntity, tax_codes: list[str]) -> None:
        billing_entity_taxes_apply(entity, tax_codes)

    def represent(self, entity: BillingEntity) -> list[dict[str, Any]]:
        return taxes_data(billing_entity_taxes(entity))
