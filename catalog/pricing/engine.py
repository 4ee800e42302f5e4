"""The charge models: usage in, exact unrounded amount and breakdown out.

Each function follows Lago's implementation (api `app/services/charge_models/*_service.rb` and
`amount_details/*`); the numbers of Lago's own specs are asserted in tests/catalog/test_pricing*.py.
Arithmetic is Decimal with enough precision to be exact for validated properties; nothing here
rounds money. A negative aggregated total (a sum of negative values) prices nothing, as Lago's volume
spec says; a charge never produces a negative amount (refunds go through credit notes).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from decimal import (
    ROUND_CEILING,
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
    localcontext,
)
from typing import Any

from billing_project.core.money import UnknownCurrency, exponent

from .percentage import percentage
from .properties import CHARGE_MODELS, flatten_errors, validate_properties
from .prorated import prorated_graduated, prorated_volume_tier_units
from .types import ZERO, Line, ModelResult, PricingError, PricingResult, Properties, Usage
from .values import HUNDRED, amount_of, is_adjacent, ranges_of, units_in_tier

# Exact for every product/sum of validated inputs (amounts <= 40 characters, units are Decimals).
_EXACT = Context(prec=400, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow])
# unit_amount is informative (amount / units); 28 significant digits like Decimal's default.
_DISPLAY = Context(prec=28, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow])


def price(
    charge_model: str,
    properties: Properties,
    usage: Usage,
    *,
    currency: str | None = None,
    prorated: bool = False,
    checked: bool = False,
) -> PricingResult:
    """Price `usage` with a charge model and its properties.

    `properties` must pass `validate_properties` (they are checked again, `PricingError` otherwise,
    unless `checked`: the caller has just had them pass, as a batch's snapshot does once for all
    the fees it prices).
    `currency` is needed by `dynamic` only (its events carry amounts in minor units). `prorated`
    is the charge's flag: standard prices the prorated units as usual, volume and graduated follow
    `prorated.py`; other models cannot be prorated. The returned `amount` is in major units,
    unrounded: convert it once with `billing_project.core.money.to_cents`.
    """
    if charge_model not in CHARGE_MODELS:
        raise PricingError(f"unknown charge model {charge_model!r}")
    if not isinstance(usage, Usage):
        raise TypeError("usage must be a catalog.pricing.Usage")
    if prorated and charge_model not in ("standard", "volume", "graduated"):
        raise PricingError(f"a {charge_model} charge cannot be prorated")
    errors = {} if checked else validate_properties(charge_model, properties)
    if errors:
        raise PricingError(f"invalid {charge_model} properties: {', '.join(flatten_errors(errors))}")
    if usage.units < 0 and not (prorated and charge_model == "graduated"):
        # A negative total (more removed than added) prices nothing, not even a flat fee: Lago's
        # volume spec ("no range applies"); prorated graduated applies Lago's own rule below.
        return PricingResult(
            amount=ZERO, units=usage.units, unit_amount=ZERO, breakdown=({"units": usage.units, "amount": ZERO},)
        )
    units = usage.units if usage.units > 0 else ZERO
    try:
        return _price(charge_model, properties, usage, units, currency, prorated)
    except (InvalidOperation, Overflow, DivisionByZero) as exc:
        raise PricingError(
            f"the usage is out of the range the engine prices exactly ({exc.__class__.__name__})"
        ) from exc


def _price(
    charge_model: str, properties: Properties, usage: Usage, units: Decimal, currency: str | None, prorated: bool
) -> PricingResult:
    with localcontext(_EXACT):
        if prorated and charge_model == "graduated":
            ranges = ranges_of(properties, "graduated_ranges", ("per_unit_amount", "flat_amount"))
            amount, breakdown = prorated_graduated(ranges, usage)
        elif prorated and charge_model == "volume":
            amount, breakdown = _volume(
                properties, usage, units, currency, tier_units=prorated_volume_tier_units(usage, units)
            )
        else:
            amount, breakdown = _MODELS[charge_model](properties, usage, units, currency)
        if amount < 0:  # pragma: no cover - validated properties cannot produce it; kept as a guard
            amount = ZERO
    divisor = units
    if charge_model == "package":
        divisor = breakdown[0]["paid_units"]  # Lago's package unit amount is per paid unit
    elif prorated and usage.full_units is not None:
        divisor = usage.full_units if usage.full_units > 0 else ZERO  # Lago divides by the full units
    with localcontext(_DISPLAY):
        unit_amount = (amount / divisor) if divisor else ZERO
    return PricingResult(amount=amount, units=usage.units, unit_amount=unit_amount, breakdown=tuple(breakdown))


# --- standard ----------------------------------------------------------------------------------


def _standard(properties: Properties, usage: Usage, units: Decimal, currency: str | None) -> ModelResult:
    per_unit = amount_of(properties, "amount")
    amount = units * per_unit
    return amount, [{"units": units, "per_unit_amount": per_unit, "amount": amount}]


# --- graduated ---------------------------------------------------------------------------------


def _graduated(properties: Properties, usage: Usage, units: Decimal, currency: str | None) -> ModelResult:
    ranges = ranges_of(properties, "graduated_ranges", ("per_unit_amount", "flat_amount"))
    return _tiered(ranges, units, adjacent=is_adjacent(ranges), price="per_unit_amount", total=operator.mul)


def _tiered(
    ranges: list[dict[str, Any]],
    units: Decimal,
    *,
    adjacent: bool,
    price: str,
    total: Callable[[Decimal, Decimal], Decimal],
) -> ModelResult:
    """Graduated tiers: each tier prices its own units (`total(tier_units, row[price])`) and adds its
    flat fee once reached, the first tier's even at 0 units; the lines stop at the tier holding
    `units`."""
    lines: list[Line] = []
    for index, row in enumerate(ranges):
        tier_units = units_in_tier(row, units, adjacent=adjacent)
        reached = tier_units > 0 or (index == 0 and units == 0)
        flat = row["flat_amount"] if reached else ZERO
        per_unit_total = total(tier_units, row[price])
        lines.append(
            {
                "from_value": row["from_value"],
                "to_value": row["to_value"],
                "units": tier_units,
                price: row[price],
                "flat_unit_amount": flat,
                "per_unit_total_amount": per_unit_total,
                "amount": per_unit_total + flat,
            }
        )
        if row["to_value"] is None or row["to_value"] >= units:
            break
    return sum((line["amount"] for line in lines), ZERO), lines


# --- volume ------------------------------------------------------------------------------------


def _volume(
    properties: Properties, usage: Usage, units: Decimal, currency: str | None, tier_units: Decimal | None = None
) -> ModelResult:
    ranges = sorted(
        ranges_of(properties, "volume_ranges", ("per_unit_amount", "flat_amount")), key=lambda r: r["from_value"]
    )
    tier_units = units if tier_units is None else tier_units
    ceiling = tier_units.to_integral_value(rounding=ROUND_CEILING)
    for row in ranges:
        if row["from_value"] <= ceiling and (row["to_value"] is None or tier_units <= row["to_value"]):
            per_unit_total = units * row["per_unit_amount"]
            amount = per_unit_total + row["flat_amount"]
            return amount, [
                {
                    "from_value": row["from_value"],
                    "to_value": row["to_value"],
                    "units": units,
                    "per_unit_amount": row["per_unit_amount"],
                    "flat_unit_amount": row["flat_amount"],
                    "per_unit_total_amount": per_unit_total,
                    "amount": amount,
                }
            ]
    raise PricingError(f"no volume range holds {units} units")  # pragma: no cover - valid tables hold every value


# --- package -----------------------------------------------------------------------------------


def _package(properties: Properties, usage: Usage, units: Decimal, currency: str | None) -> ModelResult:
    per_package = amount_of(properties, "amount")
    size = Decimal(properties["package_size"])
    free_units = Decimal(properties["free_units"])
    paid_units = units - free_units
    if paid_units > 0:
        whole, remainder = divmod(paid_units, size)
        packages = whole + (1 if remainder else 0)
    else:
        paid_units, packages = ZERO, ZERO
    amount = packages * per_package
    return amount, [
        {
            "units": units,
            "free_units": min(free_units, units),
            "paid_units": paid_units,
            "package_size": size,
            "packages": packages,
            "per_package_unit_amount": per_package,
            "amount": amount,
        }
    ]


# --- graduated percentage ----------------------------------------------------------------------


def _graduated_percentage(properties: Properties, usage: Usage, units: Decimal, currency: str | None) -> ModelResult:
    ranges = ranges_of(properties, "graduated_percentage_ranges", ("rate", "flat_amount"))
    return _tiered(
        ranges, units, adjacent=False, price="rate", total=lambda tier_units, rate: tier_units * rate / HUNDRED
    )


# --- dynamic -----------------------------------------------------------------------------------


def _dynamic(properties: Properties, usage: Usage, units: Decimal, currency: str | None) -> ModelResult:
    if units == 0:
        return ZERO, [{"units": units, "precise_total_amount_cents": ZERO, "amount": ZERO}]
    if currency is None:
        raise PricingError("the dynamic model needs the charge's currency")
    if usage.precise_total_amount_cents is None:
        raise PricingError("the dynamic model needs Usage.precise_total_amount_cents")
    try:
        places = exponent(currency)
    except UnknownCurrency as exc:
        raise PricingError(f"unknown currency {currency!r}") from exc
    precise = usage.precise_total_amount_cents
    amount = precise.scaleb(-places) if precise > 0 else ZERO
    return amount, [{"units": units, "precise_total_amount_cents": precise, "amount": amount}]


_MODELS: dict[str, Callable[[Properties, Usage, Decimal, str | None], ModelResult]] = {
    "standard": _standard,
    "graduated": _graduated,
    "volume": _volume,
    "package": _package,
    "percentage": percentage,
    "graduated_percentage": _graduated_percentage,
    "dynamic": _dynamic,
}
