"""Billing periods: table-driven against an independent day-by-day oracle, Lago's worked numbers,
DST and leap years, and property tests that periods tile time."""

from __future__ import annotations

import calendar
import itertools
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing_project.core.money import to_cents
from subscriptions import periods
from subscriptions.periods import BillingTime, Interval, Schedule

TIMEZONES = ["UTC", "America/Los_Angeles", "Asia/Kolkata", "Pacific/Auckland"]
ANCHOR_DAYS = [1, 15, 28, 29, 30, 31]
MONTHS = {Interval.MONTHLY: 1, Interval.QUARTERLY: 3, Interval.SEMIANNUAL: 6, Interval.YEARLY: 12}


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def local(tz: str, *args: int) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(tz)).astimezone(UTC)


def is_boundary(day: date, interval: Interval, billing_time: BillingTime, anchor: date) -> bool:
    """Oracle, written independently of periods.py: is `day` the first day of a period?"""
    if interval == Interval.WEEKLY:
        weekday = 0 if billing_time == BillingTime.CALENDAR else anchor.weekday()
        return day.weekday() == weekday
    months = MONTHS[interval]
    if billing_time == BillingTime.CALENDAR:
        return day.day == 1 and (day.month - 1) % months == 0
    last = calendar.monthrange(day.year, day.month)[1]
    return (day.month - anchor.month) % months == 0 and day.day == min(anchor.day, last)


def oracle_starts(interval, billing_time, anchor: date, until: date) -> list[date]:
    day, starts = anchor, [anchor]
    while day < until:
        day += timedelta(days=1)
        if is_boundary(day, interval, billing_time, anchor):
            starts.append(day)
    return starts


CASES = list(itertools.product(Interval, BillingTime, ANCHOR_DAYS, TIMEZONES))


@pytest.mark.parametrize(("interval", "billing_time", "anchor_day", "tz"), CASES)
def test_periods_match_oracle_across_leap_year_and_dst(interval, billing_time, anchor_day, tz):
    # Started at 10:30 local on the anchor day in January 2024 (a leap year); walk to 2025-12.
    started_at = local(tz, 2024, 1, anchor_day, 10, 30)
    schedule = Schedule(interval=interval, billing_time=billing_time, started_at=started_at, tz_name=tz)
    until = date(2025, 12, 31)
    expected = oracle_starts(interval, billing_time, date(2024, 1, anchor_day), until)
    zone = ZoneInfo(tz)

    period = periods.period_at(schedule, started_at)
    # The first period starts at the beginning of the local start day; charges at started_at.
    assert period.service.start == local(tz, 2024, 1, anchor_day)
    assert period.charges.start == started_at
    seen = [period.service.start.astimezone(zone).date()]
    offsets = set()
    while True:
        start_local = period.full.end.astimezone(zone)
        assert (start_local.hour, start_local.minute, start_local.second) == (0, 0, 0)
        if start_local.date() > until:
            break
        following = periods.next_period(schedule, period)
        assert following.full.start == period.full.end  # no gap, no overlap
        assert following.service == following.full
        seen.append(following.full.start.astimezone(zone).date())
        offsets.add(following.full.start.astimezone(zone).utcoffset())
        period = following
    assert seen == expected
    if tz in ("America/Los_Angeles", "Pacific/Auckland") and interval in (Interval.WEEKLY, Interval.MONTHLY):
        assert len(offsets) == 2  # the walk crossed both DST changes, every boundary still local midnight


@pytest.mark.parametrize(("interval", "billing_time", "anchor_day", "tz"), CASES)
def test_billing_dates_and_full_period_proration(interval, billing_time, anchor_day, tz):
    started_at = local(tz, 2024, 1, anchor_day, 10, 30)
    schedule = Schedule(interval=interval, billing_time=billing_time, started_at=started_at, tz_name=tz)
    first = periods.period_at(schedule, started_at)
    # The next billing date is the first boundary after the start.
    assert periods.next_billing_at(schedule, started_at) == first.full.end
    # Anniversary periods start on the anchor day: the first one is full, never prorated.
    fraction = periods.base_fee_fraction(schedule, first)
    if billing_time == BillingTime.ANNIVERSARY:
        assert fraction == 1
    else:
        used = periods.days_between(first.service.start, first.full.end, tz)
        assert fraction == Fraction(used, periods.days_between(first.full.start, first.full.end, tz))
    second = periods.next_period(schedule, first)
    assert periods.base_fee_fraction(schedule, second) == 1
    assert periods.next_billing_at(schedule, second.full.start) == second.full.end


