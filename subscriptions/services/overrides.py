"""Per-subscription prices (Lago's `plan_overrides`): a child plan with `parent` set (same code), with
copies of the parent's charges (`parent` set) carrying the overridden values (docs/subscriptions.md, "Plan overrides").

Creating the child is the catalog's `plan_override_create` (name, invoice_display_name,
description, amount_cents, amount_currency, trial_period, tax_codes, minimum_commitment,
usage_thresholds, metadata; per charge by the parent charge's `id`: invoice_display_name,
min_amount_cents, properties, filters, tax_codes — all validated as plan input). A later
`plan_overrides` on the same subscription changes the same fields of its child with the catalog's
`plan_override_update` (nothing sent is dropped; errors are keyed `plan_overrides.<field>`).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from billing_project.core import money
from billing_project.core.errors import NotFoundFailure, ValidationFailure
from catalog import services as catalog_services
from catalog.models import Charge, Plan

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
    fixed_charges = overrides.get("fixed_charges")
    if fixed_charges is not None and not isinstance(fixed_charges, list):
        errors["plan_overrides.fixed_charges"] = ["value_is_invalid"]
    for index, item in enumerate(fixed_charges or []):
        if not isinstance(item, dict) or not item.get("id"):
            errors[f"plan_overrides.fixed_charges.{index}.id"] = ["value_is_mandatory"]
    return errors


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
        # Lago ignores unknown charge ids; bxb refuses them rather than drop input silently.
        if not _is_uuid(item["id"]) or not Charge.live.filter(plan=plan, id=item["id"]).exists():
            raise NotFoundFailure("charge")
    return catalog_services.plan_override_create(plan.organization, parent=plan, data=overrides)


def plan_override_update(child: Plan, overrides: dict[str, Any]) -> Plan:
    """Change an existing child plan (a subscription's second `plan_overrides`): every field
    `plan_override_create` takes, as the catalog's `plan_override_update` applies them."""
    errors = _validate(child, overrides)
    if errors:
        raise ValidationFailure(errors)
    try:
        return catalog_services.plan_override_update(child.organization, plan=child, data=overrides)
    except ValidationFailure as failure:
        raise ValidationFailure({f"plan_overrides.{key}": codes for key, codes in failure.details.items()}) from failure
