"""Prorated charges (docs/billing-semantics.md §2.9, §5.4) with the numbers of Lago's
`spec/services/charge_models/prorated_graduated_service_spec.rb`."""

from __future__ import annotations

from decimal import ROUND_CEILING, localcontext
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing_project.core.money import to_cents
from catalog.pricing import PricingError, Usage, price

TWO_TIERS = {
    "graduated_ranges": [
        {"from_value": 0, "to_value": 5, "per_unit_amount": "10", "flat_amount": "100"},
        {"from_value": 6, "to_value": None, "per_unit_amount": "5", "flat_amount": "50"},
    ]
}
THREE_TIERS = {
    "graduated_ranges": [
        {"from_value": 0, "to_value": 5, "per_unit_amount": "10", "flat_amount": "100"},
        {"from_value": 6, "to_value": 15, "per_unit_amount": "5", "flat_amount": "50"},
        {"from_value": 16, "to_value": None, "per_unit_amount": "2", "flat_amount": "0"},
    ]
}
FIRST_TIER_OF_ONE = {
    "graduated_ranges": [
        {"from_value": 0, "to_value": 1, "per_unit_amount": "10", "flat_amount": "100"},
        {"from_value": 2, "to_value": None, "per_unit_amount": "5", "flat_amount": "50"},
    ]
}


def prorated_usage(units, full_units, full, prorated):
    return Usage(
        units=D(str(units)),
        full_units=D(str(full_units)),
        events_count=len(full),
        event_values=tuple(D(str(v)) for v in full),
        event_prorated_values=tuple(D(str(v)) for v in prorated),
    )


@pytest.mark.parametrize(
    ("properties", "units", "full_units", "full", "prorated", "amount", "unit_amount"),
    [
        (TWO_TIERS, "5.96667", 14, [5, 5, 10, -6], ["3.5", "2.66667", "2", "-2.2"], "197.33", "14.10"),
        (TWO_TIERS, "0", 0, [], [], "100", "0"),
        (TWO_TIERS, "3.86667", 11, [2, 5, 10, -6], ["1.4", "2.66667", "2", "-2.2"], "184.33", "16.76"),
        (
            TWO_TIERS,
            "1.613",
            0,
            [1, 4, 1, -5, -1],
            ["0.7097", "1.54839", "0.2258", "-0.80645", "-0.0645"],
            "165.81",
            "0",
        ),
        (TWO_TIERS, "2.5", 3, [5, -2], ["3.5", "-1"], "125", "41.67"),
        (TWO_TIERS, "3.2", 3, [4, 2, -3], ["2.8", "1", "-0.6"], "180.5", "60.17"),
        (TWO_TIERS, "4.9", 13, [5, 2, -4, 10], ["3.5", "1", "-1.6", "2"], "190", "14.62"),
        (TWO_TIERS, "-31.33", -95, [5, -100], ["2", "-33.33"], "0", "0"),
        (TWO_TIERS, "-31.73", -96, [4, -100], ["1.6", "-33.33"], "0", "0"),
        (TWO_TIERS, "0.7", 1, [1], ["0.7"], "107", "107"),
        (FIRST_TIER_OF_ONE, "0.7", 1, [1], ["0.7"], "107", "107"),
        (THREE_TIERS, "75", 75, [75], ["75"], "370", "4.93"),
    ],
)
def test_prorated_graduated_spec(properties, units, full_units, full, prorated, amount, unit_amount):
    result = price("graduated", properties, prorated_usage(units, full_units, full, prorated), prorated=True)
    assert round(result.amount, 2) == D(amount)
    assert round(result.unit_amount, 2) == D(unit_amount)
    assert sum(line["amount"] for line in result.breakdown) == result.amount


