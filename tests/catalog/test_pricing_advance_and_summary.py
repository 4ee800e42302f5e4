"""Pay-in-advance event pricing and the admin's one-line summaries."""

from __future__ import annotations

import itertools
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing_project.core.money import to_cents
from catalog.pricing import PricingError, Usage, describe_properties, price, price_in_advance

GRADUATED = {
    "graduated_ranges": [
        {"from_value": 0, "to_value": 10, "per_unit_amount": "10", "flat_amount": "2"},
        {"from_value": 11, "to_value": 20, "per_unit_amount": "5", "flat_amount": "3"},
        {"from_value": 21, "to_value": None, "per_unit_amount": "5", "flat_amount": "3"},
    ]
}


def u(units, values=None, precise=None):
    values = tuple(D(str(v)) for v in (values or ()))
    return Usage(
        units=D(str(units)),
        events_count=len(values),
        event_values=values,
        precise_total_amount_cents=None if precise is None else D(str(precise)),
    )


def test_standard_in_advance_charges_the_event_units():
    result = price_in_advance("standard", {"amount": "5"}, before=u(3), after=u(5))
    assert result.amount == D(10)
    assert result.units == D(2)
    assert result.unit_amount == D(5)


def test_graduated_first_event_pays_the_first_flat_fee():
    first = price_in_advance("graduated", GRADUATED, before=u(0), after=u(1))
    assert first.amount == D(12)  # 1 × 10 + the flat fee of 2, due with the first event
    second = price_in_advance("graduated", GRADUATED, before=u(1), after=u(2))
    assert second.amount == D(10)
    crossing = price_in_advance("graduated", GRADUATED, before=u(10), after=u(12))
    assert crossing.amount == D(13)  # two units at 5 and the second tier's flat fee of 3
    total = first.amount + second.amount + price_in_advance("graduated", GRADUATED, before=u(2), after=u(21)).amount
    assert total == price("graduated", GRADUATED, u(21)).amount


def test_graduated_percentage_docs_transactions():
    properties = {
        "graduated_percentage_ranges": [
            {"from_value": 0, "to_value": 1000, "rate": "1", "flat_amount": "200"},
            {"from_value": 1001, "to_value": 10000, "rate": "2", "flat_amount": "300"},
            {"from_value": 10001, "to_value": None, "rate": "3", "flat_amount": "400"},
        ]
    }
    totals = [0, 500, 1050, 5050]
    fees = [
        to_cents(price_in_advance("graduated_percentage", properties, before=u(a), after=u(b)).amount, "USD")
        for a, b in itertools.pairwise(totals)
    ]
    assert fees == [20500, 30600, 8000]


def test_percentage_docs_fourth_event_is_charged():
    properties = {
        "rate": "1.2",
        "fixed_amount": "0.10",
        "free_units_per_events": 3,
        "free_units_per_total_aggregation": "500",
    }
    events = [200, 100, 100, 50]
    fees = [
        price_in_advance(
            "percentage",
            properties,
            before=u(sum(events[:i]), events[:i]),
            after=u(sum(events[: i + 1]), events[: i + 1]),
        ).amount
        for i in range(4)
    ]
    assert fees == [0, 0, 0, D("0.70")]


def test_percentage_min_max_in_advance_prices_each_event():
    properties = {"rate": "2.99", "per_transaction_min_amount": "1.75", "per_transaction_max_amount": "12"}
    events = [10, 80, 10000]
    fees = [
        price_in_advance(
            "percentage",
            properties,
            before=u(sum(events[:i]), events[:i]),
            after=u(sum(events[: i + 1]), events[: i + 1]),
        ).amount
        for i in range(3)
    ]
    assert fees == [D("1.75"), D("2.392"), D("12")]


def test_dynamic_in_advance():
    result = price_in_advance("dynamic", {}, before=u(1, precise="70"), after=u(2, precise="125"), currency="USD")
    assert result.amount == D("0.55")


def test_in_advance_never_refunds_and_refuses_volume():
    result = price_in_advance("standard", {"amount": "5"}, before=u(5), after=u(3))
    assert result.amount == 0
    assert sum(line["amount"] for line in result.breakdown) == 0
    with pytest.raises(PricingError, match="volume"):
        price_in_advance("volume", {"volume_ranges": []}, before=u(0), after=u(1))