# --- Lago's worked numbers (docs/billing-semantics.md §5) -----------------------------------------------


def fee(amount_cents: int, fraction: Fraction) -> int:
    """Cents for a share of a plan amount, rounded once, half-up (billing_project.core.money)."""
    return to_cents(Decimal(amount_cents) * fraction.numerator / fraction.denominator / 100, "USD")


def test_calendar_monthly_first_period_prorated_in_utc_and_los_angeles():
    # terminate_pay_in_advance_spec: 5,000 from 8 Feb 2023 → 21/28 (3,750); in LA 22 days (3,929).
    schedule = Schedule(Interval.MONTHLY, BillingTime.CALENDAR, started_at=utc(2023, 2, 8))
    period = periods.period_at(schedule, utc(2023, 2, 8))
    assert periods.base_fee_fraction(schedule, period) == Fraction(21, 28)
    assert fee(5000, Fraction(21, 28)) == 3750
    la = Schedule(Interval.MONTHLY, BillingTime.CALENDAR, started_at=utc(2023, 2, 8), tz_name="America/Los_Angeles")
    la_period = periods.period_at(la, utc(2023, 2, 8))
    assert la_period.service.start == local("America/Los_Angeles", 2023, 2, 7)
    assert la_period.full.end == local("America/Los_Angeles", 2023, 3, 1)
    assert periods.base_fee_fraction(la, la_period) == Fraction(22, 28)
    assert fee(5000, Fraction(22, 28)) == 3929
    assert to_cents(Decimal(3929) * Decimal("1.2") / 100, "USD") == 4715  # with 20 % tax, as Lago


def test_mid_month_start_half_price_docs_example():
    # doc plan-model: 10 € from 15 April → 5 €.
    schedule = Schedule(Interval.MONTHLY, BillingTime.CALENDAR, started_at=utc(2024, 4, 15, 9))
    period = periods.period_at(schedule, utc(2024, 4, 15, 9))
    assert periods.base_fee_fraction(schedule, period) == Fraction(16, 30)
    assert fee(1000, Fraction(16, 30)) == 533  # Lago's doc rounds the example to 5 €


def test_anniversary_monthly_june_29():
    # upgrade_spec: started 29 June 2023 12:12 → 29 June–28 July full, next invoice on 29 July.
    started = utc(2023, 6, 29, 12, 12)
    schedule = Schedule(Interval.MONTHLY, BillingTime.ANNIVERSARY, started_at=started)
    period = periods.period_at(schedule, started)
    assert period.full == periods.Window(utc(2023, 6, 29), utc(2023, 7, 29))
    assert period.full.to_datetime == utc(2023, 7, 28, 23, 59, 59)
    assert period.charges.start == started
    assert periods.base_fee_fraction(schedule, period) == 1
    assert periods.next_billing_at(schedule, started) == utc(2023, 7, 29)


def test_trial_in_advance_prorated_from_trial_end():
    # free_trial_billing_spec: 5,000,000 from 5 March 2024 12:12, 10-day trial → (31-4-10)/31 = 2,741,935.
    started = utc(2024, 3, 5, 12, 12)
    trial_end = periods.trial_ends_at(started, 10)
    assert trial_end == utc(2024, 3, 15, 12, 12)
    schedule = Schedule(Interval.MONTHLY, BillingTime.CALENDAR, started_at=started, trial_ends_at=trial_end)
    period = periods.period_at(schedule, trial_end)
    fraction = periods.base_fee_fraction(schedule, period)
    assert fraction == Fraction(17, 31)
    assert fee(5_000_000, fraction) == 2_741_935


