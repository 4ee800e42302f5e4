"""Rounding of aggregated units (a metric's `rounding_function` / `rounding_precision`).

This is not money rounding (that happens once, in `billing_project.core.money.to_cents`): it turns
the aggregated value of a billable metric into the units the charge prices (docs/billing-semantics.md §1,
api `app/services/billable_metrics/aggregations/apply_rounding_service.rb`). Docs: 123.4567 →
round → 123; precision 2 → 123.46; precision -1 → 120.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal, localcontext

ROUNDING_FUNCTIONS: tuple[str, ...] = ("round", "ceil", "floor")
_MODES = {"round": ROUND_HALF_UP, "ceil": ROUND_CEILING, "floor": ROUND_FLOOR}
MAX_PRECISION = 30


def round_to(value: Decimal, digits: int, mode: str) -> Decimal:
    """`value` rounded to `digits` decimal places (negative: tens, hundreds...) with `mode`
    ("round" = half-up, "ceil", "floor"). The result of a precision <= 0 is an integral Decimal."""
    if mode not in _MODES:
        raise ValueError(f"unknown rounding function {mode!r}")
    if not -MAX_PRECISION <= digits <= MAX_PRECISION:
        raise ValueError(f"rounding precision must be between -{MAX_PRECISION} and {MAX_PRECISION}")
    with localcontext() as ctx:
        ctx.prec = max(ctx.prec, len(value.as_tuple().digits) + MAX_PRECISION + 2)
        quantum = Decimal(1).scaleb(-digits)
        rounded = value.quantize(quantum, rounding=_MODES[mode])
        if digits <= 0:
            rounded = Decimal(int(rounded))
    return rounded


def apply_metric_rounding(value: Decimal, rounding_function: str | None, precision: int | None) -> Decimal:
    """Round an aggregated value as the metric says; unchanged when it has no rounding function."""
    if not rounding_function:
        return value
    return round_to(value, precision or 0, rounding_function)
