"""Property-based tests of the pricing engine (hypothesis)."""

from __future__ import annotations

from decimal import Decimal as D

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from billing_project.core.money import to_cents
from catalog.pricing import Usage, price, validate_properties

money = st.decimals(min_value=0, max_value=10_000, places=4, allow_nan=False, allow_infinity=False)
rates = st.decimals(min_value=0, max_value=100, places=3, allow_nan=False, allow_infinity=False)
units_st = st.decimals(min_value=0, max_value=1_000_000, places=4, allow_nan=False, allow_infinity=False)
any_units = st.decimals(min_value=-1_000_000, max_value=1_000_000, places=4, allow_nan=False, allow_infinity=False)


def amount_text(value: D) -> str:
    return format(value, "f")


@st.composite
def range_table(draw, *, amount_keys=("per_unit_amount", "flat_amount"), allow_adjacent=True, amount=money):
    """A valid table: inclusive (next from = to + 1) or adjacent (next from = to)."""
    adjacent = allow_adjacent and draw(st.booleans())
    count = draw(st.integers(min_value=1, max_value=5))
    widths = draw(st.lists(st.integers(min_value=1, max_value=500), min_size=count - 1, max_size=count - 1))
    rows, start = [], 0
    for width in widths:
        end = start + width
        rows.append((start, end))
        start = end if adjacent else end + 1
    rows.append((start, None))
    return [
        {"from_value": low, "to_value": high, **{key: amount_text(draw(amount)) for key in amount_keys}}
        for low, high in rows
    ]


@st.composite
def model_and_properties(draw):
    model = draw(st.sampled_from(["standard", "graduated", "volume", "package", "percentage", "graduated_percentage"]))
    if model == "standard":
        properties = {"amount": amount_text(draw(money))}
    elif model in ("graduated", "volume"):
        properties = {f"{model}_ranges": draw(range_table())}
    elif model == "graduated_percentage":
        properties = {
            "graduated_percentage_ranges": draw(range_table(amount_keys=("rate", "flat_amount"), allow_adjacent=False))
        }
    elif model == "package":
        properties = {
            "amount": amount_text(draw(money)),
            "package_size": draw(st.integers(min_value=1, max_value=1000)),
            "free_units": draw(st.integers(min_value=0, max_value=1000)),
        }
    else:
        properties = {"rate": amount_text(draw(rates))}
        if draw(st.booleans()):
            properties["fixed_amount"] = amount_text(draw(money))
        if draw(st.booleans()):
            properties["free_units_per_events"] = draw(st.integers(min_value=1, max_value=5))
        if draw(st.booleans()):
            properties["free_units_per_total_aggregation"] = amount_text(draw(money))
        if draw(st.booleans()):
            low = draw(money)
            properties["per_transaction_min_amount"] = amount_text(low)
            properties["per_transaction_max_amount"] = amount_text(low + draw(money))
    assert validate_properties(model, properties) == {}
    return model, properties


@st.composite
def usage_with_events(draw):
    values = draw(st.lists(st.decimals(min_value=-100, max_value=10_000, places=2), max_size=8))
    units = sum(values, D(0))
    return Usage(units=units, events_count=len(values), event_values=tuple(values))


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_graduated_never_decreases_as_units_grow(data):
    properties = {"graduated_ranges": data.draw(range_table())}
    first = data.draw(units_st)
    second = first + data.draw(units_st)
    assert (
        price("graduated", properties, Usage(units=first)).amount
        <= price("graduated", properties, Usage(units=second)).amount
    )


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_graduated_tiers_share_out_exactly_the_units(data):
    properties = {"graduated_ranges": data.draw(range_table())}
    units = data.draw(units_st)
    result = price("graduated", properties, Usage(units=units))
    assert sum(line["units"] for line in result.breakdown) == units
    assert all(line["units"] >= 0 for line in result.breakdown)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_graduated_percentage_never_decreases_as_units_grow(data):
    properties = {
        "graduated_percentage_ranges": data.draw(range_table(amount_keys=("rate", "flat_amount"), allow_adjacent=False))
    }
    first = data.draw(units_st)
    second = first + data.draw(units_st)
    assert (
        price("graduated_percentage", properties, Usage(units=first)).amount
        <= price("graduated_percentage", properties, Usage(units=second)).amount
    )


@settings(max_examples=200, deadline=None)
@given(
    money, money, st.integers(min_value=1, max_value=100), st.integers(min_value=0, max_value=100), units_st, units_st
)
def test_package_never_decreases_as_units_grow(amount, _unused, size, free, first, extra):
    properties = {"amount": amount_text(amount), "package_size": size, "free_units": free}
    assert (
        price("package", properties, Usage(units=first)).amount
        <= price("package", properties, Usage(units=first + extra)).amount
    )