def test_upgrade_excludes_its_day_and_new_plan_starts_that_day():
    # doc upgrades-downgrades: €100 → €200 on 15 January → 14/31 (45.16) then 17/31 (109.68).
    old = Schedule(
        Interval.MONTHLY,
        BillingTime.CALENDAR,
        started_at=utc(2024, 1, 1),
        terminated_at=utc(2024, 1, 15, 10),
        replaced=True,
    )
    old_period = periods.period_at(old, utc(2024, 1, 15, 10))
    assert old_period.service == periods.Window(utc(2024, 1, 1), utc(2024, 1, 15))
    assert old_period.charges == periods.Window(utc(2024, 1, 1), utc(2024, 1, 15, 10))
    assert periods.base_fee_fraction(old, old_period) == Fraction(14, 31)
    assert fee(10000, Fraction(14, 31)) == 4516
    new = Schedule(Interval.MONTHLY, BillingTime.CALENDAR, started_at=utc(2024, 1, 15, 10))
    new_period = periods.period_at(new, utc(2024, 1, 15, 10))
    assert new_period.service.start == old_period.service.end  # the two plans tile the month
    assert periods.base_fee_fraction(new, new_period) == Fraction(17, 31)
    assert fee(20000, Fraction(17, 31)) == 10968


def test_upgrade_in_arrears_august_spec():
    # upgrade_spec: plan 100 cents, upgrade on 21 August 2023 → round(100 × 20/31) = 65.
    old = Schedule(
        Interval.MONTHLY,
        BillingTime.CALENDAR,
        started_at=utc(2023, 7, 1),
        terminated_at=utc(2023, 8, 21, 8),
        replaced=True,
    )
    period = periods.period_at(old, utc(2023, 8, 21, 8))
    assert periods.base_fee_fraction(old, period) == Fraction(20, 31)
    assert fee(100, Fraction(20, 31)) == 65


def test_termination_counts_its_day():
    # progressive_billing_spec: 3,100 from 1 December, terminated 18 December 00:00 → 18 days = 1,800.
    schedule = Schedule(
        Interval.MONTHLY, BillingTime.CALENDAR, started_at=utc(2023, 12, 1), terminated_at=utc(2023, 12, 18)
    )
    period = periods.period_at(schedule, utc(2023, 12, 18))
    assert period.service.end == utc(2023, 12, 19)
    assert period.charges.end == utc(2023, 12, 18)
    assert fee(3100, periods.base_fee_fraction(schedule, period)) == 1800
    assert periods.next_billing_at(schedule, utc(2023, 12, 10)) == utc(2023, 12, 18)


def test_quarterly_termination_32_days():
    # upgrade_proration_spec: quarterly 91,000, 20 May 10:00 → 20 June 10:00 = 32 days = 32,000.
    schedule = Schedule(
        Interval.QUARTERLY,
        BillingTime.CALENDAR,
        started_at=utc(2024, 5, 20, 10),
        terminated_at=utc(2024, 6, 20, 10),
    )
    period = periods.period_at(schedule, utc(2024, 6, 1))
    assert period.full == periods.Window(utc(2024, 4, 1), utc(2024, 7, 1))
    assert periods.base_fee_fraction(schedule, period) == Fraction(32, 91)
    assert fee(91000, Fraction(32, 91)) == 32000


def test_created_and_terminated_same_day_in_advance_credit_days():
    # terminate_pay_in_advance_spec: created and terminated on 8 Feb 2023: 1 day used, 20 unused.
    schedule = Schedule(
        Interval.MONTHLY, BillingTime.CALENDAR, started_at=utc(2023, 2, 8, 9), terminated_at=utc(2023, 2, 8, 15)
    )
    period = periods.period_at(schedule, utc(2023, 2, 8, 15))
    unused = periods.Window(period.service.end, period.full.end)
    assert periods.proration(period.full, unused, "UTC") == Fraction(20, 28)
    assert fee(5000, Fraction(20, 28)) == 3571


