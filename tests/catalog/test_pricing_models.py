"""Every worked example of docs/billing-semantics.md §1–§2, with Lago's own numbers.

Pure tests: the engine touches no database.
"""

from __future__ import annotations

import itertools
from decimal import Decimal as D

import pytest

from billing_project.core.money import to_cents
from catalog.pricing import PricingError, Usage, price, price_in_advance


def usage(units, events_count=0, values=(), precise=None) -> Usage:
    return Usage(
        units=D(str(units)),
        events_count=events_count,
        event_values=tuple(D(str(v)) for v in values),
        precise_total_amount_cents=None if precise is None else D(str(precise)),
    )


def amount_of(model, properties, u, **kwargs) -> D:
    return price(model, properties, u, **kwargs).amount


# --- 2.1 standard ------------------------------------------------------------------------------


def test_standard_docs_five_cents_per_call():
    assert amount_of("standard", {"amount": "0.05"}, usage(1000)) == D("50")


def test_standard_spec_count_metric_five_dollars_three_events():
    result = price("standard", {"amount": "5"}, usage(3, events_count=3))
    assert to_cents(result.amount, "USD") == 1500
    assert result.unit_amount == D("5")
    assert result.breakdown == ({"units": D(3), "per_unit_amount": D(5), "amount": D(15)},)


def test_standard_spec_unit_amount():
    result = price("standard", {"amount": "5.12345"}, usage(10))
    assert result.amount == D("51.2345")
    assert result.unit_amount == D("5.12345")
    prorated = price("standard", {"amount": "5.12345"}, Usage(units=D(10), full_units=D(100)), prorated=True)
    assert prorated.unit_amount == D("0.512345")  # divided by the full units


def test_standard_zero_units_is_zero():
    result = price("standard", {"amount": "5"}, usage(0))
    assert result.amount == 0
    assert result.unit_amount == 0


# --- 2.2 graduated -----------------------------------------------------------------------------

GRADUATED = {
    "graduated_ranges": [
        {"from_value": 0, "to_value": 10, "per_unit_amount": "10", "flat_amount": "2"},
        {"from_value": 11, "to_value": 20, "per_unit_amount": "5", "flat_amount": "3"},
        {"from_value": 21, "to_value": None, "per_unit_amount": "5", "flat_amount": "3"},
    ]
}


@pytest.mark.parametrize(
    ("units", "expected"),
    [(0, "2"), (1, "12"), (10, "102"), (11, "110"), (12, "115"), (21, "163")],
)
def test_graduated_spec_table(units, expected):
    assert amount_of("graduated", GRADUATED, usage(units)) == D(expected)


def test_graduated_zero_units_charges_first_flat_fee_only():
    result = price("graduated", GRADUATED, usage(0))
    assert result.unit_amount == 0
    assert result.breakdown == (
        {
            "from_value": D(0),
            "to_value": D(10),
            "units": D(0),
            "per_unit_amount": D(10),
            "flat_unit_amount": D(2),
            "per_unit_total_amount": D(0),
            "amount": D(2),
        },
    )


def test_graduated_breakdown_at_21_units():
    result = price("graduated", GRADUATED, usage(21))
    assert [(line["units"], line["per_unit_total_amount"], line["flat_unit_amount"]) for line in result.breakdown] == [
        (D(10), D(100), D(2)),
        (D(10), D(50), D(3)),
        (D(1), D(5), D(3)),
    ]
    assert round(result.unit_amount, 2) == D("7.76")


def test_graduated_unit_amount_at_12_units():
    assert round(price("graduated", GRADUATED, usage(12)).unit_amount, 5) == D("9.58333")


def test_graduated_first_tier_flat_zero_gives_zero_at_zero_units():
    properties = {
        "graduated_ranges": [
            {"from_value": 0, "to_value": 1, "per_unit_amount": "0", "flat_amount": "0"},
            {"from_value": 2, "to_value": 10, "per_unit_amount": "10", "flat_amount": "2"},
            {"from_value": 11, "to_value": None, "per_unit_amount": "5", "flat_amount": "3"},
        ]
    }
    assert amount_of("graduated", properties, usage(0)) == 0


