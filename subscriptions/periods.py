"""Billing-period arithmetic: the only place in bxb where period boundaries are computed.

Pure functions, no ORM. Every boundary is a *local midnight* in the customer's applicable timezone
(customer, else organization, else UTC), returned as a UTC-aware `datetime`. Periods are
half-open: `[start, end)`. Lago shows the inclusive end (`to_datetime = end - 1 s`, i.e.
`...23:59:59` local); `Window.to_datetime` gives that value for the API.

Rules (docs/billing-semantics.md §5.1, §5.2, §5.5, §5.6, §5.7):

* calendar periods: weekly Monday-Sunday, monthly 1st-last day, quarterly Jan/Apr/Jul/Oct,
  semiannual Jan/Jul, yearly Jan 1st;
* anniversary periods start on the local day of `subscription_at` (the anchor) every week, month,
  quarter, half year or year. When the anchor day does not exist in a month (the 29th-31st), the
  period starts on that month's last day (Jan 31 -> Feb 28/29 -> Mar 31 -> Apr 30), so consecutive
  periods always tile time;
* the first period starts at the beginning of the local day of `started_at`; charges start at
  `started_at` itself;
* yearly and semiannual plans with `bill_charges_monthly` bill their charges on monthly windows
  (calendar months, or monthly anniversaries of the anchor) inside the base-fee period; with
  `bill_fixed_charges_monthly` their fixed charges (`fixed_charges_period_at`); either makes them
  invoiced every month (`invoice_window_at`);
* proration counts local calendar days (so DST days count as one day): a window from the 8th to a
  termination on the 28th counts 21 days; an upgrade excludes its own day (the new plan starts
  that day).
"""

from __future__ import annotations

import calendar
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from fractions import Fraction
from functools import lru_cache

ONE_SECOND = timedelta(seconds=1)


class Interval(StrEnum):
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    SEMIANNUAL = "semiannual"
    YEARLY = "yearly"


class BillingTime(StrEnum):
    CALENDAR = "calendar"
    ANNIVERSARY = "anniversary"


# Months per period for the month-based intervals.
_MONTHS = {Interval.MONTHLY: 1, Interval.QUARTERLY: 3, Interval.SEMIANNUAL: 6, Interval.YEARLY: 12}
# Periods per year, to compare plans on their yearly amount (docs/billing-semantics.md §5.6).
PERIODS_PER_YEAR = {
    Interval.WEEKLY: 52,
    Interval.MONTHLY: 12,
    Interval.QUARTERLY: 4,
    Interval.SEMIANNUAL: 2,
    Interval.YEARLY: 1,
}
# Calendar anchors: any January 1st aligns months, quarters, halves and years; any Monday weeks.
_CALENDAR_MONTH_ANCHOR = date(2000, 1, 1)
_CALENDAR_WEEK_ANCHOR = date(2000, 1, 3)  # a Monday


@lru_cache(maxsize=256)
def zone(name: str | None) -> zoneinfo.ZoneInfo:
    """The IANA zone for a name; an empty name is UTC."""
    return zoneinfo.ZoneInfo(name or "UTC")


def applicable_timezone(customer_timezone: str | None, organization_timezone: str | None) -> str:
    """Customer's timezone, else the organization's, else UTC (Lago's `applicable_timezone`)."""
    return customer_timezone or organization_timezone or "UTC"


