"""Fixed charges: a quantity of an add-on billed every period of a plan (docs/billing-semantics.md §5.9).

Written by a plan's `fixed_charges` (`fixed_charges_sync`, the list sent becomes the plan's), by the
per-plan routes (`plan_fixed_charge_create/update/delete`) and by a subscription's plan override
(`fixed_charges_copy`). Properties are checked by the pure pricing module, as usage charges' are,
for the three models a fixed charge may use.

With `cascade_updates` a plan's change reaches the copies of its override plans (Lago's cascade,
`_cascade_*`): a new fixed charge is copied onto them, a deleted one deleted from them, and an
updated one updates the copies still priced as the plan was (same model and properties) — their
code, units and properties — while a copy with its own price keeps it (only its code follows).

A change of a fixed charge's `units` on the plan is announced with `signals.fixed_charge_units_changed`
(on commit): the subscriptions app records the new quantity for the plan's subscriptions, from now
(`apply_units_immediately`) or from their next period.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from billing_project.core.errors import NotFoundFailure, ValidationFailure, merge_details
from billing_project.core.found import found
from billing_project.core.inputs import UNSET, or_none
from catalog import pricing, signals
from catalog.inputs import FixedChargeFields
from catalog.models import AddOn, FixedCharge, FixedChargeModel, FixedChargeTax, Plan, Tax
from catalog.services.common import (
    as_uuid,
    assign_plan_item_code,
    copied,
    exact_decimal,
    plan_for_update,
    plan_item_for_update,
    save_with_code,
    set_links,
    soft_delete,
    sync_plan_items,
    taxes_for_codes,
    write_plan_item,
)
from customers.models import Organization

MAX_UNITS = Decimal(10) ** 18
MAX_UNITS_DIGITS = 15


@dataclass(frozen=True)
class _Built:
    fixed_charge: FixedCharge
    taxes: list[Tax] | None
    units_changed: bool
    apply_units_immediately: bool
    old_units: Decimal | None = None
    # the price before the change (None when created): which override copies a cascade updates
    old_price: tuple[str, dict] | None = None
    cascade: bool = False


def fixed_charge_units(value: Any) -> Decimal | None:
    """Units: 0 to 10^18 with at most 10 decimals and 15 significant digits (stored exactly and
    rendered as an exact JSON number, as Lago types them); None otherwise."""
    units = exact_decimal(value, places=10, minimum=Decimal(0), maximum=MAX_UNITS)
    if units is None or len(units.normalize().as_tuple().digits) > MAX_UNITS_DIGITS:
        return None
    return units


def fixed_charge_properties_errors(charge_model: str, properties: Any) -> dict[str, list[str]]:
    errors = pricing.validate_properties(charge_model, properties)
    if not errors:
        return {}
    return {"properties": pricing.flatten_errors(errors)}


def _add_on(organization: Organization, data: FixedChargeFields) -> AddOn:
    add_on = None
    if data.add_on_id and (pk := as_uuid(data.add_on_id)) is not None:
        add_on = AddOn.live.filter(organization=organization, pk=pk).first()
    elif not data.add_on_id and data.add_on_code:
        add_on = AddOn.live.filter(organization=organization, code=data.add_on_code).first()
    if add_on is None:
        raise NotFoundFailure("add_on")
    return add_on


def _apply(
    organization: Organization,
    plan: Plan,
    fixed_charge: FixedCharge | None,
    data: FixedChargeFields,
    *,
    locked: bool,
    taken_codes: set[str],
) -> tuple[_Built, dict[str, list[str]]]:
    """Build (unsaved) the fixed charge for `data`. `locked` (the plan has subscriptions): as Lago,
    the model, pay_in_advance, prorated and add-on of an existing fixed charge stay."""
    errors: dict[str, list[str]] = {}
    creating = fixed_charge is None
    if fixed_charge is None:
        fixed_charge = FixedCharge(organization=organization, plan=plan, add_on=_add_on(organization, data))
    old_units = None if creating else fixed_charge.units
    old_model = None if creating else fixed_charge.charge_model
    old_price = None if creating else (fixed_charge.charge_model, dict(fixed_charge.properties or {}))
    if creating or not locked:
        if data.charge_model is not UNSET or creating:
            fixed_charge.charge_model = or_none(data.charge_model) or ""
        if data.pay_in_advance is not UNSET and data.pay_in_advance is not None:
            fixed_charge.pay_in_advance = bool(data.pay_in_advance)
        if data.prorated is not UNSET and data.prorated is not None:
            fixed_charge.prorated = bool(data.prorated)
    if fixed_charge.charge_model not in FixedChargeModel.values:
        errors["charge_model"] = ["value_is_invalid" if fixed_charge.charge_model else "value_is_mandatory"]
    if data.invoice_display_name is not UNSET:
        fixed_charge.invoice_display_name = data.invoice_display_name or ""
    if data.units is not UNSET and data.units is not None:
        units = fixed_charge_units(data.units)
        if units is None:
            errors["units"] = ["value_is_invalid"]
        else:
            fixed_charge.units = units
    errors.update(
        assign_plan_item_code(
            fixed_charge,
            plan,
            or_none(data.code),
            creating=creating,
            locked=locked,
            taken=taken_codes,
            base=lambda: fixed_charge.add_on.code,
        )
    )
    if "charge_model" not in errors:
        model_changed = old_model is not None and old_model != fixed_charge.charge_model
        if data.properties is not UNSET or creating or model_changed:
            source = or_none(data.properties) if data.properties is not UNSET else fixed_charge.properties
            fixed_charge.properties = pricing.filter_properties(fixed_charge.charge_model, dict(source or {}))
        errors = merge_details(
            errors, fixed_charge_properties_errors(fixed_charge.charge_model, fixed_charge.properties)
        )
    tax_codes = or_none(data.tax_codes)
    taxes = taxes_for_codes(organization, tax_codes) if tax_codes is not None else None
    built = _Built(
        fixed_charge=fixed_charge,
        taxes=taxes,
        units_changed=old_units is not None and old_units != fixed_charge.units,
        apply_units_immediately=bool(or_none(data.apply_units_immediately)),
        old_units=old_units,
        old_price=old_price,
        cascade=bool(or_none(data.cascade_updates)),
    )
    return built, errors


def _save(organization: Organization, built: _Built) -> FixedCharge:
    fixed_charge = built.fixed_charge
    save_with_code(fixed_charge)
    if built.taxes is not None:
        set_links(fixed_charge, FixedChargeTax, "fixed_charge", built.taxes)
    if built.units_changed:
        at = timezone.now()
        transaction.on_commit(
            lambda: signals.fixed_charge_units_changed.send(
                sender=FixedCharge,
                fixed_charge=fixed_charge,
                organization=organization,
                at=at,
                apply_units_immediately=built.apply_units_immediately,
                old_units=built.old_units,
            )
        )
    if built.cascade:
        if built.old_price is None:
            _cascade_create(organization, fixed_charge)
        else:
            _cascade_update(organization, fixed_charge, built)
    return fixed_charge


def _cascade_create(organization: Organization, fixed_charge: FixedCharge) -> None:
    """A plan's new fixed charge, copied onto its override plans that have none with its code."""
    for child in Plan.live.select_for_update().filter(parent_id=fixed_charge.plan_id).order_by("created_at"):
        if FixedCharge.live.filter(plan=child, code=fixed_charge.code).exists():
            continue
        copy = FixedCharge(organization=organization, plan=child, parent=fixed_charge, **copied(fixed_charge, _COPIED))
        save_with_code(copy)
        set_links(copy, FixedChargeTax, "fixed_charge", list(fixed_charge.taxes.all()))


