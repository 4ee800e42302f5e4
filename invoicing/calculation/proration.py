"""Base-fee proration for partial periods (docs/billing-semantics.md §5.2), rounded once."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, localcontext
from fractions import Fraction

from billing_project.core.money import round_cents

from .types import PRECISION, CalculationError, _require_cents


@dataclass(frozen=True)
class ProratedAmount:
    amount_cents: int
    precise_amount_cents: Decimal


def prorate_amount_cents(amount_cents: int, *, days: int, period_days: int) -> ProratedAmount:
    """Base fee for ``days`` of a ``period_days`` period (§5.2): ``round(days × amount / period_days)``.

    Lago computes ``days × (amount_cents / period_days)`` in floats; this is the exact value,
    rounded once half-up. Count the days with ``subscriptions.periods.days_between``.
    """
    _require_cents(amount_cents, "amount_cents")
    _require_cents(days, "days")
    _require_cents(period_days, "period_days")
    if period_days <= 0 or days < 0:
        raise CalculationError("days must be >= 0 and period_days > 0")
    return prorate_by_fraction(amount_cents, Fraction(days, period_days))


def prorate_by_fraction(amount_cents: int, fraction: Fraction) -> ProratedAmount:
    """``amount_cents × fraction`` (e.g. ``subscriptions.periods.base_fee_fraction``), rounded once."""
    _require_cents(amount_cents, "amount_cents")
    if fraction < 0:
        raise CalculationError("a proration fraction cannot be negative")
    with localcontext() as ctx:
        ctx.prec = PRECISION
        precise = Decimal(amount_cents * fraction.numerator) / Decimal(fraction.denominator)
    return ProratedAmount(amount_cents=round_cents(precise), precise_amount_cents=precise)
