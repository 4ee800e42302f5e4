"""The percentage model (api `charge_models/percentage_service.rb`, `aggregations/sum_service.rb`)."""

from __future__ import annotations

from decimal import Decimal

from .properties import parse_amount
from .types import ZERO, Line, ModelResult, PricingError, Properties, Usage
from .values import HUNDRED, amount_of


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


def percentage(properties: Properties, usage: Usage, units: Decimal, currency: str | None) -> ModelResult:
    rate = amount_of(properties, "rate")
    fixed_amount = amount_of(properties, "fixed_amount", ZERO)
    free_events_setting = properties.get("free_units_per_events") or 0
    free_total_setting = amount_of(properties, "free_units_per_total_aggregation", ZERO)
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

    percentage_amount = ZERO if free_units > units else (units - free_units) * rate / HUNDRED
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
) -> ModelResult:
    """Each event priced on its own, free events and free amount consumed first, then clamped to
    [minimum, maximum] (api percentage_service.rb#compute_amount_with_transaction_min_max)."""
    remaining_events, remaining_amount = free_events, free_total
    lines: list[Line] = []
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
        percentage_amount, _raw, clamped = transaction_amounts(value, rate, fixed_amount, minimum, maximum)
        lines.append(_transaction_line(index, original, free, value, percentage_amount, fixed_amount, clamped))
    return sum((line["amount"] for line in lines), ZERO), lines


def transaction_amounts(
    units: Decimal, rate: Decimal, fixed_amount: Decimal, minimum: Decimal | None, maximum: Decimal | None
) -> tuple[Decimal, Decimal, Decimal]:
    """One transaction of a percentage charge: `rate` percent of `units`, that plus the fixed fee,
    and the latter clamped to `[minimum, maximum]` (either may be unset; validated `minimum <= maximum`)."""
    percentage_amount = units * rate / HUNDRED
    raw = percentage_amount + fixed_amount
    if minimum is not None and raw < minimum:
        return percentage_amount, raw, minimum
    if maximum is not None and raw > maximum:
        return percentage_amount, raw, maximum
    return percentage_amount, raw, raw


def _transaction_line(
    index: int,
    units: Decimal,
    free_units: Decimal,
    paid_units: Decimal,
    percentage_amount: Decimal,
    fixed_amount: Decimal,
    amount: Decimal,
) -> Line:
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