# --- DST, leap years, month ends ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("tz", "at", "start", "end"),
    [
        # Los Angeles springs forward on 10 March 2024 (PST → PDT) and falls back on 3 November.
        ("America/Los_Angeles", utc(2024, 3, 15), utc(2024, 3, 1, 8), utc(2024, 4, 1, 7)),
        ("America/Los_Angeles", utc(2024, 11, 15), utc(2024, 11, 1, 7), utc(2024, 12, 1, 8)),
        # Auckland falls back on 7 April 2024 (NZDT → NZST) and springs forward on 29 September.
        ("Pacific/Auckland", utc(2024, 4, 15), utc(2024, 3, 31, 11), utc(2024, 4, 30, 12)),
        ("Pacific/Auckland", utc(2024, 9, 15), utc(2024, 8, 31, 12), utc(2024, 9, 30, 11)),
        # Kolkata has no DST (UTC+5:30): leap February.
        ("Asia/Kolkata", utc(2024, 2, 10), utc(2024, 1, 31, 18, 30), utc(2024, 2, 29, 18, 30)),
    ],
)
def test_calendar_month_across_dst(tz, at, start, end):
    schedule = Schedule(Interval.MONTHLY, BillingTime.CALENDAR, started_at=utc(2023, 1, 1), tz_name=tz)
    period = periods.period_at(schedule, at)
    assert period.full == periods.Window(start, end)
    # A month with a 23- or 25-hour day still counts its calendar days.
    assert periods.days_between(start, end, tz) == calendar.monthrange(2024, at.month)[1]


def test_weekly_calendar_is_monday_to_sunday_across_dst():
    tz = "America/Los_Angeles"
    schedule = Schedule(Interval.WEEKLY, BillingTime.CALENDAR, started_at=local(tz, 2024, 3, 6, 12), tz_name=tz)
    first = periods.period_at(schedule, local(tz, 2024, 3, 6, 12))
    assert first.full == periods.Window(local(tz, 2024, 3, 4), local(tz, 2024, 3, 11))
    assert first.service.start == local(tz, 2024, 3, 6)
    assert periods.base_fee_fraction(schedule, first) == Fraction(5, 7)
    assert first.full.end - first.full.start == timedelta(days=7, hours=-1)  # the DST week is shorter


def test_anniversary_31st_clamps_to_month_end():
    schedule = Schedule(Interval.MONTHLY, BillingTime.ANNIVERSARY, started_at=utc(2024, 1, 31, 14))
    starts = [p.full.start.date() for p in periods.periods_between(schedule, utc(2024, 1, 31), utc(2024, 7, 1))]
    assert starts == [
        date(2024, 1, 31),
        date(2024, 2, 29),
        date(2024, 3, 31),
        date(2024, 4, 30),
        date(2024, 5, 31),
        date(2024, 6, 30),
    ]


def test_yearly_anniversary_on_leap_day():
    schedule = Schedule(Interval.YEARLY, BillingTime.ANNIVERSARY, started_at=utc(2024, 2, 29, 8))
    starts = [p.full.start.date() for p in periods.periods_between(schedule, utc(2024, 3, 1), utc(2029, 1, 1))]
    assert starts == [date(2024, 2, 29), date(2025, 2, 28), date(2026, 2, 28), date(2027, 2, 28), date(2028, 2, 29)]
    period = periods.period_at(schedule, utc(2024, 6, 1))
    assert periods.days_between(period.full.start, period.full.end, "UTC") == 365


def test_yearly_with_monthly_charges():
    tz = "Asia/Kolkata"
    started = local(tz, 2024, 3, 15, 9)
    schedule = Schedule(
        Interval.YEARLY, BillingTime.ANNIVERSARY, started_at=started, tz_name=tz, bill_charges_monthly=True
    )
    assert periods.charges_window_at(schedule, started) == periods.Window(started, local(tz, 2024, 4, 15))
    assert periods.charges_window_at(schedule, local(tz, 2024, 7, 20)) == periods.Window(
        local(tz, 2024, 7, 15), local(tz, 2024, 8, 15)
    )
    assert periods.next_billing_at(schedule, local(tz, 2024, 7, 20)) == local(tz, 2024, 8, 15)
    assert periods.period_at(schedule, local(tz, 2024, 7, 20)).full.end == local(tz, 2025, 3, 15)
    calendar_schedule = Schedule(
        Interval.SEMIANNUAL, BillingTime.CALENDAR, started_at=started, tz_name=tz, bill_charges_monthly=True
    )
    assert periods.charges_window_at(calendar_schedule, local(tz, 2024, 5, 2)) == periods.Window(
        local(tz, 2024, 5, 1), local(tz, 2024, 6, 1)
    )
    assert periods.period_at(calendar_schedule, local(tz, 2024, 5, 2)).full == periods.Window(
        local(tz, 2024, 1, 1), local(tz, 2024, 7, 1)
    )
    # Without the flag the charges follow the base period.
    plain = Schedule(Interval.YEARLY, BillingTime.CALENDAR, started_at=started, tz_name=tz)
    assert periods.charges_window_at(plain, local(tz, 2024, 5, 2)) == periods.Window(started, local(tz, 2025, 1, 1))


