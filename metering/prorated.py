"""Prorated aggregation (docs/billing-semantics.md §5.4, docs/invoicing.md §9): pure arithmetic, no ORM.

A prorated charge bills each unit of a recurring metric for the share of the billing period it
existed. Days are local calendar days of the customer's timezone, counted inclusively, over the
days of the *full* charges period (`period_days`, not cut short by a start or a termination):

* `sum_agg`: a value sent on day *d* counts `value × (last_day − d + 1) / period_days` (a
  negative value stops billing from its own day on); what was carried from earlier periods counts
  `carried × window_days / period_days` (the whole period normally, the used days of a period cut
  short by a termination).
* `unique_count_agg`: each distinct value counts for the days it was present in the window:
  added on *a* and removed on *r* → `(r − a + 1) / period_days` (both days included), a value
  present before the window from its first day, a value still present up to its last day.

The sum of prorated units is rounded **up** to 5 decimal places, as Lago does (`ceil(5)`); the
per-event values that feed the prorated graduated walk stay unrounded (40 significant digits).
Source: api `app/services/billable_metrics/prorated_aggregations/*`,
`app/services/events/stores/postgres_store.rb#prorated_sum`, `#duration_ratio_sql`.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_CEILING, Context, Decimal

from metering.computations import ZERO, Row, _order, plain

_PRECISE = Context(prec=40)
UNITS_QUANTUM = Decimal("0.00001")
_INCLUSIVE = timedelta(seconds=1)


@dataclass(frozen=True)
class ProrationDays:
    """The local days of a usage window and of its full period."""

    first_day: date  # local day of the window's start
    last_day: date  # local day of the window's inclusive end
    period_days: int  # local days of the full charges period
    carried_days: int | None = None  # days the carried value counts, when not the window's

    @classmethod
    def of(
        cls, start: datetime, end: datetime, *, period_days: int, tz_name: str, carried_days: int | None = None
    ) -> ProrationDays:
        """For the half-open window `[start, end)`; `end − 1 s` is its inclusive last instant."""
        tz = zoneinfo.ZoneInfo(tz_name or "UTC")
        first = start.astimezone(tz).date()
        last = max(first, (end - _INCLUSIVE).astimezone(tz).date())
        if period_days <= 0:
            raise ValueError("period_days must be positive")
        return cls(first_day=first, last_day=last, period_days=period_days, carried_days=carried_days)

    @property
    def window_days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    def ratio(self, days: int) -> Decimal:
        return _PRECISE.divide(Decimal(max(days, 0)), Decimal(self.period_days))

    def carried_ratio(self) -> Decimal:
        """Lago bills the carried value for the window's days; a window closed by a plan change does
        not count its last day there (`Subscription#date_diff_with_timezone`), while the values sent
        in the window still count up to that day (Lago's `prorated_graduated_spec`, upgrade: 27,323)."""
        return self.ratio(self.window_days if self.carried_days is None else self.carried_days)

    def days_from(self, day: date) -> int:
        """Days from `day` (included) to the window's last day (included), within the window."""
        day = max(day, self.first_day)
        return (self.last_day - day).days + 1


@dataclass(frozen=True)
class ProratedValues:
    """Prorated units (ceil 5 places), the full units, and per-event full / prorated values."""

    units: Decimal
    full_units: Decimal
    event_values: tuple[Decimal, ...]
    event_prorated_values: tuple[Decimal, ...]


def ceil_units(value: Decimal) -> Decimal:
    return plain(value.quantize(UNITS_QUANTUM, rounding=ROUND_CEILING, context=_PRECISE))


def _local_day(moment: datetime, tz_name: str) -> date:
    return moment.astimezone(zoneinfo.ZoneInfo(tz_name or "UTC")).date()


def prorated_sum(history: Sequence[Row], rows: Sequence[Row], days: ProrationDays, *, tz_name: str) -> ProratedValues:
    """`sum_agg`: carried value × window share + each value × its remaining days' share."""
    carried = sum((r.value for r in history if r.value is not None), ZERO)
    full: list[Decimal] = []
    prorated: list[Decimal] = []
    if carried != 0:
        full.append(carried)
        prorated.append(_PRECISE.multiply(carried, days.carried_ratio()))
    for row in sorted(rows, key=_order):
        if row.value is None:
            continue
        full.append(row.value)
        share = days.ratio(days.days_from(_local_day(row.timestamp, tz_name)))
        prorated.append(_PRECISE.multiply(row.value, share))
    total = sum(prorated, ZERO)
    return ProratedValues(
        units=ceil_units(total),
        full_units=plain(sum(full, ZERO)),
        event_values=tuple(plain(v) for v in full),
        event_prorated_values=tuple(prorated),
    )


def prorated_unique_count(
    history: Sequence[Row], rows: Sequence[Row], days: ProrationDays, *, field_name: str, tz_name: str
) -> ProratedValues:
    """`unique_count_agg`: each value for the days it was present (add and remove days included).

    Per-event values (for the graduated walk), as Lago's prorated unique count gives them: one
    element per presence — the values present when the window opens first (full = their count,
    prorated = the days each stayed), then each add in the window (+1, the days until its removal or
    the window's end). A removal is no element of its own: it ends a presence, so tiers follow the
    presences counted so far (Lago's `prorated_graduated_spec`, unique count: 15,383, 15,650, 15,833).
    `full_units` is the number of values present at the end.
    """

    def operation(row: Row) -> tuple[str | None, bool]:
        props = row.properties or {}
        return props.get(field_name), (props.get("operation_type") or "add") == "remove"

    carried: set[str] = set()
    for row in sorted(history, key=_order):
        value, remove = operation(row)
        if value is None:
            continue
        if remove:
            carried.discard(value)
        else:
            carried.add(value)
    full: list[Decimal] = [Decimal(len(carried))] if carried else []
    shares: list[Decimal] = [ZERO] if carried else []
    # value -> (index of its element, local day its presence in the window began)
    open_presences: dict[str, tuple[int, date]] = dict.fromkeys(carried, (0, days.first_day))

    def close(value: str, last: date) -> None:
        index, began = open_presences.pop(value)
        shares[index] += days.ratio((last - began).days + 1)

    for row in sorted(rows, key=_order):
        value, remove = operation(row)
        if value is None:
            continue
        day = max(_local_day(row.timestamp, tz_name), days.first_day)
        if remove and value in open_presences:
            close(value, day)
        elif not remove and value not in open_presences:
            open_presences[value] = (len(full), day)
            full.append(Decimal(1))
            shares.append(ZERO)
    present = len(open_presences)
    for value in list(open_presences):
        close(value, days.last_day)
    return ProratedValues(
        units=ceil_units(sum(shares, ZERO)),
        full_units=Decimal(present),
        event_values=tuple(full),
        event_prorated_values=tuple(shares),
    )
