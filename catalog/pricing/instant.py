"""Instant fee estimates (`POST /events/estimate_instant_fees`): one event priced on its own.

Lago (api `charges/estimate_instant/{standard,percentage}_service.rb`) estimates the fee of one
event without reading the period's usage, for `standard` and `percentage` charges only:

* standard: `units × amount`;
* percentage: `units × rate / 100 + fixed_amount`, clamped to
  `[per_transaction_min_amount, per_transaction_max_amount]` when set; the free allowances
  (`free_units_per_events`, `free_units_per_total_aggregation`) depend on the period's earlier
  events and are not applied (the exact fee is `estimate_fees`' job);
* negative units price nothing (0 units, 0 amount).

The amount is unrounded, in major units: round it once with `billing_project.core.money.to_cents`.
"""

from __future__ import annotations

from decimal import Decimal, localcontext

from .engine import _DISPLAY, _EXACT  # the engine's exact and display contexts, shared in the package
from .percentage import transaction_amounts
from .properties import flatten_errors, parse_amount, validate_properties
from .types import ZERO, Line, PricingError, PricingResult, Properties
from .values import amount_of

INSTANT_MODELS = frozenset({"standard", "percentage"})


def price_instant(charge_model: str, properties: Properties, units: Decimal) -> PricingResult:
    """The instant estimate of one event of `units` units (see the module docstring)."""
    if charge_model not in INSTANT_MODELS:
        raise PricingError(f"{charge_model} charges have no instant estimate")
    errors = validate_properties(charge_model, properties)
    if errors:
        raise PricingError(f"invalid {charge_model} properties: {', '.join(flatten_errors(errors))}")
    if units < 0:
        return PricingResult(amount=ZERO, units=ZERO, unit_amount=ZERO, breakdown=({"units": ZERO, "amount": ZERO},))
    with localcontext(_EXACT):
        if charge_model == "standard":
            per_unit = amount_of(properties, "amount")
            amount = units * per_unit
            line: Line = {"units": units, "per_unit_amount": per_unit, "amount": amount}
        else:
            rate = amount_of(properties, "rate")
            fixed_amount = amount_of(properties, "fixed_amount", ZERO)
            minimum = parse_amount(properties.get("per_transaction_min_amount"))
            maximum = parse_amount(properties.get("per_transaction_max_amount"))
            percentage_amount, raw, amount = transaction_amounts(units, rate, fixed_amount, minimum, maximum)
            line = {
                "units": units,
                "rate": rate,
                "per_unit_total_amount": percentage_amount,
                "fixed_fee_unit_amount": fixed_amount,
                "min_max_adjustment": amount - raw,
                "amount": amount,
            }
    with localcontext(_DISPLAY):
        unit_amount = (amount / units) if units else ZERO
    return PricingResult(amount=amount, units=units, unit_amount=unit_amount, breakdown=(line,))