@settings(max_examples=300, deadline=None)
@given(money, money, units_st)
def test_volume_and_graduated_agree_on_a_single_tier(per_unit, flat, units):
    row = {
        "from_value": 0,
        "to_value": None,
        "per_unit_amount": amount_text(per_unit),
        "flat_amount": amount_text(flat),
    }
    graduated = price("graduated", {"graduated_ranges": [row]}, Usage(units=units))
    volume = price("volume", {"volume_ranges": [row]}, Usage(units=units))
    assert graduated.amount == volume.amount == units * per_unit + flat


@settings(max_examples=400, deadline=None)
@given(model_and_properties(), any_units, usage_with_events())
def test_no_model_returns_a_negative_amount(case, units, events):
    model, properties = case
    usage = events if model == "percentage" else Usage(units=units)
    result = price(model, properties, usage)
    assert result.amount >= 0
    assert to_cents(result.amount, "USD") >= 0


@settings(max_examples=100, deadline=None)
@given(st.decimals(min_value=-(10**9), max_value=10**9, places=3), units_st)
def test_dynamic_is_never_negative(precise, units):
    result = price("dynamic", {}, Usage(units=units, precise_total_amount_cents=precise), currency="USD")
    assert result.amount >= 0


@settings(max_examples=400, deadline=None)
@given(model_and_properties(), usage_with_events())
def test_breakdown_lines_sum_to_the_amount_exactly(case, events):
    model, properties = case
    result = price(model, properties, events)
    assert sum((line["amount"] for line in result.breakdown), D(0)) == result.amount


@settings(max_examples=300, deadline=None)
@given(
    st.decimals(min_value=0, max_value=1, places=6),
    st.integers(min_value=1, max_value=10_000),
    st.sampled_from(["USD", "JPY", "KWD"]),
)
def test_rounding_happens_once(per_unit, units, currency):
    """The engine never rounds: the amount is the exact product, and the cents are that product
    rounded once, half-up. Rounding each unit first would be off by up to units × half a cent."""
    result = price("standard", {"amount": amount_text(per_unit)}, Usage(units=D(units)))
    assert result.amount == per_unit * units
    factor = D(10) ** {"USD": 2, "JPY": 0, "KWD": 3}[currency]
    cents = to_cents(result.amount, currency)
    exact = result.amount * factor
    assert abs(D(cents) - exact) <= D("0.5")
    if exact % 1 == D("0.5"):
        assert D(cents) > exact  # half-up


@settings(max_examples=200, deadline=None)
@given(model_and_properties(), usage_with_events())
def test_pricing_is_deterministic_and_pure(case, events):
    model, properties = case
    snapshot = repr(properties)
    first = price(model, properties, events)
    second = price(model, properties, events)
    assert first == second
    assert repr(properties) == snapshot  # properties are not mutated


@settings(max_examples=200, deadline=None)
@given(model_and_properties(), units_st)
def test_unit_amount_times_units_is_the_amount(case, units):
    model, properties = case
    assume(units > 0 and model not in ("percentage", "package"))  # package: per paid unit, as Lago
    result = price(model, properties, Usage(units=units))
    assert abs(result.unit_amount * units - result.amount) <= result.amount * D("1e-20")


_JSONISH = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**6), max_value=10**6)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.decimals(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(["0", "1.5", "-1", "1e3", "NaN", "Infinity", " 2 ", ""]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
_KEYS = st.sampled_from(
    [
        "amount",
        "package_size",
        "free_units",
        "rate",
        "fixed_amount",
        "free_units_per_events",
        "free_units_per_total_aggregation",
        "per_transaction_min_amount",
        "per_transaction_max_amount",
        "graduated_ranges",
        "volume_ranges",
        "graduated_percentage_ranges",
        "pricing_group_keys",
        "grouped_by",
        "presentation_group_keys",
    ]
)
_ROW = st.dictionaries(
    st.sampled_from(["from_value", "to_value", "per_unit_amount", "flat_amount", "rate"]), _JSONISH, max_size=5
)
_VALUE = _JSONISH | st.lists(_ROW, max_size=4)


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(["standard", "graduated", "volume", "package", "percentage", "graduated_percentage", "dynamic"]),
    st.dictionaries(_KEYS, _VALUE, max_size=6),
    units_st,
)
def test_garbage_properties_never_crash_validation_or_valid_pricing(model, properties, units):
    """Whatever a client sends, validation answers with codes; what validates, prices."""
    from catalog.pricing import describe_properties, filter_properties

    errors = validate_properties(model, properties)
    assert isinstance(errors, dict)
    assert all(isinstance(codes, list) and codes for codes in errors.values())
    filtered = filter_properties(model, properties)
    assert isinstance(filtered, dict)
    assert isinstance(describe_properties(model, properties), str)
    if not errors:
        usage = Usage(units=units, events_count=1, event_values=(units,))
        result = price(model, properties, usage, currency="USD") if model != "dynamic" else None
        if result is not None:
            assert result.amount >= 0