ADJACENT = {
    "graduated_ranges": [
        {"from_value": 0, "to_value": D("0.1"), "per_unit_amount": "10", "flat_amount": "0"},
        {"from_value": D("0.1"), "to_value": 1, "per_unit_amount": "5", "flat_amount": "0"},
        {"from_value": 1, "to_value": None, "per_unit_amount": "2", "flat_amount": "0"},
    ]
}


def test_graduated_adjacent_decimal_ranges():
    assert amount_of("graduated", ADJACENT, usage("0.5")) == D("3.0")
    assert amount_of("graduated", ADJACENT, usage("0.05")) == D("0.5")
    result = price("graduated", ADJACENT, usage("0.5"))
    assert [line["units"] for line in result.breakdown] == [D("0.1"), D("0.4")]


def test_graduated_adjacent_ranges_stored_as_floats_price_the_same():
    # A JSON column gives the bounds back as floats; the engine reads their exact decimal text.
    stored = {
        "graduated_ranges": [
            {"from_value": 0, "to_value": 0.1, "per_unit_amount": "10", "flat_amount": "0"},
            {"from_value": 0.1, "to_value": 1, "per_unit_amount": "5", "flat_amount": "0"},
            {"from_value": 1, "to_value": None, "per_unit_amount": "2", "flat_amount": "0"},
        ]
    }
    assert amount_of("graduated", stored, usage("0.5")) == D("3.0")
    assert amount_of("graduated", stored, usage("3")) == D("1.0") + D("4.5") + D("4")


def test_graduated_docs_example():
    properties = {
        "graduated_ranges": [
            {"from_value": 0, "to_value": 100, "per_unit_amount": "1", "flat_amount": "0"},
            {"from_value": 101, "to_value": 200, "per_unit_amount": "0.50", "flat_amount": "0"},
            {"from_value": 201, "to_value": None, "per_unit_amount": "0.10", "flat_amount": "0"},
        ]
    }
    assert amount_of("graduated", properties, usage(100)) == D("100")
    assert amount_of("graduated", properties, usage(200)) == D("150")
    assert amount_of("graduated", properties, usage(250)) == D("155")


# --- 2.3 volume --------------------------------------------------------------------------------

VOLUME = {
    "volume_ranges": [
        {"from_value": 0, "to_value": 100, "per_unit_amount": "2", "flat_amount": "10"},
        {"from_value": 101, "to_value": 200, "per_unit_amount": "1", "flat_amount": "0"},
        {"from_value": 201, "to_value": None, "per_unit_amount": "0.5", "flat_amount": "50"},
    ]
}


@pytest.mark.parametrize(
    ("units", "expected", "unit_amount"),
    [
        ("0", "10", "0"),
        ("1", "12", "12"),
        ("100", "210", "2.1"),
        ("100.5", "100.5", "1"),
        ("101", "101", "1"),
        ("200", "200", "1"),
        ("300", "200", "0.67"),
    ],
)
def test_volume_spec_table(units, expected, unit_amount):
    result = price("volume", VOLUME, usage(units))
    assert result.amount == D(expected)
    assert round(result.unit_amount, 2) == D(unit_amount)


def test_volume_spec_first_tier_flat_zero_gives_zero_at_zero_units():
    properties = {
        "volume_ranges": [
            {"from_value": 0, "to_value": 1, "per_unit_amount": "0", "flat_amount": "0"},
            {"from_value": 2, "to_value": 100, "per_unit_amount": "2", "flat_amount": "10"},
            {"from_value": 101, "to_value": None, "per_unit_amount": "0.5", "flat_amount": "50"},
        ]
    }
    assert amount_of("volume", properties, usage(0)) == 0


def test_volume_breakdown_names_the_tier():
    (line,) = price("volume", VOLUME, usage("100.5")).breakdown
    assert (line["from_value"], line["to_value"], line["flat_unit_amount"]) == (D(101), D(200), D(0))


def test_volume_docs_65000_calls():
    properties = {
        "volume_ranges": [
            {"from_value": 0, "to_value": 50000, "per_unit_amount": "0.001", "flat_amount": "0"},
            {"from_value": 50001, "to_value": 100000, "per_unit_amount": "0.0006", "flat_amount": "10"},
            {"from_value": 100001, "to_value": None, "per_unit_amount": "0.0004", "flat_amount": "20"},
        ]
    }
    assert amount_of("volume", properties, usage(65000)) == D("49")