def _cascade_update(organization: Organization, fixed_charge: FixedCharge, built: _Built) -> None:
    """A plan's updated fixed charge, on its copies (Lago's cascade): a copy of another model is
    left alone; a copy priced as the plan was gets the new units and properties; every copy of the
    model takes the code. Units changed on a copy reach its subscriptions as on a plan."""
    assert built.old_price is not None
    for copy in FixedCharge.live.select_for_update().filter(parent=fixed_charge).order_by("created_at"):
        if copy.charge_model != fixed_charge.charge_model:
            continue
        old_units = copy.units
        copy.code = fixed_charge.code
        if (copy.charge_model, dict(copy.properties or {})) == built.old_price:
            copy.units = fixed_charge.units
            copy.properties = dict(fixed_charge.properties or {})
        _save(
            organization,
            _Built(
                copy,
                None,
                units_changed=old_units != copy.units,
                apply_units_immediately=built.apply_units_immediately,
                old_units=old_units,
            ),
        )


def _cascade_delete(fixed_charge: FixedCharge, now: datetime) -> None:
    for copy in FixedCharge.live.select_for_update().filter(parent=fixed_charge):
        soft_delete(copy, now)


def fixed_charges_sync(
    organization: Organization, plan: Plan, items: list[FixedChargeFields], *, locked: bool, cascade: bool = False
) -> None:
    """A plan's `fixed_charges` (inside the plan's transaction): the list sent becomes the plan's.

    An item with the `id` (or `code`) of an existing fixed charge updates it and keeps its id;
    others are created; fixed charges not in the list are deleted (soft). `cascade` (the plan's
    `cascade_updates`, or an item's own): the changes reach the override plans' copies. Errors are
    keyed `fixed_charges.<field>`."""
    existing = {str(f.pk): f for f in FixedCharge.live.select_for_update().filter(plan=plan).select_related("add_on")}

    def apply(
        item: FixedChargeFields, match: FixedCharge | None, taken: set[str]
    ) -> tuple[_Built, dict[str, list[str]]]:
        one, errors = _apply(organization, plan, match, item, locked=locked, taken_codes=taken)
        if cascade:
            one = replace(one, cascade=True)
        return one, {f"fixed_charges.{key}": codes for key, codes in errors.items()}

    def discard(row: FixedCharge, now: datetime) -> None:
        soft_delete(row, now)
        if cascade:
            _cascade_delete(row, now)

    sync_plan_items(existing, items, apply=apply, discard=discard, save=lambda one: _save(organization, one))


