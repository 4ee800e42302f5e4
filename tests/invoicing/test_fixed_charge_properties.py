"""Fixed charge proration bounds (docs/billing-semantics.md §5.9), for any sequence of unit changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from billing_project.core.money import to_cents
from catalog.pricing import Usage, price
from invoicing.billing.fixed_charges import UnitsChange, held_units, increase_units, prorated_units
from subscriptions import periods

JANUARY = periods.Window(datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 2, 1, tzinfo=UTC))
FEBRUARY_2024 = periods.Window(datetime(2024, 2, 1, tzinfo=UTC), datetime(2024, 3, 1, tzinfo=UTC))

STANDARD = ("standard", {"amount": "10"})
GRADUATED = (
    "graduated",
    {
        "graduated_ranges": [
            {"from_value": 0, "to_value": 10, "per_unit_amount": "5", "flat_amount": "3"},
            {"from_value": 11, "to_value": None, "per_unit_amount": "4", "flat_amount": "1"},
        ]
    },
)

changes_st = st.lists(
    st.tuples(st.integers(min_value=0, max_value=28 * 24 - 1), st.integers(min_value=0, max_value=200)),
    max_size=12,
).map(lambda items: sorted(items))


def _changes(period: periods.Window, items: list[tuple[int, int]]) -> list[UnitsChange]:
    return [UnitsChange(period.start + timedelta(hours=hour), Decimal(units)) for hour, units in items]


def _cents(model: tuple[str, dict], units: Decimal) -> int:
    return to_cents(price(model[0], model[1], Usage(units=units)).amount, "USD")


@settings(max_examples=200, deadline=None)
@given(
    default=st.integers(min_value=0, max_value=200),
    items=changes_st,
    model=st.sampled_from([STANDARD, GRADUATED]),
    period=st.sampled_from([JANUARY, FEBRUARY_2024]),
)
def test_prorated_in_arrears_never_exceeds_the_largest_count(default, items, model, period):
    changes = _changes(period, items)
    priced = prorated_units(changes, Decimal(default), window=period, full=period, tz_name="UTC")
    largest = max([Decimal(default), *(c.units for c in changes)])
    assert 0 <= priced <= largest
    assert _cents(model, priced) <= _cents(model, largest)


@settings(max_examples=100, deadline=None)
@given(units=st.integers(min_value=0, max_value=10_000), model=st.sampled_from([STANDARD, GRADUATED]))
def test_constant_units_bill_the_whole_period(units, model):
    same = [UnitsChange(JANUARY.start + timedelta(days=9), Decimal(units))]
    for changes in ([], same):
        priced = prorated_units(changes, Decimal(units), window=JANUARY, full=JANUARY, tz_name="UTC")
        assert priced == units
        assert _cents(model, priced) == _cents(model, Decimal(units))


@settings(max_examples=200, deadline=None)
@given(
    default=st.integers(min_value=0, max_value=200), items=changes_st, cents=st.integers(min_value=0, max_value=10_000)
)
def test_in_advance_opening_fee_and_increases_never_exceed_the_largest_count(default, items, cents):
    """Standard model at a whole number of cents per unit: the opening fee plus every increase billed
    inside the period stays within the whole period's price of the largest count held."""
    model = ("standard", {"amount": str(Decimal(cents).scaleb(-2))})
    changes = _changes(JANUARY, items)
    billed = Decimal(default)
    total = _cents(model, billed)
    for change in changes:
        held = held_units(changes, Decimal(default), change.timestamp)
        due = increase_units(held=held, billed=billed, at=change.timestamp, full=JANUARY, tz_name="UTC", prorated=True)
        if due is None:
            continue
        increase, priced, _ = due
        billed += increase
        total += _cents(model, priced)
    largest = max([Decimal(default), *(c.units for c in changes)])
    assert billed == largest
    assert total <= _cents(model, largest)


def test_worked_example_unit_days():
    """10 seats, 25 from the 12th: (10 × 11 + 25 × 20) / 31."""
    changes = [UnitsChange(datetime(2025, 1, 12, 15, tzinfo=UTC), Decimal(25))]
    priced = prorated_units(changes, Decimal(10), window=JANUARY, full=JANUARY, tz_name="UTC")
    assert priced == Decimal(610) / 31
    # two changes on one day: the day counts for the last one
    twice = [*changes, UnitsChange(datetime(2025, 1, 12, 18, tzinfo=UTC), Decimal(5))]
    assert prorated_units(twice, Decimal(10), window=JANUARY, full=JANUARY, tz_name="UTC") == Decimal(210) / 31
    # a partial window (started on the 10th) over the whole month's days
    started = periods.Window(datetime(2025, 1, 10, tzinfo=UTC), JANUARY.end)
    assert prorated_units([], Decimal(31), window=started, full=JANUARY, tz_name="UTC") == 22