def test_volume_adjacent_ranges():
    properties = {
        "volume_ranges": [
            {"from_value": 0, "to_value": 100, "per_unit_amount": "2", "flat_amount": "0"},
            {"from_value": 100, "to_value": None, "per_unit_amount": "1", "flat_amount": "0"},
        ]
    }
    assert amount_of("volume", properties, usage(100)) == D("200")
    assert amount_of("volume", properties, usage("100.5")) == D("100.5")


# --- 2.4 package -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("free_units", "expected"),
    [(0, "1300"), (10, "1200"), (200, "0")],
)
def test_package_spec(free_units, expected):
    properties = {"amount": "100", "package_size": 10, "free_units": free_units}
    assert amount_of("package", properties, usage(121)) == D(expected)


@pytest.mark.parametrize(("free_units", "unit_amount"), [(0, "10.74"), (10, "10.81"), (200, "0")])
def test_package_spec_unit_amount_is_per_paid_unit(free_units, unit_amount):
    properties = {"amount": "100", "package_size": 10, "free_units": free_units}
    assert round(price("package", properties, usage(121)).unit_amount, 2) == D(unit_amount)


def test_package_breakdown():
    (line,) = price("package", {"amount": "100", "package_size": 10, "free_units": 10}, usage(121)).breakdown
    assert line["paid_units"] == D(111)
    assert line["packages"] == D(12)


def test_package_docs_five_dollars_per_hundred_first_hundred_free():
    properties = {"amount": "5", "package_size": 100, "free_units": 100}
    assert amount_of("package", properties, usage(201)) == D("10")
    assert amount_of("package", properties, usage(100)) == D("0")
    assert amount_of("package", properties, usage(101)) == D("5")


def test_package_exact_multiple_and_fractional_units():
    properties = {"amount": "3", "package_size": 10, "free_units": 0}
    assert amount_of("package", properties, usage(20)) == D("6")
    assert amount_of("package", properties, usage("20.01")) == D("9")
    assert amount_of("package", properties, usage(0)) == D("0")


# --- 2.5 percentage ----------------------------------------------------------------------------


def test_percentage_docs_free_events_and_fixed_fee():
    properties = {
        "rate": "1.2",
        "fixed_amount": "0.10",
        "free_units_per_events": 3,
        "free_units_per_total_aggregation": "500",
    }
    u = usage(450, events_count=4, values=[200, 100, 100, 50])
    result = price("percentage", properties, u)
    assert result.amount == D("0.70")
    (line,) = result.breakdown
    assert (line["free_units"], line["free_events"], line["paid_events"]) == (D(400), 3, 1)


SPEC_EVENTS = {"events_count": 4, "values": [50, 100, 250, 400]}  # running total [50, 150, 400], 800 units


def spec_properties(**overrides):
    properties = {
        "rate": "1.3",
        "fixed_amount": "2.0",
        "free_units_per_events": 3,
        "free_units_per_total_aggregation": "250.0",
    }
    properties.update(overrides)
    return {k: v for k, v in properties.items() if v is not None}


def test_percentage_spec_free_events_and_free_amount():
    result = price("percentage", spec_properties(), usage(800, **SPEC_EVENTS))
    assert result.amount == D("11.15")
    assert result.unit_amount == D("0.0139375")
    (line,) = result.breakdown
    assert line["free_units"] == D("250.0")
    assert line["paid_units"] == D("550.0")
    assert line["per_unit_total_amount"] == D("7.15")
    assert (line["free_events"], line["paid_events"]) == (2, 2)
    assert line["fixed_fee_total_amount"] == D("4.0")


def test_percentage_spec_without_free_units_per_events():
    assert amount_of("percentage", spec_properties(free_units_per_events=None), usage(800, **SPEC_EVENTS)) == D("11.15")


def test_percentage_spec_without_free_amount():
    result = price("percentage", spec_properties(free_units_per_total_aggregation=None), usage(800, **SPEC_EVENTS))
    assert result.amount == D("7.2")
    assert result.unit_amount == D("0.009")
    (line,) = result.breakdown
    assert (line["free_units"], line["free_events"]) == (D(400), 3)