def test_prorated_graduated_three_tiers_one_overflow_is_exact():
    usage = prorated_usage("6.36", 75, [2, 5, 10, -6, 4, 60], ["1.4", "2.5", "2", "-2.2", "0.667", "2"])
    result = price("graduated", THREE_TIERS, usage, prorated=True)
    assert result.amount.quantize(D("0.01"), rounding=ROUND_CEILING) == D("191.34")  # Lago's spec
    # 129 + (50 + 9 + 1/600) + 10/3 is exactly 191.335: computed on rationals, it rounds half-up once.
    assert result.amount == D("191.335")
    assert to_cents(result.amount, "USD") == 19134
    assert round(result.unit_amount, 2) == D("2.55")


def test_prorated_graduated_breakdown_per_tier():
    result = price(
        "graduated",
        TWO_TIERS,
        prorated_usage("5.96667", 14, [5, 5, 10, -6], ["3.5", "2.66667", "2", "-2.2"]),
        prorated=True,
    )
    assert [(line["from_value"], line["flat_unit_amount"]) for line in result.breakdown] == [
        (D(0), D(100)),
        (D(6), D(50)),
    ]


def test_prorated_graduated_needs_matching_event_lists():
    usage = Usage(units=D(1), full_units=D(1), event_values=(D(1),), event_prorated_values=())
    with pytest.raises(PricingError, match="event_prorated_values"):
        price("graduated", TWO_TIERS, usage, prorated=True)


def test_prorated_volume_picks_the_tier_with_full_units():
    properties = {
        "volume_ranges": [
            {"from_value": 0, "to_value": 100, "per_unit_amount": "2", "flat_amount": "10"},
            {"from_value": 101, "to_value": None, "per_unit_amount": "1", "flat_amount": "0"},
        ]
    }
    usage = Usage(units=D(75), full_units=D(150))
    result = price("volume", properties, usage, prorated=True)
    assert result.amount == D(75)  # 150 seats → second tier; 75 prorated seat-periods at $1
    assert result.unit_amount == D("0.5")  # Lago divides by the full units
    assert price("volume", properties, usage).amount == D(160)  # not prorated: the tier of 75 units


def test_prorated_volume_spec_third_tier():
    properties = {
        "volume_ranges": [
            {"from_value": 0, "to_value": 100, "per_unit_amount": "2", "flat_amount": "10"},
            {"from_value": 101, "to_value": 200, "per_unit_amount": "1", "flat_amount": "0"},
            {"from_value": 201, "to_value": None, "per_unit_amount": "0.5", "flat_amount": "50"},
        ]
    }
    result = price("volume", properties, Usage(units=D("198.6"), full_units=D(300)), prorated=True)
    assert result.amount == D("149.3")  # 198.6 × 0.5 + 50, the tier of 300 full units
    assert round(result.unit_amount, 2) == D("0.50")


def test_prorated_standard_prices_the_prorated_units():
    # Docs: a $10 seat billed for 22 of 31 days.
    result = price("standard", {"amount": "10"}, Usage(units=D(22) / D(31), full_units=D(1)), prorated=True)
    assert to_cents(result.amount, "USD") == 710


@pytest.mark.parametrize("model", ["package", "percentage", "graduated_percentage", "dynamic"])
def test_other_models_cannot_be_prorated(model):
    with pytest.raises(PricingError, match="cannot be prorated"):
        price(model, {}, Usage(units=D(1)), prorated=True)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(min_value=-20, max_value=40), st.integers(min_value=0, max_value=30)),
        max_size=8,
    )
)
def test_prorated_graduated_is_never_negative_and_lines_add_up(events):
    """Random seat changes over a 30-day period: each event's prorated units are its full units
    × (days left) / 30."""
    full = [D(change) for change, _ in events]
    prorated = [D(change) * D(days) / D(30) for change, days in events]
    usage = Usage(
        units=sum(prorated, D(0)),
        full_units=sum(full, D(0)),
        events_count=len(full),
        event_values=tuple(full),
        event_prorated_values=tuple(prorated),
    )
    result = price("graduated", THREE_TIERS, usage, prorated=True)
    assert result.amount >= 0
    with localcontext() as ctx:
        ctx.prec = 200  # the lines carry up to 50 significant digits each
        assert sum((line["amount"] for line in result.breakdown), D(0)) == result.amount
