"""The charge models: usage in, exact unrounded amount and breakdown out.

Each function follows Lago's implementation (api `app/services/charge_models/*_service.rb` and
`amount_details/*`); the numbers of Lago's own specs are asserted in tests/catalog/test_pricing*.py.
Arithmetic is Decimal with enough precision to be exact for validated properties; nothing here
rounds money. Negative aggregated units (a sum of negative values) are priced as 0 units: a charge
never produces a negative amount (bxb's choice; refunds go through credit notes).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
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

from billing_project.core.money import UnknownCurrency, exponent

from .properties import CHARGE_MODELS, flatten_errors, parse_amount, parse_bound, validate_properties
from .prorated import prorated_graduated, prorated_volume_tier_units
from .types import ZERO, PricingError, PricingResult, Usage

# Exact for every product/sum of validated inputs (amounts <= 40 characters, units are Decimals).
_EXACT = Context(prec=400, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow])
# unit_amount is informative (amount / units); 28 significant digits like Decimal's default.
_DISPLAY = Context(prec=28, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow])
_HUNDRED = Decimal(100)


def price(
    charge_model: str,
    properties: Mapping,
    usage: Usage,
    *,
    currency: str | None = None,
    prorated: bool = False,
) -> PricingResult:
    """Price `usage` with a charge model and its properties.

    `properties` must pass `validate_properties` (they are checked again; `PricingError` otherwise).
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
    errors = validate_properties(charge_model, properties)
    if errors:
        raise PricingError(f"invalid {charge_model} properties: {', '.join(flatten_errors(errors))}")
    units = usage.units if usage.units > 0 else ZERO
    try:
        return _price(charge_model, properties, usage, units, currency, prorated)
    except (InvalidOperation, Overflow, DivisionByZero) as exc:
        raise PricingError(
            f"the usage is out of the range the engine prices exactly ({exc.__class__.__name__})"
        ) from exc


def _price(
    charge_model: str, properties: Mapping, usage: Usage, units: Decimal, currency: str | None, prorated: bool
) -> PricingResult:
    with localcontext(_EXACT):
        if prorated and charge_model == "graduated":
            ranges = _ranges(properties, "graduated_ranges", ("per_unit_amount", "flat_amount"))
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
    if prorated and usage.full_units is not None:
        divisor = usage.full_units if usage.full_units > 0 else ZERO  # Lago divides by the full units
    with localcontext(_DISPLAY):
        unit_amount = (amount / divisor) if divisor else ZERO
    return PricingResult(amount=amount, units=usage.units, unit_amount=unit_amount, breakdown=tuple(breakdown))


def _amount(properties: Mapping, key: str, default: Decimal | None = None) -> Decimal:
    value = parse_amount(properties.get(key))
    if value is None:
        if default is None:
            raise PricingError(f"{key} is missing")
        return default
    return value


def _ranges(properties: Mapping, key: str, amount_keys: tuple[str, ...]) -> list[dict]:
    rows = []
    for raw in properties[key]:
        row = {"from_value": parse_bound(raw.get("from_value")), "to_value": parse_bound(raw.get("to_value"))}
        for amount_key in amount_keys:
            row[amount_key] = _amount(raw, amount_key)
        rows.append(row)
    return rows


def _adjacent(ranges: list[dict]) -> bool:
    """Lago's AdjacentRanges: every range starts exactly where the previous one ends."""
    return len(ranges) >= 2 and all(cur["from_value"] == prev["to_value"] for prev, cur in itertools.pairwise(ranges))


def _tier_units(row: dict, total: Decimal, *, adjacent: bool) -> Decimal:
    """Units of `total` that fall in a tier (api amount_details/range_graduated_service.rb)."""
    from_value, to_value = row["from_value"], row["to_value"]
    effective = to_value if to_value is not None and total >= to_value else total
    if from_value == 0:
        return effective
    return effective - from_value if adjacent else effective - from_value + 1


# --- standard ----------------------------------------------------------------------------------


