"""Per-subscription prices (Lago's `plan_overrides`): a child plan with `parent` set, and copies of
the parent's charges with `parent` set, carrying the overridden values (lago-api.md §2.9).

The child keeps the parent's code, so the subscription still reports the parent's `plan_code`.
Overridable: name, invoice_display_name, description, amount_cents, amount_currency, trial_period,
and per charge (addressed by the parent charge's `id`): properties, min_amount_cents,
invoice_display_name. Tax, threshold and commitment overrides are not supported yet.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from billing_project.core import money
from billing_project.core.errors import NotFoundFailure, ValidationFailure
from catalog.models import Charge, ChargeFilter, Plan

_PLAN_TEXT = ("name", "invoice_display_name", "description")


def _validate(plan: Plan, overrides: dict[str, Any]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not isinstance(overrides, dict):
        return {"plan_overrides": ["value_is_invalid"]}
    amount = overrides.get("amount_cents")
    if amount is not None and (isinstance(amount, bool) or not isinstance(amount, int) or amount < 0):
        errors["plan_overrides.amount_cents"] = ["value_is_invalid"]
    currency = overrides.get("amount_currency")
    if currency is not None and currency != plan.amount_currency:
        # A subscription cannot change currency; Lago refuses a different one.
        errors["plan_overrides.amount_currency"] = (
            ["currencies_does_not_match"] if money.is_currency(currency) else ["value_is_invalid"]
        )
    trial = overrides.get("trial_period")
    if trial is not None:
        try:
            if Decimal(str(trial)) < 0:
                raise InvalidOperation
        except (InvalidOperation, ValueError):
            errors["plan_overrides.trial_period"] = ["value_is_invalid"]
    charges = overrides.get("charges")
    if charges is not None and not isinstance(charges, list):
        errors["plan_overrides.charges"] = ["value_is_invalid"]
    for index, item in enumerate(charges or []):
        if not isinstance(item, dict) or not item.get("id"):
            errors[f"plan_overrides.charges.{index}.id"] = ["value_is_mandatory"]
            continue
        if "properties" in item and item["properties"] is not None and not isinstance(item["properties"], dict):
            errors[f"plan_overrides.charges.{index}.properties"] = ["value_is_invalid"]
        minimum = item.get("min_amount_cents")
        if minimum is not None and (not isinstance(minimum, int) or minimum < 0):
            errors[f"plan_overrides.charges.{index}.min_amount_cents"] = ["value_is_invalid"]
    return errors


def _copy_charge(charge: Charge, child: Plan) -> Charge:
    copy = Charge.objects.create(
        organization_id=charge.organization_id,
        plan=child,
        billable_metric_id=charge.billable_metric_id,
        parent=charge,
        code=charge.code,
        charge_model=charge.charge_model,
        pay_in_advance=charge.pay_in_advance,
        invoiceable=charge.invoiceable,
        prorated=charge.prorated,
        regroup_paid_fees=charge.regroup_paid_fees,
        min_amount_cents=charge.min_amount_cents,
        properties=charge.properties,
        pricing_group_keys=charge.pricing_group_keys,
        invoice_display_name=charge.invoice_display_name,
        accepts_target_wallet=charge.accepts_target_wallet,
    )
    copy.taxes.set(charge.taxes.all())
    for charge_filter in ChargeFilter.live.filter(charge=charge):
        ChargeFilter.objects.create(
            organization_id=charge_filter.organization_id,
            charge=copy,
            values=charge_filter.values,
            properties=charge_filter.properties,
            invoice_display_name=charge_filter.invoice_display_name,
        )
    return copy


def _apply(child: Plan, overrides: dict[str, Any]) -> Plan:
    for field in _PLAN_TEXT:
        if overrides.get(field) is not None:
            setattr(child, field, overrides[field])
    if overrides.get("amount_cents") is not None:
        child.amount_cents = overrides["amount_cents"]
    if overrides.get("trial_period") is not None:
        child.trial_period = Decimal(str(overrides["trial_period"]))
    child.save()
    for item in overrides.get("charges") or []:
        charge = Charge.live.filter(plan=child).filter(parent_id=item["id"]).first()
        if charge is None:
            charge = Charge.live.filter(plan=child, id=item["id"]).first() if _is_uuid(item["id"]) else None
        if charge is None:
            raise NotFoundFailure("charge")
        if item.get("properties") is not None:
            charge.properties = item["properties"]
        if item.get("min_amount_cents") is not None:
            charge.min_amount_cents = item["min_amount_cents"]
        if item.get("invoice_display_name") is not None:
            charge.invoice_display_name = item["invoice_display_name"]
        charge.save()
    return child


def _is_uuid(value: Any) -> bool:
    import uuid

    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def plan_override_create(plan: Plan, overrides: dict[str, Any]) -> Plan:
    """A child of `plan` carrying `overrides` (call inside the caller's transaction)."""
    errors = _validate(plan, overrides)
    if errors:
        raise ValidationFailure(errors)
    for item in overrides.get("charges") or []:
        if not _is_uuid(item["id"]) or not Charge.live.filter(plan=plan, id=item["id"]).exists():
            raise NotFoundFailure("charge")
    child = Plan.objects.create(
        organization_id=plan.organization_id,
        parent=plan,
        name=plan.name,
        code=plan.code,
        interval=plan.interval,
        description=plan.description,
        invoice_display_name=plan.invoice_display_name,
        amount_cents=plan.amount_cents,
        amount_currency=plan.amount_currency,
        pay_in_advance=plan.pay_in_advance,
        trial_period=plan.trial_period,
        bill_charges_monthly=plan.bill_charges_monthly,
        bill_fixed_charges_monthly=plan.bill_fixed_charges_monthly,
        metadata=plan.metadata,
    )
    child.taxes.set(plan.taxes.all())
    for charge in Charge.live.filter(plan=plan):
        _copy_charge(charge, child)
    return _apply(child, overrides)


def plan_override_update(child: Plan, overrides: dict[str, Any]) -> Plan:
    """Change an existing child plan (a subscription's second `plan_overrides`)."""
    errors = _validate(child, overrides)
    if errors:
        raise ValidationFailure(errors)
    return _apply(child, overrides)


def yearly_amount_with_overrides(plan: Plan, overrides: dict[str, Any] | None) -> tuple[int, str]:
    amount = plan.amount_cents
    if overrides and isinstance(overrides.get("amount_cents"), int):
        amount = overrides["amount_cents"]
    return amount, plan.interval
