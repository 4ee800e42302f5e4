"""Prorated graduated and volume charges (docs/billing-semantics.md §2.9).

A prorated charge bills each unit of a recurring metric for the share of the period it existed.
The aggregation gives, per event in time order, its full units (+5 seats, −2 seats) and its
prorated units (5 seats × 21/30 days = 3.5). Tiers are chosen with the full units; what a tier
bills is the prorated units that fall in it.

* volume: the tier is found with the full units (`Usage.full_units`), the price is
  `prorated units × per_unit_amount + flat_amount` (api `charge_models/volume_service.rb`);
* graduated: Lago's `ProratedGraduatedService` walk, ported step by step (an event whose full units
  straddle a tier boundary is split between the tiers in proportion); flat fees are those of every
  tier the highest full usage reached (the first one even without usage).
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext
from fractions import Fraction

from .types import ZERO, Line, PricingError, Row, Usage

# The walk runs on exact rationals (a prorated/full ratio such as 2/60 has no finite decimal);
# results are turned into Decimals at the end, exact whenever they have a finite expansion.
_TO_DECIMAL = Context(prec=50, rounding=ROUND_HALF_EVEN)
_F0 = Fraction(0)


def _coefficient(prorated: Fraction, full: Fraction) -> Fraction:
    return _F0 if full == 0 else prorated / full


def _decimal(value: Fraction) -> Decimal:
    with localcontext(_TO_DECIMAL):
        return Decimal(value.numerator) / Decimal(value.denominator)


def _range_index(ranges: list[Row], full_units: Fraction, overflow: Fraction, next_full_unit: Fraction | None) -> int:
    if full_units <= 0:
        return 0
    if overflow == 0:
        units = full_units
    elif overflow > 0:
        units = full_units - overflow + 1
    else:
        units = full_units + overflow
    for index, row in enumerate(ranges):
        # Usage resting on a tier's top moves to the next tier when an event adds units.
        if units == row["to_value"] and next_full_unit is not None and next_full_unit > 0:
            return index + 1
        if units == row["to_value"]:
            return index
        if units >= row["from_value"] and (row["to_value"] is None or units < row["to_value"]):
            return index
    return 0


def _overflow(full_sum: Fraction, row: Row) -> Fraction:
    from_value: Fraction = row["from_value"]
    to_value: Fraction | None = row["to_value"]
    if to_value is None:
        return full_sum - from_value + 1
    if full_sum >= to_value:
        return full_sum - to_value
    return full_sum - from_value + 1


def _inside(full_sum: Fraction, row: Row) -> bool:
    from_value: Fraction = row["from_value"]
    to_value: Fraction | None = row["to_value"]
    if to_value is None:
        return full_sum >= from_value - 1
    return from_value <= full_sum < to_value


def prorated_graduated(ranges: list[Row], usage: Usage) -> tuple[Decimal, list[Line]]:
    if len(usage.event_values) != len(usage.event_prorated_values):
        raise PricingError("prorated graduated needs Usage.event_values and event_prorated_values of the same length")
    full = [Fraction(value) for value in usage.event_values]
    prorated = [Fraction(value) for value in usage.event_prorated_values]
    ranges = [
        {
            "from_value": Fraction(row["from_value"]),
            "to_value": None if row["to_value"] is None else Fraction(row["to_value"]),
            "per_unit_amount": Fraction(row["per_unit_amount"]),
            "flat_amount": Fraction(row["flat_amount"]),
            "source": row,
        }
        for row in ranges
    ]
    tier_units = [_F0] * len(ranges)
    tier_amounts = [_F0] * len(ranges)

    def bill(index: int, prorated_units: Fraction) -> None:
        tier_units[index] += prorated_units
        tier_amounts[index] += prorated_units * ranges[index]["per_unit_amount"]

    full_sum = max_full_sum = prorated_sum = overflow = _F0
    position, count = 0, len(prorated)
    current = 0
    if usage.units != 0:
        while position < count or overflow != 0:
            current = _range_index(ranges, full_sum, overflow, full[position] if position < count else None)
            row = ranges[current]
            if overflow:
                coefficient = _coefficient(prorated[position - 1], full[position - 1])
                prorated_sum += overflow * coefficient
                if row["to_value"] is not None and full_sum >= row["to_value"]:
                    overflow = full_sum - row["to_value"]
                    prorated_sum -= overflow * coefficient
                    bill(current, prorated_sum)
                    prorated_sum = _F0
                    continue
                overflow = _F0
            if position >= count:
                break
            # An add whose prorated value is 0 (removed before the period) does not move tiers,
            # nor does the remove of an add that was skipped that way.
            if prorated[position] == 0 and full[position] > 0:
                position += 1
                continue
            if prorated[position] == 0 and full[position] < 0 and full_sum + full[position] < 0:
                position += 1
                continue
            full_sum += full[position]
            max_full_sum = max(max_full_sum, full_sum)
            prorated_sum += prorated[position]
            position += 1
            if _inside(full_sum, row):
                continue
            overflow = _overflow(full_sum, row)
            prorated_sum -= overflow * _coefficient(prorated[position - 1], full[position - 1])
            bill(current, prorated_sum)
            prorated_sum = _F0
        bill(current, prorated_sum)  # what is left belongs to the last tier reached

    if full_sum < 0:
        return ZERO, [{"units": usage.units, "full_units": _decimal(full_sum), "amount": ZERO}]
    reached = []
    for index, row in enumerate(ranges):
        reached.append(index)
        if row["to_value"] is None or max_full_sum <= row["to_value"]:
            break
    # Units billed past the last reached tier stay in that tier's line (Lago bills them there).
    for index in range(len(reached), len(ranges)):
        tier_units[reached[-1]] += tier_units[index]
        tier_amounts[reached[-1]] += tier_amounts[index]
    units_total = sum((tier_amounts[index] for index in reached), _F0)
    exact_total = max(units_total, _F0) + sum((ranges[index]["flat_amount"] for index in reached), _F0)
    lines: list[Line] = []
    for index in reached:
        source = ranges[index]["source"]
        per_unit_total = _decimal(tier_amounts[index])
        lines.append(
            {
                "from_value": source["from_value"],
                "to_value": source["to_value"],
                "units": _decimal(tier_units[index]),
                "per_unit_amount": source["per_unit_amount"],
                "flat_unit_amount": source["flat_amount"],
                "per_unit_total_amount": per_unit_total,
                "amount": per_unit_total + source["flat_amount"],
            }
        )
    if units_total < 0:
        # Lago floors the units' part at 0 and keeps the flat fees.
        lines.append(
            {"adjustment": "no_negative_units_amount", "amount": -sum(line["per_unit_total_amount"] for line in lines)}
        )
    amount = _decimal(exact_total)
    # Lines were converted one by one; a non-terminating share leaves a residue far below a cent,
    # which the last line absorbs so that the lines add up to the amount exactly.
    lines[-1]["amount"] += amount - sum((line["amount"] for line in lines), ZERO)
    return amount, lines


def prorated_volume_tier_units(usage: Usage, units: Decimal) -> Decimal:
    """The units that choose a prorated volume tier: the full units when known."""
    return usage.full_units if usage.full_units is not None and usage.full_units > 0 else units
