"""Helpers shared by the catalog services."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol, TypeVar

from django.db import models
from django.utils import timezone

from billing_project.core import bounds, money
from billing_project.core.errors import NotFoundFailure, ValidationFailure, merge_details
from billing_project.core.found import found
from billing_project.core.inputs import Unset
from billing_project.core.models import save_unique
from catalog.hooks import plan_usage
from catalog.models import Charge, FixedCharge, Plan, Tax
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


Row = TypeVar("Row", bound=models.Model)


def locked_by_code(manager: models.Manager[Row], organization: Organization, code: str, resource: str) -> Row:
    """The organization's row with this code (of `manager`'s rows), locked; 404 `<resource>_not_found`."""
    return found(manager.select_for_update().filter(organization=organization, code=code).first(), resource)


def name_and_code_errors(row: Any, others: models.QuerySet[Any]) -> dict[str, list[str]]:
    """`name` and `code` are mandatory, and the code is not one of `others`' (the organization's
    live rows of the model) but for the row itself."""
    errors: dict[str, list[str]] = {}
    if not row.name or not row.name.strip():
        errors["name"] = ["value_is_mandatory"]
    if not row.code or not row.code.strip():
        errors["code"] = ["value_is_mandatory"]
    elif others.filter(code=row.code).exclude(pk=row.pk).exists():
        errors["code"] = ["value_already_exist"]
    return errors


def save_with_code(row: models.Model) -> None:
    """Save `row` in a savepoint; the unique constraint on its code refusing it (a concurrent
    request took the code first) is `code: value_already_exist`."""
    save_unique(row)


def soft_delete(row: models.Model, now: datetime | None = None) -> None:
    """Lago's delete of a catalog row: `deleted_at` set (now by default), the row kept."""
    row.deleted_at = now or timezone.now()  # type: ignore[attr-defined]
    row.save(update_fields=["deleted_at", "updated_at"])


def copied(source: models.Model, fields: Iterable[str]) -> dict[str, Any]:
    """`source`'s values of `fields`, as keywords of a new row copying it (a JSON dict or list is
    copied, not shared)."""
    values = {field: getattr(source, field) for field in fields}
    return {field: type(value)(value) if isinstance(value, dict | list) else value for field, value in values.items()}


# --- what a plan's charges and fixed charges share -------------------------------------------------

PlanItem = TypeVar("PlanItem", Charge, FixedCharge)
Built = TypeVar("Built")


def plan_for_update(organization: Organization, code: str) -> Plan:
    """The organization's plan (not an override) with this code, locked; 404 `plan_not_found`."""
    return found(
        Plan.live.select_for_update().filter(organization=organization, code=code, parent__isnull=True).first(), "plan"
    )


def plan_item_for_update(model: type[PlanItem], plan: Plan, code: str, *, resource: str, related: str) -> PlanItem:
    """The plan's charge or fixed charge with this code, locked (with its `related` row); 404
    `<resource>_not_found`."""
    return found(model.live.select_for_update().filter(plan=plan, code=code).select_related(related).first(), resource)


def write_plan_item(
    organization: Organization,
    plan_code: str,
    code: str | None,
    *,
    get: Callable[[Plan, str], PlanItem],
    apply: Callable[[Plan, PlanItem | None, bool], tuple[Built, dict[str, list[str]]]],
    save: Callable[[Built], PlanItem],
) -> PlanItem:
    """A per-plan route's create (`code` None) or update of one charge or fixed charge: the plan
    and the row locked, the row built by `apply(plan, row, locked)` (`locked`: an existing row of a
    plan subscriptions use keeps its frozen fields), 422 with its errors, else `save`d."""
    plan = plan_for_update(organization, plan_code)
    row = get(plan, code) if code is not None else None
    locked = row is not None and plan_usage.get().in_use(plan)
    built, errors = apply(plan, row, locked)
    if errors:
        raise ValidationFailure(errors)
    return save(built)


def next_plan_item_code(model: type[PlanItem], plan: Plan, base: str, taken: set[str]) -> str:
    """`base`, or `base_2`, `base_3`... : the first code no live row of the plan (nor `taken`) has."""
    used = taken | set(model.live.filter(plan=plan).values_list("code", flat=True))
    if base not in used:
        return base
    n = 2
    while f"{base}_{n}" in used:
        n += 1
    return f"{base}_{n}"


def assign_plan_item_code(
    row: PlanItem,
    plan: Plan,
    code: str | None,
    *,
    creating: bool,
    locked: bool,
    taken: set[str],
    base: Callable[[], str],
) -> dict[str, list[str]]:
    """Give `row` the code sent (a new row without one: `base()` numbered past the codes in use; an
    existing row of a plan in use keeps its code), add it to `taken` and return the code's errors."""
    model = type(row)
    clash = False
    if creating:
        if code:
            clash = code in taken or model.live.filter(plan=plan, code=code).exists()
            row.code = code
        else:
            row.code = next_plan_item_code(model, plan, base(), taken)
    elif code and code != row.code and not locked:
        clash = code in taken or model.live.filter(plan=plan, code=code).exclude(pk=row.pk).exists()
        row.code = code
    taken.add(row.code)
    return {"code": ["value_already_exist"]} if clash else {}


class _SentItem(Protocol):
    @property
    def id(self) -> str | Unset | None: ...

    @property
    def code(self) -> str | Unset | None: ...


def sync_plan_items(
    existing: dict[str, PlanItem],
    items: Sequence[_SentItem],
    *,
    apply: Callable[[Any, PlanItem | None, set[str]], tuple[Built, dict[str, list[str]]]],
    discard: Callable[[PlanItem, datetime], None],
    save: Callable[[Built], object],
) -> None:
    """Lago's sync of a plan's charges (or fixed charges): the list sent becomes the plan's.

    An item with the `id` (or, without an id, the `code`) of an existing row updates it; others
    are created (`apply(item, match, taken_codes)` builds each, unsaved, with its errors); the
    existing rows not matched are soft deleted. Nothing is written when any item has errors."""
    by_code = {row.code: row for row in existing.values()}
    kept: set[str] = set()
    matches: list[PlanItem | None] = []
    for item in items:
        match = existing.get(str(item.id)) if item.id else None
        if match is None and not item.id and item.code in by_code:
            match = by_code[str(item.code)]
        if match is not None and str(match.pk) in kept:
            match = None
        if match is not None:
            kept.add(str(match.pk))
        matches.append(match)
    taken = {m.code for m in matches if m is not None}  # codes kept by existing rows are taken for new ones
    built: list[Built] = []
    errors: dict[str, list[str]] = {}
    for item, match in zip(items, matches, strict=True):
        if match is not None:
            taken.discard(match.code)
        one, item_errors = apply(item, match, taken)
        built.append(one)
        errors = merge_details(errors, item_errors)
    if errors:
        raise ValidationFailure(errors)
    now = timezone.now()
    for pk, row in existing.items():
        if pk not in kept:
            discard(row, now)
    for one in built:
        save(one)
