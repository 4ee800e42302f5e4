"""Add-ons: one-off items invoiced on their own (docs/lago-compatibility.md §2, docs/catalog.md)."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from billing_project.core.errors import NotFoundFailure, ValidationFailure
from catalog.models import AddOn, AddOnTax
from catalog.services.common import amount_cents_errors, currency_errors, set_links, taxes_for_codes
from customers.models import Organization

_TEXT = ("name", "code", "invoice_display_name", "description")


def _errors(organization: Organization, add_on: AddOn, data: dict[str, Any], *, creating: bool) -> dict[str, list]:
    errors: dict[str, list[str]] = {}
    if not add_on.name.strip():
        errors["name"] = ["value_is_mandatory"]
    if not add_on.code.strip():
        errors["code"] = ["value_is_mandatory"]
    elif AddOn.live.filter(organization=organization, code=add_on.code).exclude(pk=add_on.pk).exists():
        errors["code"] = ["value_already_exist"]
    if creating or "amount_cents" in data:
        if codes := amount_cents_errors(data, required=True):
            errors["amount_cents"] = codes
    if creating or "amount_currency" in data:
        if codes := currency_errors(data, required=True):
            errors["amount_currency"] = codes
    return errors


def _apply(add_on: AddOn, data: dict[str, Any]) -> None:
    for field in _TEXT:
        if field in data:
            setattr(add_on, field, data[field] or "")
    if isinstance(data.get("amount_cents"), int):
        add_on.amount_cents = data["amount_cents"]
    if data.get("amount_currency"):
        add_on.amount_currency = data["amount_currency"]


def _save(add_on: AddOn, organization: Organization, data: dict[str, Any]) -> None:
    taxes = taxes_for_codes(organization, data.get("tax_codes")) if data.get("tax_codes") is not None else None
    try:
        with transaction.atomic():
            add_on.save()
    except IntegrityError as exc:
        raise ValidationFailure.single("code", "value_already_exist") from exc
    if taxes is not None:
        set_links(add_on, AddOnTax, "add_on", taxes)


@transaction.atomic
def add_on_create(organization: Organization, *, data: dict[str, Any]) -> AddOn:
    add_on = AddOn(organization=organization)
    _apply(add_on, data)
    if errors := _errors(organization, add_on, data, creating=True):
        raise ValidationFailure(errors)
    _save(add_on, organization, data)
    return add_on


@transaction.atomic
def add_on_update(organization: Organization, *, code: str, data: dict[str, Any]) -> AddOn:
    add_on = AddOn.live.select_for_update().filter(organization=organization, code=code).first()
    if add_on is None:
        raise NotFoundFailure("add_on")
    _apply(add_on, data)
    if errors := _errors(organization, add_on, data, creating=False):
        raise ValidationFailure(errors)
    _save(add_on, organization, data)
    return add_on


@transaction.atomic
def add_on_delete(organization: Organization, *, code: str) -> AddOn:
    """Soft delete (Lago): invoices that used the add-on keep their fees."""
    add_on = AddOn.live.select_for_update().filter(organization=organization, code=code).first()
    if add_on is None:
        raise NotFoundFailure("add_on")
    add_on.deleted_at = timezone.now()
    add_on.save(update_fields=["deleted_at", "updated_at"])
    return add_on