def _standard(properties: Mapping, usage: Usage, units: Decimal, currency: str | None):
    per_unit = _amount(properties, "amount")
    amount = units * per_unit
    return amount, [{"units": units, "per_unit_amount": per_unit, "amount": amount}]


# --- graduated ---------------------------------------------------------------------------------


def _graduated(properties: Mapping, usage: Usage, units: Decimal, currency: str | None):
    ranges = _ranges(properties, "graduated_ranges", ("per_unit_amount", "flat_amount"))
    adjacent = _adjacent(ranges)
    lines = []
    for index, row in enumerate(ranges):
        tier_units = _tier_units(row, units, adjacent=adjacent)
        # Each tier's flat fee is due once the tier is reached; the first tier's even at 0 units.
        reached = tier_units > 0 or (index == 0 and units == 0)
        flat = row["flat_amount"] if reached else ZERO
        per_unit_total = tier_units * row["per_unit_amount"]
        lines.append(
            {
                "from_value": row["from_value"],
                "to_value": row["to_value"],
                "units": tier_units,
                "per_unit_amount": row["per_unit_amount"],
                "flat_unit_amount": flat,
                "per_unit_total_amount": per_unit_total,
                "amount": per_unit_total + flat,
            }
        )
        if row["to_value"] is None or row["to_value"] >= units:
            break
    return sum((line["amount"] for line in lines), ZERO), lines


# --- volume ------------------------------------------------------------------------------------


