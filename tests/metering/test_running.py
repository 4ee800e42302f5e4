"""metering.running: the per-event usage of a pay-in-advance charge (pure, no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from metering.computations import Row
from metering.running import RunningUsage

T0 = datetime(2024, 5, 1, tzinfo=UTC)


def _row(i: int, value: Decimal | None = None, **properties: str) -> Row:
    return Row(timestamp=T0 + timedelta(seconds=i), value=value, properties=properties, transaction_id=f"t{i}")


def test_unique_count_units_follow_the_peak():
    usage = RunningUsage("unique_count_agg", field_name="user")
    ops = [("u1", "add"), ("u2", "add"), ("u1", "add"), ("u1", "remove"), ("u1", "add"), ("u3", "add")]
    steps = [usage.add(_row(i, user=u, operation_type=op)) for i, (u, op) in enumerate(ops)]
    assert [s.after.units for s in steps] == [1, 2, 2, 2, 2, 3]
    assert [s.after.units - s.before.units for s in steps] == [1, 1, 0, 0, 0, 1]
    assert [s.units for s in steps] == [1, 1, 0, 0, 1, 1]


def test_carried_values_start_the_peak():
    carried = [_row(-10, user="u1"), _row(-9, user="u2"), _row(-8, user="u2", operation_type="remove")]
    usage = RunningUsage("unique_count_agg", field_name="user", carried=carried)
    first = usage.add(_row(0, user="u1"))
    second = usage.add(_row(1, user="u2"))
    assert (first.before.units, first.after.units, first.units) == (1, 1, 0)
    assert (second.before.units, second.after.units, second.units) == (1, 2, 1)


def test_buckets_by_most_specific_filter_then_group():
    filters = [("eu", {"region": ["eu"]}), ("eu_aws", {"region": ["eu"], "cloud": ["aws"]})]
    usage = RunningUsage("sum_agg", filters=filters, grouped_by=("team",))
    steps = [
        usage.add(_row(0, Decimal(2), region="eu", cloud="gcp", team="a")),
        usage.add(_row(1, Decimal(3), region="eu", cloud="aws", team="a")),
        usage.add(_row(2, Decimal(4), region="eu", cloud="gcp", team="a")),
        usage.add(_row(3, Decimal(5), region="us")),
    ]
    assert [s.bucket for s in steps] == [("eu", ("a",)), ("eu_aws", ("a",)), ("eu", ("a",)), (None, (None,))]
    assert [(s.before.units, s.after.units) for s in steps] == [(0, 2), (0, 3), (2, 6), (0, 5)]


def test_an_event_billed_already_moves_the_usage_without_a_step():
    usage = RunningUsage("count_agg", with_values=True)
    usage.skip(_row(0))
    step = usage.add(_row(1))
    assert (step.before.units, step.after.units, step.after.events_count) == (1, 2, 2)
    assert step.after.event_values == (1, 1)


def test_prorated_units_are_rounded_up_to_5_places():
    usage = RunningUsage("unique_count_agg", field_name="user", share=lambda row: Decimal(12) / Decimal(31))
    step = usage.add(_row(0, user="u1"))
    assert step.after.units == Decimal("0.38710") and step.units == 1


def test_unsupported_aggregation_is_refused():
    with pytest.raises(ValueError):
        RunningUsage("max_agg")


@given(st.lists(st.tuples(st.sampled_from("abcd"), st.booleans()), max_size=40))
def test_unique_count_fees_add_up_to_the_peak(ops):
    """Whatever the adds and removes, the units billed add up to the most values present at once."""
    usage = RunningUsage("unique_count_agg", field_name="user")
    present: set[str] = set()
    peak = 0
    billed = Decimal(0)
    for i, (value, remove) in enumerate(ops):
        step = usage.add(_row(i, user=value, operation_type="remove" if remove else "add"))
        billed += step.after.units - step.before.units
        if remove:
            present.discard(value)
        else:
            present.add(value)
        peak = max(peak, len(present))
    assert billed == peak
