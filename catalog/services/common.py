"""Helpers shared by the catalog services."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from decimal import Decimal

from django.db import models

from billing_project.core import bounds, money
from billing_project.core.errors import NotFoundFailure
from catalog.models import Tax
from customers.models import Organization


def taxes_for_codes(organization: Organization, codes: Iterable[str] | None) -> list[Tax]:
    """The organization's taxes with these codes, in the order given; 404 `tax_not_found` otherwise."""
    wanted = list(dict.fromkeys(code for code in (codes or []) if code is not None))
    if not wanted:
        return []
    found = {tax.code: tax for tax in Tax.objects.filter(organization=organization, code__in=wanted)}
    if len(found) != len(wanted):
        raise NotFoundFailure("tax")
    return [found[code] for code in wanted]


def set_links(owner: models.Model, link_model: type[models.Model], owner_field: str, taxes: list[Tax]) -> None:
    """Make the owner's tax links exactly `taxes` (keeps existing rows, removes the others)."""
    existing = dict(link_model._default_manager.filter(**{owner_field: owner}).values_list("tax_id", "pk"))
    wanted = {tax.pk for tax in taxes}
    stale = [pk for tax_id, pk in existing.items() if tax_id not in wanted]
    if stale:
        link_model._default_manager.filter(pk__in=stale).delete()
    for tax in taxes:
        if tax.pk not in existing:
            link_model._default_manager.create(**{owner_field: owner, "tax": tax})


def amount_cents_codes(value: object, *, required: bool) -> list[str]:
    """The error codes of an amount in cents (None: not given)."""
    if value is None:
        return ["value_is_mandatory"] if required else []
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= bounds.MAX_AMOUNT_CENTS:
        return ["value_is_invalid"]
    return []


def currency_codes(value: str | None, *, required: bool) -> list[str]:
    """The error codes of a currency code (None or "": not given)."""
    if value is None or value == "":
        return ["value_is_mandatory"] if required else []
    return [] if money.is_currency(value) else ["value_is_invalid"]


def as_uuid(value: object) -> uuid.UUID | None:
    """A UUID from text, or None (a malformed id is simply not found)."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except (ValueError, TypeError, AttributeError):
        return None


def exact_decimal(value: object, *, places: int, minimum: Decimal, maximum: Decimal) -> Decimal | None:
    """A decimal in [minimum, maximum] that a column with `places` decimals stores exactly; else None."""
    number = money.parse_decimal(value)
    if number is None or number < minimum or number > maximum:
        return None
    stored = number.quantize(Decimal(1).scaleb(-places))
    return stored if stored == number else None


def filter_values_key(values: dict[str, list[str]] | None) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """A charge filter's values compared whatever their order (two filters of a charge never share it)."""
    return tuple(sorted((key, tuple(sorted(vals))) for key, vals in (values or {}).items()))