def test_percentage_spec_free_amount_above_last_running_total():
    properties = spec_properties(free_units_per_total_aggregation="500.0")
    assert amount_of("percentage", properties, usage(800, **SPEC_EVENTS)) == D("7.2")


def test_percentage_spec_no_free_units():
    properties = spec_properties(free_units_per_events=None, free_units_per_total_aggregation=None)
    result = price("percentage", properties, usage(800, **SPEC_EVENTS))
    assert result.amount == D("18.4")
    assert result.unit_amount == D("0.023")


def test_percentage_spec_rate_zero():
    properties = spec_properties(rate="0", free_units_per_events=None, free_units_per_total_aggregation=None)
    result = price("percentage", properties, usage(800, **SPEC_EVENTS))
    assert result.amount == D("8")
    assert result.unit_amount == D("0.01")


def test_percentage_spec_small_units():
    result = price("percentage", {"rate": "2.9"}, usage(4, events_count=4))
    assert result.amount == D("0.116")
    assert result.unit_amount == D("0.029")


def test_percentage_spec_zero_units():
    result = price("percentage", spec_properties(), usage(0, events_count=0))
    assert result.amount == 0


def test_percentage_spec_more_free_events_than_events():
    properties = spec_properties(free_units_per_events=5, free_units_per_total_aggregation=None)
    assert amount_of("percentage", properties, usage(400, events_count=3, values=[50, 100, 250])) == 0


MIN_MAX_EVENTS = {"events_count": 3, "values": [10, 80, 10000]}


def min_max_properties(**overrides):
    properties = {
        "rate": "2.99",
        "fixed_amount": "0",
        "free_units_per_total_aggregation": "0",
        "per_transaction_min_amount": "1.75",
        "per_transaction_max_amount": "12",
    }
    properties.update(overrides)
    return {k: v for k, v in properties.items() if v is not None}


def test_percentage_spec_per_transaction_min_max():
    result = price("percentage", min_max_properties(), usage(10090, **MIN_MAX_EVENTS))
    assert result.amount == D("16.142")
    assert [line["amount"] for line in result.breakdown] == [D("1.75"), D("2.392"), D("12")]
    assert result.breakdown[0]["min_max_adjustment"] == D("1.75") - D("0.299")


def test_percentage_spec_without_min_max_is_plain_rate():
    properties = min_max_properties(per_transaction_min_amount=None, per_transaction_max_amount=None)
    assert amount_of("percentage", properties, usage(10090, **MIN_MAX_EVENTS)) == D("301.691")


def test_percentage_spec_min_max_with_fixed_amount():
    assert amount_of("percentage", min_max_properties(fixed_amount="2.0"), usage(10090, **MIN_MAX_EVENTS)) == D(
        "18.691"
    )


def test_percentage_spec_min_max_with_free_events():
    assert amount_of("percentage", min_max_properties(free_units_per_events=2), usage(10090, **MIN_MAX_EVENTS)) == D(
        "12"
    )


def test_percentage_spec_min_max_with_free_amount():
    properties = min_max_properties(free_units_per_total_aggregation="30")
    result = price("percentage", properties, usage(10090, **MIN_MAX_EVENTS))
    assert result.amount == D("13.794")
    assert [line["free_units"] for line in result.breakdown] == [D(10), D(20), D(0)]


def test_percentage_spec_min_max_with_free_events_and_free_amount():
    properties = min_max_properties(free_units_per_events=3, free_units_per_total_aggregation="10000")
    assert amount_of("percentage", properties, usage(10090, **MIN_MAX_EVENTS)) == D("2.691")


def test_percentage_scenario_with_fixed_fee_and_three_free_events():
    properties = {"rate": "1", "fixed_amount": "5", "free_units_per_events": 3}
    result = price("percentage", properties, usage(40, events_count=4, values=[10, 10, 10, 10]))
    cents = to_cents(result.amount, "USD")
    assert cents == 510
    # With a 20 % organization tax the invoice total is 612 (the tax is invoicing's job; the rule
    # is integer cents in, rounded once).
    assert cents + to_cents(D(cents) * D("0.20") / 100, "USD") == 612


def test_percentage_needs_event_values_for_free_units():
    with pytest.raises(PricingError, match="event_values"):
        price("percentage", {"rate": "1", "free_units_per_events": 3}, usage(40, events_count=4))


