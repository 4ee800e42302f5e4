"""Taxes (docs/catalog.md, docs/billing-semantics.md §6.2) and the customer's tax list (`customers.hooks.CustomerTaxes`)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef

from billing_project.core.errors import NotFoundFailure, ValidationFailure
from billing_project.core.inputs import UNSET, or_none
from billing_project.core.money import parse_decimal
from catalog.inputs import TaxFields
from catalog.models import BillingEntityTax, CustomerTax, Tax
from catalog.services.common import (
    copied,
    locked_by_code,
    name_and_code_errors,
    save_with_code,
    set_links,
    taxes_for_codes,
)
from customers.models import BillingEntity, Customer, Organization

MAX_RATE = Decimal("1000000")


def _rate(value: Any) -> Decimal | None:
    rate = parse_decimal(value)
    if rate is None or rate < 0 or rate >= MAX_RATE:
        return None
    exact = rate.quantize(Decimal("0.0001"))
    return exact if exact == rate else None  # more than 4 decimals would be rounded: refuse


def _tax_errors(organization: Organization, tax: Tax) -> dict[str, list[str]]:
    return name_and_code_errors(tax, Tax.objects.filter(organization=organization))


def _apply(tax: Tax, data: TaxFields, errors: dict[str, list[str]], *, creating: bool) -> None:
    for field in ("name", "code"):
        text = getattr(data, field)
        if text is not UNSET:
            setattr(tax, field, text or "")
    if data.description is not UNSET:
        tax.description = data.description or ""
    applied = or_none(data.applied_to_organization)
    if applied is not None:
        tax.applied_to_organization = bool(applied)
    if data.rate is not UNSET or creating:
        if data.rate is UNSET or data.rate is None:
            errors["rate"] = ["value_is_mandatory"]
        else:
            rate = _rate(data.rate)
            if rate is None:
                errors["rate"] = ["value_is_invalid"]
            else:
                tax.rate = rate


def _write(organization: Organization, tax: Tax, data: TaxFields, *, creating: bool) -> Tax:
    errors: dict[str, list[str]] = {}
    _apply(tax, data, errors, creating=creating)
    errors = {**_tax_errors(organization, tax), **errors}
    if errors:
        raise ValidationFailure(errors)
    save_with_code(tax)
    return tax


@transaction.atomic
def tax_create(organization: Organization, *, data: TaxFields) -> Tax:
    return _write(organization, Tax(organization=organization), data, creating=True)


@transaction.atomic
def tax_update(organization: Organization, *, code: str, data: TaxFields) -> Tax:
    return _write(organization, locked_by_code(Tax.objects, organization, code, "tax"), data, creating=False)


_KEPT_WHEN_DELETED = (
    "id",
    "code",
    "name",
    "rate",
    "description",
    "applied_to_organization",
    "created_at",
    "updated_at",
)


@transaction.atomic
def tax_delete(organization: Organization, *, code: str) -> Tax:
    """Lago deletes a tax for good; its links to customers, plans, charges and add-ons go with it.

    Invoices keep their own copy of the tax (name, code, rate) on their applied-tax rows.
    """
    tax = locked_by_code(Tax.objects, organization, code, "tax")
    deleted = Tax(organization=organization, **copied(tax, _KEPT_WHEN_DELETED))
    tax.delete()
    return deleted


# --- customers' taxes (`catalog.customer_taxes` fills the `customers.hooks.customer_taxes` hook) ---


def customer_tax_codes_validate(organization: Organization, tax_codes: list[str] | None) -> None:
    """Unknown codes are a 404 `tax_not_found`, as in Lago."""
    if tax_codes:
        taxes_for_codes(organization, tax_codes)


HAS_TAXES_ANNOTATION = "has_customer_tax_links"


def customer_has_taxes_annotation() -> dict[str, Any]:
    """`CustomerTaxes.locked_read_annotations`: whether the customer has taxes, read with the
    upsert's locked row."""
    return {HAS_TAXES_ANNOTATION: Exists(CustomerTax.objects.filter(customer_id=OuterRef("pk")))}


def customer_taxes_apply(customer: Customer, tax_codes: list[str] | None, *, created: bool) -> dict[str, list[Any]]:
    """The upsert's `tax_codes` (None: not sent, the taxes stay). Returns `{"tax_links": []}` when
    the customer is known to have no taxes (just inserted, or none found under the upsert's row
    lock), so its representation does not read the table (`CustomerTaxes.apply`)."""
    if tax_codes is None:
        if created or getattr(customer, HAS_TAXES_ANNOTATION, None) is False:
            return {"tax_links": []}
        return {}
    set_links(customer, CustomerTax, "customer", taxes_for_codes(customer.organization, tax_codes))
    return {}


@transaction.atomic
def customer_taxes_set(organization: Organization, *, customer: Customer, tax_codes: list[str]) -> list[Tax]:
    if customer.organization_id != organization.pk:
        raise NotFoundFailure("customer")
    taxes = taxes_for_codes(organization, tax_codes)
    set_links(customer, CustomerTax, "customer", taxes)
    return taxes


# --- billing entities' default taxes (`customers.hooks.billing_entity_taxes`) ----------------


def billing_entity_taxes(entity: BillingEntity) -> list[Tax]:
    """The entity's default taxes: the organization's (`applied_to_organization`) for its default
    entity, the entity's own links for the others."""
    if entity.is_default:
        taxes = Tax.objects.filter(organization_id=entity.organization_id, applied_to_organization=True)
        return list(taxes.order_by("code"))
    return list(Tax.objects.filter(billing_entity_links__billing_entity=entity).order_by("code"))


def billing_entity_taxes_apply(entity: BillingEntity, tax_codes: list[str]) -> None:
    """Replace the entity's default taxes (for the default entity: which of the organization's
    taxes are `applied_to_organization`)."""
    taxes = taxes_for_codes(entity.organization, tax_codes)
    if not entity.is_default:
        set_links(entity, BillingEntityTax, "billing_entity", taxes)
        return
    wanted = {tax.pk for tax in taxes}
    for tax in Tax.objects.filter(organization_id=entity.organization_id).select_for_update():
        applied = tax.pk in wanted
        if tax.applied_to_organization != applied:
            tax.applied_to_organization = applied
            tax.save(update_fields=["applied_to_organization", "updated_at"])