GRADUATED_PERCENTAGE = {
    "graduated_percentage_ranges": [
        {"from_value": 0, "to_value": 10, "rate": "1", "flat_amount": "200"},
        {"from_value": 11, "to_value": 20, "rate": "2", "flat_amount": "300"},
        {"from_value": 21, "to_value": None, "rate": "3", "flat_amount": "400"},
    ]
}


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from([("graduated", GRADUATED), ("graduated_percentage", GRADUATED_PERCENTAGE)]),
    st.lists(st.integers(min_value=0, max_value=30), min_size=1, max_size=10),
)
def test_in_advance_fees_add_up_to_the_period_price(model, steps):
    """For a graduated (percentage) charge the events' fees add up to the arrears price of the
    period's usage once it is above 0 (no event pays the first flat fee while the usage stays 0)."""
    charge_model, properties = model
    total, fees = D(0), D(0)
    for step in steps:
        fees += price_in_advance(charge_model, properties, before=u(total), after=u(total + step)).amount
        total += step
    expected = price(charge_model, properties, u(total)).amount if total else D(0)
    assert fees == expected


# --- summaries ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "properties", "currency", "text"),
    [
        ("standard", {"amount": "0.050"}, "USD", "0.05 USD/unit"),
        ("standard", {"amount": "5", "pricing_group_keys": ["country"]}, None, "5/unit, priced per country"),
        (
            "graduated",
            GRADUATED,
            "USD",
            "0–10: 10 USD/unit + 2 USD flat · 11–20: 5 USD/unit + 3 USD flat · 21 and above: 5 USD/unit + 3 USD flat",
        ),
        (
            "volume",
            {
                "volume_ranges": [
                    {"from_value": 0, "to_value": 100, "per_unit_amount": "2", "flat_amount": "0"},
                    {"from_value": 101, "to_value": None, "per_unit_amount": "1.5", "flat_amount": "0"},
                ]
            },
            None,
            "volume — 0–100: 2/unit · 101 and above: 1.5/unit",
        ),
        ("package", {"amount": "100", "package_size": 10, "free_units": 0}, "EUR", "100 EUR per 10 units"),
        ("package", {"amount": "5", "package_size": 100, "free_units": 100}, None, "5 per 100 units, first 100 free"),
        (
            "percentage",
            {
                "rate": "1.2",
                "fixed_amount": "0.10",
                "free_units_per_events": 3,
                "free_units_per_total_aggregation": "500",
                "per_transaction_min_amount": "1.75",
                "per_transaction_max_amount": "12",
            },
            "USD",
            "1.2% + 0.1 USD/transaction, first 3 events free, first 500 units free, "
            "min 1.75 USD/transaction, max 12 USD/transaction",
        ),
        (
            "graduated_percentage",
            {
                "graduated_percentage_ranges": [
                    {"from_value": 0, "to_value": 100, "rate": "5", "flat_amount": "0"},
                    {"from_value": 101, "to_value": None, "rate": "2", "flat_amount": "10"},
                ]
            },
            "USD",
            "0–100: 5% · 101 and above: 2% + 10 USD flat",
        ),
        ("dynamic", {}, "USD", "each event's own amount"),
        ("standard", {"amount": "-1"}, "USD", "standard: invalid properties"),
        ("custom", {}, None, "custom: invalid properties"),
    ],
)
def test_describe_properties(model, properties, currency, text):
    assert describe_properties(model, properties, currency) == text


def test_graduated_percentage_first_event_pays_the_first_flat_fee_once():
    """The arrears price at 0 units holds the first flat fee; in advance the first event pays it,
    events that leave the usage at 0 cost nothing, and the fees add up to the arrears price."""
    properties = {
        "graduated_percentage_ranges": [
            {"from_value": 0, "to_value": 1000, "rate": "1", "flat_amount": "200"},
            {"from_value": 1001, "to_value": None, "rate": "2", "flat_amount": "300"},
        ]
    }
    assert price("graduated_percentage", properties, u(0)).amount == D(200)
    assert price_in_advance("graduated_percentage", properties, before=u(0), after=u(0)).amount == 0
    first = price_in_advance("graduated_percentage", properties, before=u(0), after=u(500))
    assert first.amount == D(205)  # 500 × 1 % + the first flat fee
    second = price_in_advance("graduated_percentage", properties, before=u(500), after=u(1050))
    assert second.amount == D("306.00")  # 500 × 1 % + 50 × 2 % + the second flat fee
    assert first.amount + second.amount == price("graduated_percentage", properties, u(1050)).amount


def test_graduated_zero_unit_events_cost_nothing_in_advance():
    assert price_in_advance("graduated", GRADUATED, before=u(0), after=u(0)).amount == 0
    assert price_in_advance("graduated", GRADUATED, before=u(0), after=u("0.5")).amount == D(7)
