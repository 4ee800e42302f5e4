"""The values the pricing engine takes and returns. Pure: no Django, no database."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeAlias

ZERO = Decimal(0)

# A charge's properties as the API validated and stored them: JSON (strings, ints, Decimals, lists of
# range rows), read key by key with `values.amount_of` / `values.ranges_of`.
Properties: TypeAlias = Mapping[str, Any]
# One parsed range row: `from_value` / `to_value` (Decimal, `to_value` None for the open top) and the
# model's amount keys (`per_unit_amount`, `flat_amount` or `rate`) as Decimals.
Row: TypeAlias = dict[str, Any]
# One line of a breakdown: Decimal amounts and units keyed by Lago's names (JSON-ready).
Line: TypeAlias = dict[str, Any]
# What each charge model returns: the exact amount and its breakdown lines.
ModelResult: TypeAlias = tuple[Decimal, list[Line]]


class PricingError(ValueError):
    """The engine was asked something it cannot answer (bad properties, missing usage detail).

    Properties that passed `validate_properties` never raise it, except when a model needs a
    detail of the usage that the caller did not pass (see `Usage`).
    """


@dataclass(frozen=True)
class Usage:
    """What the engine prices: the aggregated usage of one charge (or one filter/group bucket).

    * `units`: the aggregated value for the period, after the metric's rounding.
    * `events_count`: how many events were aggregated (percentage's fixed fee per transaction).
    * `event_values`: each event's units in timestamp order. Needed by `percentage` when it has
      free units (`free_units_per_events`, `free_units_per_total_aggregation`) or per-transaction
      minimum/maximum; the engine raises `PricingError` if they are needed and missing.
    * `precise_total_amount_cents`: for `dynamic`, the sum of the events'
      `precise_total_amount_cents` (minor units, unrounded).
    * Prorated charges (`price(..., prorated=True)`): `units` are the prorated units,
      `full_units` the unprorated ones (volume picks its tier with them), and for graduated
      `event_values` / `event_prorated_values` give each event's full and prorated units.
    """

    units: Decimal
    events_count: int = 0
    event_values: tuple[Decimal, ...] = ()
    precise_total_amount_cents: Decimal | None = None
    full_units: Decimal | None = None
    event_prorated_values: tuple[Decimal, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.units, Decimal) or isinstance(self.units, bool):
            raise TypeError("Usage.units must be a Decimal")
        if not self.units.is_finite():
            raise ValueError("Usage.units must be finite")
        if not isinstance(self.events_count, int) or self.events_count < 0:
            raise ValueError("Usage.events_count must be a non-negative int")
        values = tuple(self.event_values)
        for value in values:
            if not isinstance(value, Decimal) or not value.is_finite():
                raise TypeError("Usage.event_values must be finite Decimals")
        object.__setattr__(self, "event_values", values)
        prorated_values = tuple(self.event_prorated_values)
        for value in prorated_values:
            if not isinstance(value, Decimal) or not value.is_finite():
                raise TypeError("Usage.event_prorated_values must be finite Decimals")
        object.__setattr__(self, "event_prorated_values", prorated_values)
        if self.full_units is not None and (
            not isinstance(self.full_units, Decimal) or not self.full_units.is_finite()
        ):
            raise TypeError("Usage.full_units must be a finite Decimal")
        if self.precise_total_amount_cents is not None and (
            not isinstance(self.precise_total_amount_cents, Decimal) or not self.precise_total_amount_cents.is_finite()
        ):
            raise TypeError("Usage.precise_total_amount_cents must be a finite Decimal")


@dataclass(frozen=True)
class PricingResult:
    """The exact, unrounded price of a usage (`unit_amount` is per paid unit for package and per
    full unit for prorated charges, as Lago computes it).

    `amount` is in major units and is NOT rounded: the caller turns it into cents once, with
    `billing_project.core.money.to_cents(amount, currency)`. The `amount` of the breakdown lines
    always sums to `amount` exactly.
    """

    amount: Decimal
    units: Decimal
    unit_amount: Decimal
    breakdown: tuple[Line, ...] = field(default_factory=tuple)