def test_percentage_needs_event_values_for_min_max():
    with pytest.raises(PricingError, match="event_values"):
        price("percentage", {"rate": "1", "per_transaction_min_amount": "1"}, usage(40, events_count=4))


# --- 2.6 graduated percentage ------------------------------------------------------------------

GRADUATED_PERCENTAGE_SCENARIO = {
    "graduated_percentage_ranges": [
        {"from_value": 0, "to_value": 100, "rate": "5", "flat_amount": "0"},
        {"from_value": 101, "to_value": None, "rate": "2", "flat_amount": "10"},
    ]
}


def test_graduated_percentage_scenario():
    assert to_cents(amount_of("graduated_percentage", GRADUATED_PERCENTAGE_SCENARIO, usage(50)), "USD") == 250
    assert amount_of("graduated_percentage", GRADUATED_PERCENTAGE_SCENARIO, usage(150)) == D("16.00")


GRADUATED_PERCENTAGE_SPEC = {
    "graduated_percentage_ranges": [
        {"from_value": 0, "to_value": 10, "rate": "1", "flat_amount": "200"},
        {"from_value": 11, "to_value": 20, "rate": "2", "flat_amount": "300"},
        {"from_value": 21, "to_value": None, "rate": "3", "flat_amount": "400"},
    ]
}


@pytest.mark.parametrize(
    ("units", "expected", "unit_amount"),
    [
        (0, "200", "0"),  # the first tier's flat fee is due at zero usage (as graduated, volume)
        (1, "200.01", "200.01"),
        (10, "200.1", "20.01"),
        (11, "500.12", "45.47"),
        (12, "500.14", "41.68"),
        (21, "900.33", "42.87"),
    ],
)
def test_graduated_percentage_spec_table(units, expected, unit_amount):
    result = price("graduated_percentage", GRADUATED_PERCENTAGE_SPEC, usage(units))
    assert result.amount == D(expected)
    assert round(result.unit_amount, 2) == D(unit_amount)


def test_graduated_percentage_zero_units_charges_first_flat_fee_only():
    result = price("graduated_percentage", GRADUATED_PERCENTAGE_SPEC, usage(0))
    assert result.amount == D(200)
    assert result.unit_amount == 0
    assert result.breakdown == (
        {
            "from_value": D(0),
            "to_value": D(10),
            "units": D(0),
            "rate": D(1),
            "flat_unit_amount": D(200),
            "per_unit_total_amount": D(0),
            "amount": D(200),
        },
    )


def test_graduated_percentage_first_tier_flat_zero_gives_zero_at_zero_units():
    assert amount_of("graduated_percentage", GRADUATED_PERCENTAGE_SCENARIO, usage(0)) == 0


def test_graduated_percentage_negative_total_prices_nothing():
    assert amount_of("graduated_percentage", GRADUATED_PERCENTAGE_SPEC, usage(-5)) == 0


def test_graduated_percentage_docs_transactions_in_advance():
    properties = {
        "graduated_percentage_ranges": [
            {"from_value": 0, "to_value": 1000, "rate": "1", "flat_amount": "200"},
            {"from_value": 1001, "to_value": 10000, "rate": "2", "flat_amount": "300"},
            {"from_value": 10001, "to_value": None, "rate": "3", "flat_amount": "400"},
        ]
    }
    # Pay in advance: each transaction costs price(after) - price(before), where the "before" price
    # at 0 units leaves out the first flat fee (due at 0 units in arrears), so the first event pays it.
    totals = [D(0), D(500), D(1050), D(5050)]
    charged = [
        price_in_advance("graduated_percentage", properties, before=usage(before), after=usage(after)).amount
        for before, after in itertools.pairwise(totals)
    ]
    assert charged == [D("205.00"), D("306.00"), D("80.00")]


# --- 2.7 dynamic and §1 rounding ---------------------------------------------------------------


def test_dynamic_rounding_example_from_section_1():
    first = price("dynamic", {}, usage(1, events_count=1, precise="10.1"), currency="USD")
    assert first.amount == D("0.101")
    assert to_cents(first.amount, "USD") == 10
    second = price("dynamic", {}, usage(2, events_count=2, precise=D("10.1") + D("901.9")), currency="USD")
    assert second.amount == D("9.120")
    assert to_cents(second.amount, "USD") == 912


