"""The projection of the current period's usage to its end (`GET /customers/{external_id}/projected_usage`;
the rule is written in docs/billing-semantics.md §15).

How far the period has gone is a ratio of days, `days passed / days of the period`, counted in the
customer's timezone with the current day included. A bucket's projected units are its units
divided by that ratio, rounded to 2 decimals; its projected amount is the charge model applied to
the projected units (standard, graduated, volume, package), or its current amount divided by the
ratio for the models priced on amounts (percentage, graduated percentage, custom, dynamic). A
recurring metric's usage does not grow with time: its projection is the current usage. Before the
period there is nothing to project (0).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from billing_project.core.money import to_cents
from catalog.pricing import Usage, price
from invoicing.billing.pricing import ChargeBucket
from subscriptions import periods

UNIT_MODELS = frozenset({"standard", "graduated", "volume", "package"})
UNITS_QUANTUM = Decimal("0.01")


@dataclass(frozen=True)
class Progress:
    """`days_passed` of the period's `total_days` (a ratio kept as two integers, so exact)."""

    days_passed: int
    total_days: int

    @property
    def started(self) -> bool:
        return self.days_passed > 0 and self.total_days > 0


def progress(window: periods.Window, at: dt.datetime, tz_name: str) -> Progress:
    """How many of the window's local days have begun at `at` (all of them once it is over)."""
    first = periods.local_date(window.start, tz_name)
    last = periods.local_date(window.to_datetime, tz_name)
    total = (last - first).days + 1
    if at >= window.end:
        return Progress(total, total)
    if at < window.start:
        return Progress(0, total)
    return Progress(min(total, (periods.local_date(at, tz_name) - first).days + 1), total)


@dataclass(frozen=True)
class Projected:
    units: Decimal
    amount_cents: int

    def __add__(self, other: Projected) -> Projected:
        return Projected(self.units + other.units, self.amount_cents + other.amount_cents)


NOTHING = Projected(Decimal(0), 0)


def project_bucket(bucket: ChargeBucket, *, recurring: bool, at: Progress, currency: str) -> Projected:
    """One priced bucket of a charge (the whole charge, a filter, a group), projected to the end."""
    units = bucket.current_usage_units
    if recurring:
        return Projected(units, bucket.amount_cents)
    if not at.started:
        return NOTHING
    projected_units = (units * at.total_days / at.days_passed).quantize(UNITS_QUANTUM, rounding=ROUND_HALF_UP)
    charge = bucket.charge
    if charge.charge_model in UNIT_MODELS:
        properties = (
            bucket.charge_filter.properties if bucket.charge_filter is not None else None
        ) or charge.properties
        amount = price(charge.charge_model, properties or {}, Usage(units=projected_units)).amount
    else:
        amount = bucket.amount * at.total_days / at.days_passed
    return Projected(max(projected_units, Decimal(0)), to_cents(amount, currency) if amount > 0 else 0)


def project(buckets: list[ChargeBucket], *, recurring: bool, at: Progress, currency: str) -> Projected:
    """The sum of the buckets' projections."""
    total = NOTHING
    for bucket in buckets:
        total = total + project_bucket(bucket, recurring=recurring, at=at, currency=currency)
    return total