_COPIED = (
    "add_on",
    "code",
    "charge_model",
    "invoice_display_name",
    "units",
    "pay_in_advance",
    "prorated",
    "properties",
)


def fixed_charges_copy(
    organization: Organization, *, parent: Plan, plan: Plan, overrides: list[FixedChargeFields] | None
) -> None:
    """Copy `parent`'s fixed charges onto its override `plan` (a subscription's `plan_overrides`),
    each item of `overrides` (by the parent fixed charge's `id`) changing invoice_display_name,
    units, properties or tax_codes of its copy. Errors are keyed `fixed_charges.<field>`."""
    by_id = {str(item.id): item for item in overrides or []}
    sources = list(FixedCharge.live.filter(plan=parent).select_related("add_on").prefetch_related("taxes"))
    known = {str(s.pk) for s in sources}
    if any(key not in known for key in by_id):
        raise NotFoundFailure("fixed_charge")
    errors: dict[str, list[str]] = {}
    for source in sources:
        copy = FixedCharge(organization=organization, plan=plan, parent=source, **copied(source, _COPIED))
        item = by_id.get(str(source.pk), FixedChargeFields())
        allowed = FixedChargeFields(
            invoice_display_name=item.invoice_display_name,
            units=item.units,
            properties=item.properties,
            tax_codes=item.tax_codes if item.tax_codes is not UNSET else [t.code for t in source.taxes.all()],
        )
        one, item_errors = _apply(organization, plan, copy, allowed, locked=True, taken_codes=set())
        if item_errors:
            errors = merge_details(errors, {f"fixed_charges.{key}": codes for key, codes in item_errors.items()})
            continue
        _save(organization, _Built(one.fixed_charge, one.taxes, units_changed=False, apply_units_immediately=False))
    if errors:
        raise ValidationFailure(errors)


def fixed_charge_override(
    organization: Organization, fixed_charge: FixedCharge, data: FixedChargeFields
) -> FixedCharge:
    """Change an override plan's copy (a subscription's own price): invoice_display_name, units,
    properties, tax_codes. The caller records the subscription's units (subscriptions app)."""
    allowed = FixedChargeFields(
        invoice_display_name=data.invoice_display_name,
        units=data.units,
        properties=data.properties,
        tax_codes=data.tax_codes,
    )
    one, errors = _apply(organization, fixed_charge.plan, fixed_charge, allowed, locked=True, taken_codes=set())
    if errors:
        raise ValidationFailure(errors)
    return _save(organization, _Built(one.fixed_charge, one.taxes, units_changed=False, apply_units_immediately=False))


# --- per-plan routes (/plans/{code}/fixed_charges[/{code}]) ------------------------------------


def _get(plan: Plan, code: str) -> FixedCharge:
    return plan_item_for_update(FixedCharge, plan, code, resource="fixed_charge", related="add_on")


def _write(organization: Organization, plan_code: str, code: str | None, data: FixedChargeFields) -> FixedCharge:
    return write_plan_item(
        organization,
        plan_code,
        code,
        get=_get,
        apply=lambda plan, row, locked: _apply(organization, plan, row, data, locked=locked, taken_codes=set()),
        save=lambda built: _save(organization, built),
    )


@transaction.atomic
def plan_fixed_charge_create(organization: Organization, *, plan_code: str, data: FixedChargeFields) -> FixedCharge:
    return _write(organization, plan_code, None, data)


@transaction.atomic
def plan_fixed_charge_update(
    organization: Organization, *, plan_code: str, code: str, data: FixedChargeFields
) -> FixedCharge:
    return _write(organization, plan_code, code, data)


@transaction.atomic
def plan_fixed_charge_delete(
    organization: Organization, *, plan_code: str, code: str, cascade_updates: bool = False
) -> FixedCharge:
    """Soft delete: invoices that billed it keep their fees; it is not billed any more. With
    `cascade_updates` its copies on the override plans go too."""
    plan = plan_for_update(organization, plan_code)
    fixed_charge = _get(plan, code)
    now = timezone.now()
    soft_delete(fixed_charge, now)
    if cascade_updates:
        _cascade_delete(fixed_charge, now)
    return fixed_charge


def fixed_charges_override(organization: Organization, plan: Plan, items: list[FixedChargeFields]) -> None:
    """A subscription's later `plan_overrides.fixed_charges` on its override `plan`: each item names
    the parent's fixed charge (or the copy) by `id`."""
    copies = list(FixedCharge.live.select_for_update().filter(plan=plan).select_related("add_on", "plan"))
    errors: dict[str, list[str]] = {}
    for item in items:
        key = str(item.id)
        copy = found(next((c for c in copies if key in (str(c.parent_id), str(c.pk))), None), "fixed_charge")
        try:
            fixed_charge_override(organization, copy, item)
        except ValidationFailure as failure:
            errors = merge_details(
                errors,
                {f"fixed_charges.{k}": [str(c) for c in v] for k, v in failure.details.items() if isinstance(v, list)},
            )
    if errors:
        raise ValidationFailure(errors)