def test_dynamic_spec():
    result = price("dynamic", {}, usage(20, precise="40.2"), currency="EUR")
    assert result.amount == D("0.402")
    assert result.unit_amount == D("0.0201")
    zero = price("dynamic", {}, usage(0, precise="40.2"), currency="EUR")
    assert (zero.amount, zero.unit_amount) == (0, 0)


def test_dynamic_docs_three_events():
    result = price("dynamic", {}, usage(3, events_count=3, precise=70 + 55 + 220), currency="USD")
    assert result.amount == D("3.45")


def test_dynamic_zero_units_is_zero_even_without_currency():
    assert price("dynamic", {}, usage(0)).amount == 0


def test_dynamic_uses_the_currency_exponent():
    assert price("dynamic", {}, usage(1, precise="1234"), currency="JPY").amount == D("1234")
    assert price("dynamic", {}, usage(1, precise="1234"), currency="KWD").amount == D("1.234")


def test_dynamic_refuses_missing_currency_or_amounts():
    with pytest.raises(PricingError, match="currency"):
        price("dynamic", {}, usage(1, precise="10"))
    with pytest.raises(PricingError, match="precise_total_amount_cents"):
        price("dynamic", {}, usage(1), currency="USD")
    with pytest.raises(PricingError, match="currency"):
        price("dynamic", {}, usage(1, precise="10"), currency="XXX")


# --- engine guards -----------------------------------------------------------------------------


def test_price_refuses_unknown_model_and_invalid_properties():
    with pytest.raises(PricingError, match="unknown charge model"):
        price("custom", {}, usage(1))
    with pytest.raises(PricingError, match="invalid_amount"):
        price("standard", {"amount": "-1"}, usage(1))
    with pytest.raises(TypeError):
        price("standard", {"amount": "1"}, 3)  # type: ignore[arg-type]


def test_usage_refuses_floats_and_bad_counts():
    with pytest.raises(TypeError):
        Usage(units=1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Usage(units=D(1), events_count=-1)
    with pytest.raises(TypeError):
        Usage(units=D(1), event_values=(1.0,))  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Usage(units=D("NaN"))


def test_usage_out_of_range_is_a_pricing_error():
    with pytest.raises(PricingError, match="out of the range"):
        price("standard", {"amount": "999999999999999999999999"}, Usage(units=D("1e999990")))


def test_negative_units_price_nothing():
    result = price("standard", {"amount": "3"}, usage(-5))
    assert result.amount == 0
    assert result.units == D(-5)
    assert result.unit_amount == 0
    # Lago's volume spec: "charges nothing as no range applies" (no flat fee either).
    assert price("volume", VOLUME, usage(-5)).amount == 0
    assert price("graduated", GRADUATED, usage(-5)).amount == 0
    assert price("package", {"amount": "1", "package_size": 1, "free_units": 0}, usage("-0.5")).amount == 0


# --- docs/billing-semantics.md §1: cents per currency ------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "cents"),
    [
        ("1234.5", "JPY", 1235),
        ("1234.4", "JPY", 1234),
        ("12.345", "USD", 1235),
        ("12.344", "USD", 1234),
        ("0.005", "USD", 1),
        ("-0.005", "USD", -1),
        ("1.2345", "KWD", 1235),
    ],
)
def test_docs_cents_per_currency(amount, currency, cents):
    assert to_cents(D(amount), currency) == cents


def test_docs_formatted_amounts():
    from billing_project.core.money import format_amount

    assert format_amount(1235, "JPY") == "1,235 JPY"
    assert format_amount(1235, "USD") == "12.35 USD"
    assert format_amount(1235, "KWD") == "1.235 KWD"


def test_filters_spec_each_bucket_is_priced_with_its_own_properties():
    # docs/billing-semantics.md §14 (spec/scenarios/invoices/filters_and_grouped_by_spec.rb): the aws filter at
    # $12 gets 3 events of 10 (grouped by country, one fee each), the default bucket at $10 gets 10.
    aws = [price("standard", {"amount": "12", "pricing_group_keys": ["country"]}, usage(10)) for _ in range(3)]
    default = price("standard", {"amount": "10"}, usage(10))
    assert sum(to_cents(r.amount, "USD") for r in [*aws, default]) == 46000