def _require_aware(value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("naive datetimes are not allowed; pass a timezone-aware datetime")


def local_date(instant: datetime, tz_name: str) -> date:
    """The calendar day `instant` falls on in `tz_name`."""
    _require_aware(instant)
    return instant.astimezone(zone(tz_name)).date()


def local_midnight(day: date, tz_name: str) -> datetime:
    """The first instant of `day` in `tz_name`, in UTC.

    On a day whose midnight does not exist (a DST gap at 00:00) this is the first existing local
    time; on a day whose midnight happens twice it is the first occurrence.
    """
    local = datetime.combine(day, time(0), tzinfo=zone(tz_name))
    utc = local.astimezone(UTC)
    # A gap at midnight: fold=0 maps to an instant on the previous local day in some zones.
    while utc.astimezone(zone(tz_name)).date() < day:
        utc += timedelta(minutes=15)
    return utc


def start_of_day(instant: datetime, tz_name: str) -> datetime:
    return local_midnight(local_date(instant, tz_name), tz_name)


def end_of_day(instant: datetime, tz_name: str) -> datetime:
    """The exclusive end of the local day `instant` falls in (next local midnight)."""
    return local_midnight(local_date(instant, tz_name) + timedelta(days=1), tz_name)


# --- boundaries -------------------------------------------------------------------------------


def _clamped(year: int, month: int, day: int) -> date:
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


def _month_boundary(anchor: date, months: int, k: int) -> date:
    """The k-th boundary after (k>0) or before (k<0) `anchor`, every `months` months, clamped."""
    index = anchor.year * 12 + (anchor.month - 1) + months * k
    year, month0 = divmod(index, 12)
    return _clamped(year, month0 + 1, anchor.day)


@dataclass(frozen=True)
class Cadence:
    """A repeating sequence of local-midnight boundaries: every `interval`, from `anchor`."""

    interval: Interval
    anchor: date
    tz_name: str

    @classmethod
    def for_plan(cls, interval: Interval | str, billing_time: BillingTime | str, anchor: date, tz_name: str) -> Cadence:
        interval = Interval(interval)
        if BillingTime(billing_time) == BillingTime.CALENDAR:
            anchor = _CALENDAR_WEEK_ANCHOR if interval == Interval.WEEKLY else _CALENDAR_MONTH_ANCHOR
        return cls(interval=interval, anchor=anchor, tz_name=tz_name)

    def boundary_date(self, k: int) -> date:
        if self.interval == Interval.WEEKLY:
            return self.anchor + timedelta(days=7 * k)
        return _month_boundary(self.anchor, _MONTHS[self.interval], k)

    def boundary(self, k: int) -> datetime:
        return local_midnight(self.boundary_date(k), self.tz_name)

    def index_at(self, instant: datetime) -> int:
        """The k with boundary(k) <= instant < boundary(k + 1)."""
        day = local_date(instant, self.tz_name)
        if self.interval == Interval.WEEKLY:
            k = (day - self.anchor).days // 7
        else:
            months = _MONTHS[self.interval]
            k = ((day.year * 12 + day.month) - (self.anchor.year * 12 + self.anchor.month)) // months
        # The estimate is off by at most one; settle it on the UTC instants themselves.
        while self.boundary(k) > instant:
            k -= 1
        while self.boundary(k + 1) <= instant:
            k += 1
        return k

    def window_at(self, instant: datetime) -> Window:
        k = self.index_at(instant)
        return Window(self.boundary(k), self.boundary(k + 1))


@dataclass(frozen=True)
class Window:
    """A half-open interval of time `[start, end)` in UTC."""

    start: datetime
    end: datetime

    @property
    def to_datetime(self) -> datetime:
        """Lago's inclusive end (`...23:59:59`)."""
        return self.end - ONE_SECOND

    def contains(self, instant: datetime) -> bool:
        return self.start <= instant < self.end

    def clip(self, start: datetime | None = None, end: datetime | None = None) -> Window:
        new_start = max(self.start, start) if start is not None else self.start
        new_end = min(self.end, end) if end is not None else self.end
        return Window(new_start, max(new_start, new_end))


# --- subscriptions ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Schedule:
    """What the period arithmetic needs to know about a subscription and its plan.

    `subscription_at` fixes the anniversary anchor; `started_at` the beginning of the first
    period (they differ when a downgrade or a trial moves the start). `terminated_at` closes the
    last period; `replaced` marks a termination by a plan change (upgrade, downgrade), whose own day belongs to
    the next plan.
    """

    interval: Interval
    billing_time: BillingTime
    started_at: datetime
    tz_name: str = "UTC"
    subscription_at: datetime | None = None
    bill_charges_monthly: bool = False
    terminated_at: datetime | None = None
    bill_fixed_charges_monthly: bool = False
    replaced: bool = False
    trial_ends_at: datetime | None = None

    def __post_init__(self) -> None:
        _require_aware(self.started_at)
        object.__setattr__(self, "interval", Interval(self.interval))
        object.__setattr__(self, "billing_time", BillingTime(self.billing_time))
        zone(self.tz_name)  # fail early on an unknown zone

    @property
    def anchor(self) -> date:
        return local_date(self.subscription_at or self.started_at, self.tz_name)

    @property
    def cadence(self) -> Cadence:
        return Cadence.for_plan(self.interval, self.billing_time, self.anchor, self.tz_name)

    @property
    def fixed_charges_monthly(self) -> bool:
        """The fixed charges' periods are months of the base period (`bill_fixed_charges_monthly`)."""
        return self.bill_fixed_charges_monthly and self.interval in (Interval.YEARLY, Interval.SEMIANNUAL)

    @property
    def usage_on_invoice_windows(self) -> bool:
        """Every invoice window is a usage window (they differ only when the fixed charges alone bill
        monthly): `invoice_cadence == charges_cadence`, without building them."""
        return self.bill_charges_monthly or not self.fixed_charges_monthly

    def _monthly_if(self, flag: bool) -> Cadence:
        if flag and self.interval in (Interval.YEARLY, Interval.SEMIANNUAL):
            return Cadence.for_plan(Interval.MONTHLY, self.billing_time, self.anchor, self.tz_name)
        return self.cadence

    @property
    def charges_cadence(self) -> Cadence:
        """The usage windows: monthly with `bill_charges_monthly` (yearly, semiannual plans)."""
        return self._monthly_if(self.bill_charges_monthly)

    @property
    def fixed_charges_cadence(self) -> Cadence:
        """The fixed charges' periods: monthly with `bill_fixed_charges_monthly` (yearly, semiannual)."""
        return self._monthly_if(self.bill_fixed_charges_monthly)

    @property
    def invoice_cadence(self) -> Cadence:
        """When periodic invoices are issued: monthly if either usage or fixed charges bill monthly."""
        return self._monthly_if(self.bill_charges_monthly or self.bill_fixed_charges_monthly)

    @property
    def first_day_start(self) -> datetime:
        return start_of_day(self.started_at, self.tz_name)

    @property
    def service_end(self) -> datetime | None:
        """Exclusive end of the base-fee service: the termination day counts, unless upgraded."""
        if self.terminated_at is None:
            return None
        if self.replaced:
            return start_of_day(self.terminated_at, self.tz_name)
        return end_of_day(self.terminated_at, self.tz_name)


@dataclass(frozen=True)
class BillingPeriod:
    """One base-fee period of a subscription.

    `full` is the whole calendar/anniversary period (the proration denominator); `service` the
    part of it the subscription was live for (from the first day, to the termination day);
    `charges` the usage window (from `started_at`, to `terminated_at`).
    """

    full: Window
    service: Window
    charges: Window
    index: int

    @property
    def start(self) -> datetime:
        return self.service.start

    @property
    def end(self) -> datetime:
        return self.service.end

    @property
    def is_partial(self) -> bool:
        return self.service != self.full


def _clip_service(schedule: Schedule, full: Window) -> Window:
    return full.clip(schedule.first_day_start, schedule.service_end)


def period_at(schedule: Schedule, at: datetime) -> BillingPeriod:
    """The base-fee period of `schedule` containing `at` (before the start: the first period)."""
    return _period_at(schedule, at, schedule.cadence)


def fixed_charges_period_at(schedule: Schedule, at: datetime) -> BillingPeriod:
    """The period of the fixed charges containing `at`: the base period, or a month of it with
    `bill_fixed_charges_monthly` (`full` the whole month, `service` the part the subscription was live)."""
    return _period_at(schedule, at, schedule.fixed_charges_cadence)


def _period_at(schedule: Schedule, at: datetime, cadence: Cadence) -> BillingPeriod:
    _require_aware(at)
    at = max(at, schedule.first_day_start)
    if schedule.terminated_at is not None:
        last_instant = max(schedule.first_day_start, (schedule.service_end or at) - ONE_SECOND)
        at = min(at, last_instant)
    k = cadence.index_at(at)
    full = Window(cadence.boundary(k), cadence.boundary(k + 1))
    charges = full.clip(schedule.started_at, schedule.terminated_at)
    return BillingPeriod(full=full, service=_clip_service(schedule, full), charges=charges, index=k)


def next_period(schedule: Schedule, period: BillingPeriod) -> BillingPeriod:
    return period_at(schedule, period.full.end)


def charges_window_at(schedule: Schedule, at: datetime) -> Window:
    """The usage window containing `at`: the base period, or a month of it with bill_charges_monthly."""
    return _window_at(schedule, at, schedule.charges_cadence)


def invoice_window_at(schedule: Schedule, at: datetime) -> Window:
    """The window a periodic invoice closes, containing `at`: the usage window, or a month of the
    base period when only the fixed charges bill monthly (`Schedule.invoice_cadence`)."""
    return _window_at(schedule, at, schedule.invoice_cadence)


def _window_at(schedule: Schedule, at: datetime, cadence: Cadence) -> Window:
    _require_aware(at)
    at = max(at, schedule.started_at)
    if schedule.terminated_at is not None:
        at = min(at, max(schedule.started_at, schedule.terminated_at - ONE_SECOND))
    window = cadence.window_at(at)
    return window.clip(schedule.started_at, schedule.terminated_at)


def next_billing_at(schedule: Schedule, at: datetime) -> datetime:
    """When the next periodic invoice for `schedule` is due after `at`.

    That is the end of the current invoice window: the next period start, or the next month
    with `bill_charges_monthly` or `bill_fixed_charges_monthly`. A terminated subscription is billed at termination.
    """
    _require_aware(at)
    if schedule.terminated_at is not None and at >= schedule.terminated_at:
        return schedule.terminated_at
    at = max(at, schedule.started_at)
    end = schedule.invoice_cadence.window_at(at).end
    if schedule.terminated_at is not None:
        return min(end, schedule.terminated_at)
    return end


def days_between(start: datetime, end: datetime, tz_name: str) -> int:
    """Local calendar days covered by `[start, end)`: a partial day counts as a whole day."""
    if end <= start:
        return 0
    return (local_date(end - ONE_SECOND, tz_name) - local_date(start, tz_name)).days + 1


def proration(full: Window, used: Window, tz_name: str) -> Fraction:
    """The share of `full` that `used` covers, in local calendar days (Lago's day counting)."""
    used = used.clip(full.start, full.end)
    total = days_between(full.start, full.end, tz_name)
    if total == 0:
        return Fraction(0)
    return Fraction(days_between(used.start, used.end, tz_name), total)


def base_fee_window(schedule: Schedule, period: BillingPeriod) -> Window:
    """The part of a period the base fee is charged for: after the trial (from its local day)."""
    window = period.service
    if schedule.trial_ends_at is not None:
        trial_day = start_of_day(schedule.trial_ends_at, schedule.tz_name)
        window = window.clip(start=trial_day)
    return window


def base_fee_fraction(schedule: Schedule, period: BillingPeriod) -> Fraction:
    """Fraction of the plan amount due for `period` (trial and partial periods prorated).

    An anniversary subscription's first period is full, so it is never prorated.
    """
    return proration(period.full, base_fee_window(schedule, period), schedule.tz_name)


def trial_ends_at(started_at: datetime, trial_period_days: object) -> datetime | None:
    """`started_at` plus the plan's trial (days, possibly fractional); None without a trial."""
    if trial_period_days in (None, 0, "0", ""):
        return None
    days = Fraction(str(trial_period_days))
    if days <= 0:
        return None
    return started_at + timedelta(seconds=int(days * 86400))


def periods_between(schedule: Schedule, start: datetime, end: datetime) -> list[BillingPeriod]:
    """Every base-fee period of `schedule` that intersects `[start, end)`, in order."""
    result: list[BillingPeriod] = []
    period = period_at(schedule, start)
    while period.full.start < end:
        if period.service.start < period.service.end or not result:
            result.append(period)
        if schedule.service_end is not None and period.full.end >= schedule.service_end:
            break
        period = next_period(schedule, period)
    return result


def yearly_amount_cents(amount_cents: int, interval: Interval | str) -> int:
    """A plan's amount over a year, to tell an upgrade from a downgrade (Lago's `yearly_amount_cents`)."""
    return int(amount_cents) * PERIODS_PER_YEAR[Interval(interval)]
