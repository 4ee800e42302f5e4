"""Charge properties: Lago's FilterProperties and validators, the rules of docs/billing-semantics.md §2.12, metric rounding and
the spending minimum."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from catalog.pricing import (
    CHARGE_MODELS,
    apply_metric_rounding,
    filter_properties,
    flatten_errors,
    spending_minimum_true_up_cents,
    validate_charge_model_for_metric,
    validate_metric_recurring,
    validate_properties,
)


def ranges(*bounds, amounts=("1", "0"), keys=("per_unit_amount", "flat_amount")):
    return [{"from_value": low, "to_value": high, keys[0]: amounts[0], keys[1]: amounts[1]} for low, high in bounds]


def test_charge_models():
    assert CHARGE_MODELS == (
        "standard",
        "graduated",
        "volume",
        "package",
        "percentage",
        "graduated_percentage",
        "dynamic",
    )


# --- filter_properties -------------------------------------------------------------------------


def test_filter_keeps_only_the_models_keys():
    properties = {
        "amount": "1",
        "graduated_ranges": [],
        "rate": "2",
        "free_units": 3,
        "package_size": 10,
        "unknown": "x",
    }
    assert filter_properties("standard", properties) == {"amount": "1"}
    assert filter_properties("package", properties) == {"amount": "1", "free_units": 3, "package_size": 10}
    assert filter_properties("percentage", properties) == {"rate": "2"}
    assert filter_properties("graduated", properties) == {"graduated_ranges": []}
    assert filter_properties("dynamic", properties) == {}
    assert filter_properties("nope", properties) == {}
    assert filter_properties("standard", None) == {}


def test_filter_normalizes_exact_numbers_to_decimal_strings():
    assert filter_properties("standard", {"amount": D("0.050")}) == {"amount": "0.050"}
    assert filter_properties("standard", {"amount": 12}) == {"amount": "12"}
    assert filter_properties("standard", {"amount": D("1E+2")}) == {"amount": "100"}
    assert filter_properties("standard", {"amount": " 0.5 "}) == {"amount": " 0.5 "}  # strings kept as sent
    assert filter_properties("package", {"amount": "1", "package_size": D("10"), "free_units": D("0")}) == {
        "amount": "1",
        "package_size": 10,
        "free_units": 0,
    }
    # An invalid value is kept so that validation reports it.
    assert filter_properties("standard", {"amount": 0.5}) == {"amount": 0.5}
    assert filter_properties("package", {"package_size": D("2.5")}) == {"package_size": D("2.5")}


def test_filter_normalizes_range_rows():
    properties = {
        "graduated_ranges": [
            {"from_value": 0, "to_value": D("0.1"), "per_unit_amount": D("10"), "flat_amount": 0, "extra": 1},
            {"from_value": D("0.1"), "to_value": None, "per_unit_amount": "5", "flat_amount": "0"},
        ]
    }
    assert filter_properties("graduated", properties) == {
        "graduated_ranges": [
            {"from_value": 0, "to_value": 0.1, "per_unit_amount": "10", "flat_amount": "0"},
            {"from_value": 0.1, "to_value": None, "per_unit_amount": "5", "flat_amount": "0"},
        ]
    }
    assert filter_properties(
        "graduated_percentage", {"graduated_percentage_ranges": [{"from_value": D("0"), "rate": D("1.5")}]}
    ) == {"graduated_percentage_ranges": [{"from_value": 0, "rate": "1.5"}]}


def test_filter_keeps_group_keys_and_renames_grouped_by():
    assert filter_properties("standard", {"amount": "1", "grouped_by": ["country", ""]}) == {
        "amount": "1",
        "pricing_group_keys": ["country"],
    }
    assert filter_properties("dynamic", {"pricing_group_keys": ["a"], "grouped_by": ["b"]}) == {
        "pricing_group_keys": ["a"]
    }
    assert filter_properties("standard", {"amount": "1", "presentation_group_keys": [{"value": "x"}]}) == {
        "amount": "1",
        "presentation_group_keys": [{"value": "x"}],
    }


# --- validate_properties -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "properties", "errors"),
    [
        ("standard", {"amount": "0.05"}, {}),
        ("standard", {"amount": "0"}, {}),
        ("standard", {"amount": D("0.05")}, {}),
        ("standard", {"amount": 5}, {}),
        ("standard", {}, {"amount": ["invalid_amount"]}),
        ("standard", {"amount": "-1"}, {"amount": ["invalid_amount"]}),
        ("standard", {"amount": "abc"}, {"amount": ["invalid_amount"]}),
        ("standard", {"amount": "NaN"}, {"amount": ["invalid_amount"]}),
        ("standard", {"amount": "Infinity"}, {"amount": ["invalid_amount"]}),
        ("standard", {"amount": 0.05}, {"amount": ["invalid_amount"]}),  # a float has lost exactness
        ("standard", {"amount": True}, {"amount": ["invalid_amount"]}),
        ("standard", {"amount": "1" * 41}, {"amount": ["invalid_amount"]}),
        ("standard", {"amount": "1e24"}, {"amount": ["invalid_amount"]}),
        ("standard", {"amount": "1e999999"}, {"amount": ["invalid_amount"]}),
        ("standard", {"amount": D("1E-31")}, {"amount": ["invalid_amount"]}),
        ("standard", {"amount": 10**24}, {"amount": ["invalid_amount"]}),
        ("standard", {"amount": "999999999999999999999999"}, {}),
        ("standard", {"amount": "0.000000000000000000000000000001"}, {}),
        ("standard", "nope", {"properties": ["invalid_type"]}),
        ("standard", None, {"amount": ["invalid_amount"]}),
        ("custom", {}, {"charge_model": ["value_is_invalid"]}),
        ("package", {"amount": "100", "package_size": 10, "free_units": 0}, {}),
        (
            "package",
            {"amount": "x", "package_size": 0, "free_units": -1},
            {
                "amount": ["invalid_amount"],
                "free_units": ["invalid_free_units"],
                "package_size": ["invalid_package_size"],
            },
        ),
        ("package", {"amount": "1", "package_size": "10", "free_units": 0}, {"package_size": ["invalid_package_size"]}),
        ("package", {"amount": "1", "package_size": 10}, {"free_units": ["invalid_free_units"]}),
        ("package", {"amount": "1", "package_size": True, "free_units": 0}, {"package_size": ["invalid_package_size"]}),
        ("package", {"amount": "1", "package_size": 1.0, "free_units": 0}, {"package_size": ["invalid_package_size"]}),
        ("percentage", {"rate": "1.2"}, {}),
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
            {},
        ),
        ("percentage", {}, {"rate": ["invalid_rate"]}),
        ("percentage", {"rate": "-1"}, {"rate": ["invalid_rate"]}),
        ("percentage", {"rate": "1", "fixed_amount": "-0.1"}, {"fixed_amount": ["invalid_fixed_amount"]}),
        (
            "percentage",
            {"rate": "1", "free_units_per_events": 0},
            {"free_units_per_events": ["invalid_free_units_per_events"]},
        ),
        (
            "percentage",
            {"rate": "1", "free_units_per_events": "3"},
            {"free_units_per_events": ["invalid_free_units_per_events"]},
        ),
        (
            "percentage",
            {"rate": "1", "free_units_per_total_aggregation": "x"},
            {"free_units_per_total_aggregation": ["invalid_free_units_per_total_aggregation"]},
        ),
        (
            "percentage",
            {"rate": "1", "per_transaction_min_amount": "-1"},
            {"per_transaction_min_amount": ["invalid_amount"]},
        ),
        (
            "percentage",
            {"rate": "1", "per_transaction_max_amount": "x"},
            {"per_transaction_max_amount": ["invalid_amount"]},
        ),
        (
            "percentage",
            {"rate": "1", "per_transaction_min_amount": "12", "per_transaction_max_amount": "1.75"},
            {"per_transaction_max_amount": ["per_transaction_max_lower_than_per_transaction_min"]},
        ),
        ("dynamic", {}, {}),
        ("dynamic", {"pricing_group_keys": ["a"]}, {}),
        ("standard", {"amount": "1", "pricing_group_keys": "country"}, {"pricing_group_keys": ["invalid_type"]}),
        ("standard", {"amount": "1", "pricing_group_keys": ["ok", ""]}, {"pricing_group_keys": ["invalid_type"]}),
        ("standard", {"amount": "1", "grouped_by": [1]}, {"grouped_by": ["invalid_type"]}),
        # Invoice presentation breakdowns are not implemented: refused, never stored and ignored.
        (
            "standard",
            {"amount": "1", "presentation_group_keys": [{"value": "a"}]},
            {"presentation_group_keys": ["value_is_not_supported"]},
        ),
        (
            "standard",
            {"amount": "1", "presentation_group_keys": ["x"]},
            {"presentation_group_keys": ["value_is_not_supported"]},
        ),
        ("standard", {"amount": "1", "presentation_group_keys": []}, {}),
        ("standard", {"amount": "1", "presentation_group_keys": None}, {}),
    ],
)
def test_validate_properties(model, properties, errors):
    assert validate_properties(model, properties) == errors


@pytest.mark.parametrize(
    "bounds",
    [
        [(0, None)],
        [(0, 10), (11, 20), (21, None)],  # inclusive
        [(0, 10), (10, 20), (20, None)],  # adjacent
        [(0, D("0.1")), (D("0.1"), 1), (1, None)],  # adjacent decimals
        [(0, 0.1), (0.1, 1), (1, None)],  # as read back from a JSON column
    ],
)
@pytest.mark.parametrize("model", ["graduated", "volume"])
def test_valid_range_tables(model, bounds):
    assert validate_properties(model, {f"{model}_ranges": ranges(*bounds)}) == {}


@pytest.mark.parametrize(
    "bounds",
    [
        [(1, None)],  # must start at 0
        [(0, 10)],  # last must be open
        [(0, None), (1, None)],  # only the last is open
        [(0, 10), (12, None)],  # gap
        [(0, 10), (9, None)],  # overlap
        [(0, 10), (11, 11), (12, None)],  # to must be above from
        [(0, 10), (11, 20), (20, None)],  # inclusive then adjacent
        [("0", None)],  # bounds are numbers
        [(True, None)],
        [(0, D("0.12345678901234567890123")), (D("0.12345678901234567890123"), None)],  # not storable exactly
        [(-1, 0), (0, None)],
        [(0, 10**30), (10**30 + 1, None)],  # out of range
    ],
)
@pytest.mark.parametrize("model", ["graduated", "volume"])
def test_invalid_range_tables(model, bounds):
    assert validate_properties(model, {f"{model}_ranges": ranges(*bounds)}) == {
        f"{model}_ranges": [f"invalid_{model}_ranges"]
    }


def test_range_table_errors():
    assert validate_properties("graduated", {}) == {"graduated_ranges": ["missing_graduated_ranges"]}
    assert validate_properties("volume", {"volume_ranges": []}) == {"volume_ranges": ["missing_volume_ranges"]}
    assert validate_properties("graduated", {"graduated_ranges": "x"}) == {
        "graduated_ranges": ["invalid_graduated_ranges"]
    }
    assert validate_properties("graduated", {"graduated_ranges": [1, 2]}) == {
        "graduated_ranges": ["invalid_graduated_ranges"]
    }
    assert validate_properties("graduated", {"graduated_ranges": ranges(*[(i, i) for i in range(101)])}) == {
        "graduated_ranges": ["invalid_graduated_ranges"]
    }
    assert validate_properties("graduated", {"graduated_ranges": ranges((0, None), amounts=("-1", "x"))}) == {
        "per_unit_amount": ["invalid_amount"],
        "flat_amount": ["invalid_amount"],
    }


def test_graduated_percentage_ranges_are_inclusive_only():
    def table(*bounds, rate="1", flat="0"):
        return {"graduated_percentage_ranges": ranges(*bounds, amounts=(rate, flat), keys=("rate", "flat_amount"))}

    assert validate_properties("graduated_percentage", table((0, 10), (11, None))) == {}
    assert validate_properties("graduated_percentage", table((0, 10), (10, None))) == {
        "graduated_percentage_ranges": ["invalid_graduated_percentage_ranges"]
    }
    assert validate_properties("graduated_percentage", table((0, None), rate="-1", flat="x")) == {
        "rate": ["invalid_rate"],
        "flat_amount": ["invalid_amount"],
    }
    assert validate_properties("graduated_percentage", {}) == {
        "graduated_percentage_ranges": ["missing_graduated_percentage_ranges"]
    }


def test_flatten_errors_gives_lagos_properties_list():
    errors = validate_properties("package", {"amount": "x", "package_size": 0, "free_units": -1})
    assert flatten_errors(errors) == ["invalid_amount", "invalid_free_units", "invalid_package_size"]
    assert flatten_errors({"a": ["x", "y"], "b": ["x"]}) == ["x", "y"]


def test_filtered_properties_of_every_model_validate_after_a_json_round_trip():
    import json

    samples = {
        "standard": {"amount": D("0.05")},
        "graduated": {"graduated_ranges": ranges((0, D("0.5")), (D("0.5"), None), amounts=(D("1.5"), 2))},
        "volume": {"volume_ranges": ranges((0, 100), (101, None))},
        "package": {"amount": 3, "package_size": D("10"), "free_units": 0},
        "percentage": {"rate": D("1.2"), "fixed_amount": D("0.10"), "free_units_per_events": 3},
        "graduated_percentage": {
            "graduated_percentage_ranges": ranges((0, 10), (11, None), keys=("rate", "flat_amount"))
        },
        "dynamic": {},
    }
    for model, properties in samples.items():
        stored = json.loads(json.dumps(filter_properties(model, properties)))
        assert validate_properties(model, stored) == {}, model


# --- validate_charge_model_for_metric ----------------------------------------------------------


def rules(model="standard", aggregation_type="sum_agg", **overrides):
    flags = {"recurring": False, "pay_in_advance": False, "prorated": False, "invoiceable": True}
    flags.update(overrides)
    return validate_charge_model_for_metric(model, aggregation_type=aggregation_type, **flags)


def test_plain_charges_are_allowed_everywhere():
    for model in CHARGE_MODELS:
        aggregation = "sum_agg"
        assert rules(model, aggregation) == {}, model
    for aggregation in ("count_agg", "max_agg", "unique_count_agg", "weighted_sum_agg", "latest_agg"):
        assert rules("standard", aggregation) == {}, aggregation


@pytest.mark.parametrize("aggregation", ["count_agg", "max_agg", "unique_count_agg", "latest_agg", "weighted_sum_agg"])
def test_dynamic_needs_sum(aggregation):
    assert rules("dynamic", aggregation) == {"charge_model": ["invalid_aggregation_type_or_charge_model"]}


@pytest.mark.parametrize("model", ["percentage", "graduated_percentage"])
def test_percentages_refuse_latest(model):
    assert rules(model, "latest_agg") == {"billable_metric": ["invalid_value"]}


@pytest.mark.parametrize(
    ("model", "aggregation", "allowed"),
    [
        ("standard", "count_agg", True),
        ("standard", "sum_agg", True),
        ("standard", "unique_count_agg", True),
        ("standard", "custom_agg", True),
        ("standard", "max_agg", False),
        ("standard", "latest_agg", False),
        ("standard", "weighted_sum_agg", False),
        ("volume", "sum_agg", False),
        ("graduated", "sum_agg", True),
        ("package", "count_agg", True),
        ("percentage", "sum_agg", True),
    ],
)
def test_pay_in_advance(model, aggregation, allowed):
    errors = rules(model, aggregation, pay_in_advance=True)
    assert (errors == {}) is allowed
    if not allowed:
        assert errors == {"pay_in_advance": ["invalid_aggregation_type_or_charge_model"]}


@pytest.mark.parametrize(
    ("model", "aggregation", "recurring", "pay_in_advance", "allowed"),
    [
        ("standard", "sum_agg", True, False, True),
        ("volume", "unique_count_agg", True, False, True),
        ("graduated", "sum_agg", True, False, True),
        ("package", "sum_agg", True, False, False),
        ("percentage", "sum_agg", True, False, False),
        ("standard", "sum_agg", True, True, True),
        ("graduated", "sum_agg", True, True, False),
        ("standard", "sum_agg", False, False, False),  # metered metrics are never prorated
        ("standard", "weighted_sum_agg", True, False, False),
    ],
)
def test_prorated(model, aggregation, recurring, pay_in_advance, allowed):
    errors = rules(model, aggregation, recurring=recurring, pay_in_advance=pay_in_advance, prorated=True)
    errors.pop("pay_in_advance", None)
    assert (errors == {}) is allowed
    if not allowed:
        assert errors == {"prorated": ["invalid_billable_metric_or_charge_model"]}


def test_invoiceable_regroup_and_minimum():
    assert rules(invoiceable=False) == {"invoiceable": ["must_be_true_unless_pay_in_advance"]}
    assert rules(invoiceable=False, pay_in_advance=True) == {}
    assert rules(regroup_paid_fees="invoice", pay_in_advance=True) == {
        "regroup_paid_fees": ["only_compatible_with_pay_in_advance_and_non_invoiceable"]
    }
    assert rules(regroup_paid_fees="invoice", pay_in_advance=True, invoiceable=False) == {}
    assert rules(min_amount_cents=1000) == {}
    assert rules(min_amount_cents=1000, pay_in_advance=True) == {
        "min_amount_cents": ["not_compatible_with_pay_in_advance"]
    }
    assert rules(min_amount_cents=None, pay_in_advance=True) == {}


def test_unknown_model_or_aggregation():
    assert rules("custom") == {"charge_model": ["value_is_invalid"]}
    assert rules("standard", "nope") == {"billable_metric": ["invalid_value"]}


@pytest.mark.parametrize(
    ("aggregation", "allowed"),
    [
        ("count_agg", False),
        ("max_agg", False),
        ("latest_agg", False),
        ("sum_agg", True),
        ("unique_count_agg", True),
        ("weighted_sum_agg", True),
    ],
)
def test_metric_recurring(aggregation, allowed):
    assert (validate_metric_recurring(aggregation, True) == {}) is allowed
    assert validate_metric_recurring(aggregation, False) == {}
    if not allowed:
        assert validate_metric_recurring(aggregation, True) == {"recurring": ["not_compatible_with_aggregation_type"]}


# --- metric rounding (§1) ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("function", "precision", "expected"),
    [
        ("round", None, "123"),
        ("round", 0, "123"),
        ("round", 2, "123.46"),
        ("round", -1, "120"),
        ("ceil", None, "124"),
        ("ceil", 2, "123.46"),
        ("ceil", -1, "130"),
        ("floor", 2, "123.45"),
        ("floor", -2, "100"),
        (None, None, "123.4567"),
    ],
)
def test_metric_rounding_docs(function, precision, expected):
    assert apply_metric_rounding(D("123.4567"), function, precision) == D(expected)


def test_metric_rounding_half_up_and_negative_values():
    assert apply_metric_rounding(D("2.5"), "round", 0) == D(3)
    assert apply_metric_rounding(D("-2.5"), "round", 0) == D(-3)
    assert apply_metric_rounding(D("-2.5"), "ceil", 0) == D(-2)
    assert apply_metric_rounding(D("-2.5"), "floor", 0) == D(-3)
    assert apply_metric_rounding(D("1E+5"), "round", -2) == D(100000)
    with pytest.raises(ValueError):
        apply_metric_rounding(D(1), "banker", 0)
    with pytest.raises(ValueError):
        apply_metric_rounding(D(1), "round", 99)


# --- spending minimum (§2.10) ------------------------------------------------------------------


def test_spending_minimum_spec_termination_on_25_february():
    assert (
        spending_minimum_true_up_cents(min_amount_cents=1000, used_amount_cents=800, period_days=28, days_used=25) == 93
    )


def test_spending_minimum_docs_full_period():
    assert spending_minimum_true_up_cents(min_amount_cents=10000, used_amount_cents=5000, period_days=30) == 5000


def test_spending_minimum_reached_or_absent():
    assert spending_minimum_true_up_cents(min_amount_cents=1000, used_amount_cents=1000, period_days=31) == 0
    assert spending_minimum_true_up_cents(min_amount_cents=1000, used_amount_cents=2000, period_days=31) == 0
    assert spending_minimum_true_up_cents(min_amount_cents=0, used_amount_cents=0, period_days=31) == 0
    assert spending_minimum_true_up_cents(min_amount_cents=1000, used_amount_cents=0, period_days=28, days_used=0) == 0
    # 1000 / 28 × 25 = 892.857…; used 892 → 0.857… rounds half-up to 1.
    assert (
        spending_minimum_true_up_cents(min_amount_cents=1000, used_amount_cents=892, period_days=28, days_used=25) == 1
    )


def test_spending_minimum_refuses_nonsense():
    with pytest.raises(ValueError):
        spending_minimum_true_up_cents(min_amount_cents=-1, used_amount_cents=0, period_days=30)
    with pytest.raises(ValueError):
        spending_minimum_true_up_cents(min_amount_cents=1, used_amount_cents=0, period_days=0)
    with pytest.raises(ValueError):
        spending_minimum_true_up_cents(min_amount_cents=1, used_amount_cents=0, period_days=30, days_used=31)
