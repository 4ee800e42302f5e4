"""Per-subscription prices (Lago's `plan_overrides`): a child plan with `parent` set (same code), with
copies of the parent's charges (`parent` set) carrying the overridden values (docs/subscriptions.md, "Plan overrides").

Creating the child is the catalog's `plan_override_create` (name, invoice_display_name,
description, amount_cents, amount_currency, trial_period, tax_codes, minimum_commitment,
usage_thresholds, metadata; per charge by the parent charge's `id`: invoice_display_name,
min_amount_cents, properties, filters, tax_codes — validated by the API as plan input). A later
`plan_overrides` on the same subscription changes the same fields of its child with the catalog's
`plan_override_update` (nothing sent is dropped; errors are keyed `plan_overrides.<field>`).
"""

from __future__ import annotations

import uuid

from billing_project.core import money
from billing_project.core.errors import NotFoundFailure, ValidationFailure
from billing_project.core.inputs import or_none
from catalog import services as catalog_services
from catalog.inputs import PlanOverrides
from catalog.models import Charge, Plan


def _validate(plan: Plan, overrides: PlanOverrides) -> dict[str, list[str]]:
    """A subscription keeps its plan's currency (Lago refuses another one); a charge and a fixed
    charge are named by id."""
    errors: dict[str, list[str]] = {}
    currency = or_none(overrides.amount_currency)
    if currency is not None and currency != plan.amount_currency:
        errors["plan_overrides.amount_currency"] = (
            ["currencies_does_not_match"] if money.is_currency(currency) else ["value_is_invalid"]
        )
    for index, item in enumerate(or_none(overrides.charges) or ()):
        if not item.id:
            errors[f"plan_overrides.charges.{index}.id"] = ["value_is_mandatory"]
    for index, fixed in enumerate(or_none(overrides.fixed_charges) or ()):
        if not or_none(fixed.id):
            errors[f"plan_overrides.fixed_charges.{index}.id"] = ["value_is_mandatory"]
    return errors


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def plan_override_create(plan: Plan, overrides: PlanOverrides) -> Plan:
    """A child of `plan` carrying `overrides` (call inside the caller's transaction)."""
    errors = _validate(plan, overrides)
    if errors:
        raise ValidationFailure(errors)
    for item in or_none(overrides.charges) or ():
        # Lago ignores unknown charge ids; bxb refuses them rather than drop input silently.
        if not _is_uuid(str(item.id)) or not Charge.live.filter(plan=plan, id=str(item.id)).exists():
            raise NotFoundFailure("charge")
    return catalog_services.plan_override_create(plan.organization, parent=plan, data=overrides)


def plan_override_update(child: Plan, overrides: PlanOverrides) -> Plan:
    """Change an existing child plan (a subscription's second `plan_overrides`): every field
    `plan_override_create` takes, as the catalog's `plan_override_update` applies them."""
    errors = _validate(child, overrides)
    if errors:
        raise ValidationFailure(errors)
    try:
        return catalog_services.plan_override_update(child.organization, plan=child, data=overrides)
    except ValidationFailure as failure:
        raise ValidationFailure({f"plan_overrides.{key}": codes for key, codes in failure.details.items()}) from failure
