"""Add-ons: one-off items invoiced on their own (docs/lago-compatibility.md §2, docs/catalog.md)."""

from __future__ import annotations

from django.db import transaction

from billing_project.core.errors import ValidationFailure
from billing_project.core.inputs import UNSET, or_none
from catalog.inputs import AddOnFields
from catalog.models import AddOn, AddOnTax
from catalog.services.common import (
    amount_cents_codes,
    currency_codes,
    locked_by_code,
    name_and_code_errors,
    save_with_code,
    set_links,
    soft_delete,
    taxes_for_codes,
)
from customers.models import Organization

_TEXT = ("name", "code", "invoice_display_name", "description")


def _errors(organization: Organization, add_on: AddOn, data: AddOnFields, *, creating: bool) -> dict[str, list]:
    errors = name_and_code_errors(add_on, AddOn.live.filter(organization=organization))
    if creating or data.amount_cents is not UNSET:
        if codes := amount_cents_codes(or_none(data.amount_cents), required=True):
            errors["amount_cents"] = codes
    if creating or data.amount_currency is not UNSET:
        if codes := currency_codes(or_none(data.amount_currency), required=True):
            errors["amount_currency"] = codes
    return errors


def _apply(add_on: AddOn, data: AddOnFields) -> None:
    for field in _TEXT:
        text = getattr(data, field)
        if text is not UNSET:
            setattr(add_on, field, text or "")
    amount_cents = or_none(data.amount_cents)
    if isinstance(amount_cents, int):
        add_on.amount_cents = amount_cents
    amount_currency = or_none(data.amount_currency)
    if amount_currency:
        add_on.amount_currency = amount_currency


def _save(add_on: AddOn, organization: Organization, data: AddOnFields) -> None:
    tax_codes = or_none(data.tax_codes)
    taxes = taxes_for_codes(organization, tax_codes) if tax_codes is not None else None
    save_with_code(add_on)
    if taxes is not None:
        set_links(add_on, AddOnTax, "add_on", taxes)


def _write(organization: Organization, add_on: AddOn, data: AddOnFields, *, creating: bool) -> AddOn:
    _apply(add_on, data)
    if errors := _errors(organization, add_on, data, creating=creating):
        raise ValidationFailure(errors)
    _save(add_on, organization, data)
    return add_on


@transaction.atomic
def add_on_create(organization: Organization, *, data: AddOnFields) -> AddOn:
    return _write(organization, AddOn(organization=organization), data, creating=True)


@transaction.atomic
def add_on_update(organization: Organization, *, code: str, data: AddOnFields) -> AddOn:
    return _write(organization, locked_by_code(AddOn.live, organization, code, "add_on"), data, creating=False)


@transaction.atomic
def add_on_delete(organization: Organization, *, code: str) -> AddOn:
    """Soft delete (Lago): invoices that used the add-on keep their fees."""
    add_on = locked_by_code(AddOn.live, organization, code, "add_on")
    soft_delete(add_on)
    return add_on