def test_yearly_amount_comparison():
    assert periods.yearly_amount_cents(1000, "monthly") == 12000
    assert periods.yearly_amount_cents(1000, Interval.WEEKLY) == 52000
    assert periods.yearly_amount_cents(5000, "semiannual") == 10000


def test_naive_datetimes_refused():
    with pytest.raises(ValueError):
        Schedule(Interval.MONTHLY, BillingTime.CALENDAR, started_at=datetime(2024, 1, 1))
    schedule = Schedule(Interval.MONTHLY, BillingTime.CALENDAR, started_at=utc(2024, 1, 1))
    with pytest.raises(ValueError):
        periods.period_at(schedule, datetime(2024, 1, 1))


def test_trial_ends_at_edge_values():
    started = utc(2024, 1, 1)
    assert periods.trial_ends_at(started, None) is None
    assert periods.trial_ends_at(started, 0) is None
    assert periods.trial_ends_at(started, "0.5") == utc(2024, 1, 1, 12)


# --- properties ---------------------------------------------------------------------------------

instants = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2032, 12, 31), timezones=st.just(UTC))


@settings(max_examples=300, deadline=None)
@given(
    interval=st.sampled_from(list(Interval)),
    billing_time=st.sampled_from(list(BillingTime)),
    tz=st.sampled_from([*TIMEZONES, "Europe/London", "America/Santiago", "Australia/Lord_Howe"]),
    started_at=instants,
    offsets=st.lists(st.integers(min_value=0, max_value=3 * 366 * 86400), min_size=1, max_size=5),
    monthly=st.booleans(),
)
def test_periods_tile_time(interval, billing_time, tz, started_at, offsets, monthly):
    schedule = Schedule(interval, billing_time, started_at=started_at, tz_name=tz, bill_charges_monthly=monthly)
    for offset in offsets:
        at = started_at + timedelta(seconds=offset)
        period = periods.period_at(schedule, at)
        assert period.full.contains(at)
        assert period.full.start < period.full.end
        following = periods.next_period(schedule, period)
        assert following.full.start == period.full.end
        previous = periods.period_at(schedule, period.full.start - timedelta(microseconds=1))
        if period.full.start > schedule.first_day_start:
            assert previous.full.end == period.full.start
        window = periods.charges_window_at(schedule, at)
        assert window.contains(at)
        assert period.full.start <= window.start and window.end <= period.full.end
        assert periods.next_billing_at(schedule, at) == window.end
        # The period is the union of its days: proration of a split adds up to the whole.
        midpoint = periods.start_of_day(at, tz)
        if period.full.start < midpoint:
            left = periods.Window(period.full.start, midpoint)
            right = periods.Window(midpoint, period.full.end)
            assert periods.proration(period.full, left, tz) + periods.proration(period.full, right, tz) == 1


@settings(max_examples=200, deadline=None)
@given(
    interval=st.sampled_from(list(Interval)),
    billing_time=st.sampled_from(list(BillingTime)),
    tz=st.sampled_from(TIMEZONES),
    started_at=instants,
    length=st.integers(min_value=1, max_value=800 * 86400),
    upgraded=st.booleans(),
)
def test_terminated_periods_stay_inside_service(interval, billing_time, tz, started_at, length, upgraded):
    terminated_at = started_at + timedelta(seconds=length)
    schedule = Schedule(
        interval, billing_time, started_at=started_at, tz_name=tz, terminated_at=terminated_at, replaced=upgraded
    )
    windows = periods.periods_between(schedule, started_at, terminated_at + timedelta(days=1))
    # Consecutive service windows are contiguous from the first day to the termination boundary.
    assert windows[0].service.start == periods.start_of_day(started_at, tz)
    for before, after in itertools.pairwise(windows):
        assert before.service.end == after.service.start
    assert windows[-1].service.end == max(schedule.service_end, windows[-1].service.start)
    for period in windows:
        assert 0 <= periods.base_fee_fraction(schedule, period) <= 1
        assert period.charges.end <= terminated_at