def _volume(properties: Mapping, usage: Usage, units: Decimal, currency: str | None, tier_units: Decimal | None = None):
    ranges = sorted(
        _ranges(properties, "volume_ranges", ("per_unit_amount", "flat_amount")), key=lambda r: r["from_value"]
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


def _package(properties: Mapping, usage: Usage, units: Decimal, currency: str | None):
    per_package = _amount(properties, "amount")
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


# --- percentage --------------------------------------------------------------------------------


def _event_values(usage: Usage, why: str) -> tuple[Decimal, ...]:
    if len(usage.event_values) != usage.events_count:
        raise PricingError(f"percentage with {why} needs Usage.event_values for each of the events_count events")
    return usage.event_values


def _running_total(values: tuple[Decimal, ...], free_events: int, free_total: Decimal) -> list[Decimal]:
    """Cumulative sums of the first free events, or until they pass the free amount (api sum_service.rb)."""
    totals: list[Decimal] = []
    total = ZERO
    if free_events > 0:
        for value in values[:free_events]:
            total += value
            totals.append(total)
    elif free_total > 0:
        for value in values:
            if free_total < total:
                break
            total += value
            totals.append(total)
    return totals


def _percentage(properties: Mapping, usage: Usage, units: Decimal, currency: str | None):
    rate = _amount(properties, "rate")
    fixed_amount = _amount(properties, "fixed_amount", ZERO)
    free_events_setting = properties.get("free_units_per_events") or 0
    free_total_setting = _amount(properties, "free_units_per_total_aggregation", ZERO)
    minimum = parse_amount(properties.get("per_transaction_min_amount"))
    maximum = parse_amount(properties.get("per_transaction_max_amount"))
    if minimum is not None or maximum is not None:
        values = _event_values(usage, "a per-transaction minimum or maximum")
        return _percentage_per_transaction(
            values, rate, fixed_amount, free_events_setting, free_total_setting, minimum, maximum
        )

    running_total: list[Decimal] = []
    if free_events_setting > 0 or free_total_setting > 0:
        running_total = _running_total(_event_values(usage, "free units"), free_events_setting, free_total_setting)
    last = running_total[-1] if running_total else ZERO
    if last == 0:
        free_units = ZERO
    elif free_total_setting == 0 or last <= free_total_setting:
        free_units = last
    else:
        free_units = free_total_setting
    candidates = [free_events_setting, sum(1 for total in running_total if total < free_total_setting)]
    free_events = min((c for c in candidates if c != 0), default=0)
    events_count = usage.events_count

    percentage_amount = ZERO if free_units > units else (units - free_units) * rate / _HUNDRED
    if units == 0 or free_events >= events_count:
        fixed_total = ZERO
    else:
        fixed_total = (events_count - free_events) * fixed_amount
    paid_events = events_count - min(events_count, free_events)
    amount = percentage_amount + fixed_total
    return amount, [
        {
            "units": units,
            "free_units": free_units,
            "paid_units": max(units - free_units, ZERO),
            "rate": rate,
            "per_unit_total_amount": percentage_amount,
            "free_events": min(events_count, free_events),
            "paid_events": paid_events,
            "fixed_fee_unit_amount": fixed_amount if paid_events > 0 else ZERO,
            "fixed_fee_total_amount": fixed_total,
            "amount": amount,
        }
    ]


def _percentage_per_transaction(
    values: tuple[Decimal, ...],
    rate: Decimal,
    fixed_amount: Decimal,
    free_events: int,
    free_total: Decimal,
    minimum: Decimal | None,
    maximum: Decimal | None,
):
    """Each event priced on its own, free events and free amount consumed first, then clamped to
    [minimum, maximum] (api percentage_service.rb#compute_amount_with_transaction_min_max)."""
    remaining_events, remaining_amount = free_events, free_total
    lines = []
    for index, original in enumerate(values):
        value = original if original > 0 else ZERO
        free = ZERO
        if remaining_events > 0 or remaining_amount > 0:
            remaining_events -= 1
            if remaining_amount <= 0 or remaining_amount > value:
                remaining_amount = max(remaining_amount - value, ZERO)
                lines.append(_transaction_line(index, original, value, ZERO, ZERO, ZERO, ZERO))
                continue
            free = remaining_amount
            value -= remaining_amount
            remaining_amount, remaining_events = ZERO, 0
        percentage_amount = value * rate / _HUNDRED
        raw = percentage_amount + fixed_amount
        clamped = raw
        if minimum is not None and raw < minimum:
            clamped = minimum
        elif maximum is not None and raw > maximum:
            clamped = maximum
        lines.append(_transaction_line(index, original, free, value, percentage_amount, fixed_amount, clamped))
    return sum((line["amount"] for line in lines), ZERO), lines


def _transaction_line(
    index: int,
    units: Decimal,
    free_units: Decimal,
    paid_units: Decimal,
    percentage_amount: Decimal,
    fixed_amount: Decimal,
    amount: Decimal,
) -> dict:
    return {
        "event_index": index,
        "units": units,
        "free_units": free_units,
        "paid_units": paid_units,
        "per_unit_total_amount": percentage_amount,
        "fixed_fee_unit_amount": fixed_amount,
        "min_max_adjustment": amount - percentage_amount - fixed_amount,
        "amount": amount,
    }


# --- graduated percentage ----------------------------------------------------------------------


def _graduated_percentage(properties: Mapping, usage: Usage, units: Decimal, currency: str | None):
    ranges = _ranges(properties, "graduated_percentage_ranges", ("rate", "flat_amount"))
    lines = []
    for row in ranges:
        tier_units = _tier_units(row, units, adjacent=False)
        flat = row["flat_amount"] if tier_units > 0 else ZERO  # no flat fee at 0 units (Lago's spec)
        per_unit_total = tier_units * row["rate"] / _HUNDRED
        lines.append(
            {
                "from_value": row["from_value"],
                "to_value": row["to_value"],
                "units": tier_units,
                "rate": row["rate"],
                "flat_unit_amount": flat,
                "per_unit_total_amount": per_unit_total,
                "amount": per_unit_total + flat,
            }
        )
        if row["to_value"] is None or row["to_value"] >= units:
            break
    return sum((line["amount"] for line in lines), ZERO), lines


# --- dynamic -----------------------------------------------------------------------------------


def _dynamic(properties: Mapping, usage: Usage, units: Decimal, currency: str | None):
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


_MODELS: dict[str, Callable] = {
    "standard": _standard,
    "graduated": _graduated,
    "volume": _volume,
    "package": _package,
    "percentage": _percentage,
    "graduated_percentage": _graduated_percentage,
    "dynamic": _dynamic,
}
