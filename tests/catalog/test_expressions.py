"""The billable-metric expression language: syntax, semantics, errors, and hostile input."""

from __future__ import annotations

import contextlib
import datetime as dt
import subprocess
import sys
import time
from decimal import Decimal as D
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from catalog.expressions import (
    MAX_LENGTH,
    Expression,
    ExpressionError,
    evaluate,
    evaluate_value,
    parse,
    validate,
)

EVENT = {
    "code": "compute",
    "timestamp": 1_700_000_000,
    "properties": {
        "a": "2.5",
        "b": 4,
        "cpu_number": 2,
        "duration_msec": D("1500"),
        "memory_mb": "512",
        "user_id": "u_1",
        "app_id": 7,
        "zero": 0,
        "text": "abc",
        "ratio": 0.1,
        "flag": True,
        "nested": {"x": 1},
    },
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1", D(1)),
        ("123.45", D("123.45")),
        ("1 + 2 * 3", D(7)),
        ("(1 + 2) * 3", D(9)),
        ("10 - 4 - 3", D(3)),  # left associative
        ("64 / 4 / 2", D(8)),  # left associative
        ("-2 * 3", D(-6)),
        ("2 * -3", D(-6)),
        ("-(1 + 2)", D(-3)),
        ("10 / 4", D("2.5")),
        ("0.1 + 0.2", D("0.3")),  # decimal, not binary floating point
        ("event.properties.a * event.properties.b", D("10.0")),
        ("round(event.properties.a * event.properties.b, 2)", D("10.00")),
        ("round(12.5)", D(13)),
        ("round(-12.5)", D(-13)),  # half-up rounds away from zero, as BigDecimal's HALF_UP
        ("round(12.345, 2)", D("12.35")),
        ("round(123.4567, -1)", D(120)),
        ("ceil(12.3)", D(13)),
        ("ceil(12.351, 1)", D("12.4")),
        ("ceil(-12.3)", D(-12)),
        ("floor(12.7)", D(12)),
        ("floor(12.351, 1)", D("12.3")),
        ("floor(-12.3)", D(-13)),
        ("ROUND(2.5)", D(3)),
        ("Ceil(2.1)", D(3)),
        ("FLOOR(2.9)", D(2)),
        ("event.timestamp", D(1_700_000_000)),
        ("event.timestamp / 64", D("26562500")),
        ("event.properties.ratio * 10", D("1.0")),
        # Lago's docs examples
        (
            "(event.properties.cpu_number * 25 * event.properties.duration_msec)"
            " + (event.properties.memory_mb * 0.000001 * event.properties.duration_msec)",
            D(2 * 25 * 1500) + D("512") * D("0.000001") * 1500,
        ),
        ("ROUND(event.properties.duration_msec * 1000)", D(1_500_000)),
    ],
)
def test_evaluates(text, expected):
    assert evaluate(text, EVENT) == expected


LAGO_EVENT = {
    "code": "code",
    "timestamp": 1234,
    "properties": {"property_1": "1.23", "property_2": "test", "property_3": "12.34"},
}


def test_lago_expression_spec():
    """getlago/lago-expression expression-ruby/spec/lago-expression/expression_spec.rb."""
    assert evaluate("1 + 3", LAGO_EVENT) == D(4)
    assert evaluate_value("'test'", LAGO_EVENT) == "test"
    assert evaluate("(123 - event.properties.property_1) / 10", LAGO_EVENT) == D("12.177")
    assert evaluate_value("concat(event.properties.property_2, '-', 'suffix')", LAGO_EVENT) == "test-suffix"
    assert evaluate("round(event.properties.property_3, -1)", LAGO_EVENT) == D(10)
    assert evaluate("event.timestamp", LAGO_EVENT) == D(1234)
    assert evaluate_value("event.code", LAGO_EVENT) == "code"


def test_concat_returns_text():
    assert evaluate_value("CONCAT(event.properties.user_id, '-', event.properties.app_id)", EVENT) == "u_1-7"
    assert evaluate_value("concat(event.code, ':', round(2.5))", EVENT) == "compute:3"
    assert evaluate_value("event.properties.text", EVENT) == "abc"
    assert evaluate_value("event.properties.flag", EVENT) == "true"


def test_numeric_strings_are_numbers():
    assert evaluate("event.properties.memory_mb / 2", EVENT) == D(256)


def test_a_parsed_expression_is_reusable():
    expression = parse("event.properties.b * 2")
    assert isinstance(expression, Expression)
    assert evaluate(expression, EVENT) == D(8)
    assert expression.evaluate({"properties": {"b": "1.5"}}) == D("3.0")
    assert parse("event.properties.b * 2") is expression  # parsed once, cached


def test_timestamp_accepts_aware_datetimes_and_numeric_text():
    moment = dt.datetime(2024, 3, 5, 12, 0, 0, 500000, tzinfo=dt.UTC)
    assert evaluate("event.timestamp", {"timestamp": moment}) == D("1709640000.5")
    assert evaluate("event.timestamp", {"timestamp": "1700000000.25"}) == D("1700000000.25")
    assert evaluate("event.timestamp", {"timestamp": "2024-03-05T12:00:00.5Z"}) == D("1709640000.5")
    assert evaluate("event.timestamp", {"timestamp": "2024-03-05T13:00:00+01:00"}) == D("1709640000")
    with pytest.raises(ExpressionError, match="timezone"):
        evaluate("event.timestamp", {"timestamp": "2024-03-05T12:00:00"})
    with pytest.raises(ExpressionError, match="timezone"):
        evaluate("event.timestamp", {"timestamp": dt.datetime(2024, 1, 1)})
    with pytest.raises(ExpressionError, match="unix seconds"):
        evaluate("event.timestamp", {"timestamp": "yesterday"})
    with pytest.raises(ExpressionError, match="missing"):
        evaluate("event.timestamp", {})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("event.properties.a / event.properties.zero", "division by zero"),
        ("1 / 0", "division by zero"),
        ("event.properties.missing + 1", "event.properties.missing is missing"),
        ("event.properties.text * 2", "needs numbers"),
        ("concat('a', 'b')", "not a number"),
        ("event.properties.nested", "number or a string"),
        ("round(1.5, 0.5)", "whole number"),
        ("round(1.5, 99)", "whole number"),
        ("event.code", "not a number"),
    ],
)
def test_evaluation_errors(text, message):
    with pytest.raises(ExpressionError, match=message):
        evaluate(text, EVENT)


def test_missing_code_and_properties():
    with pytest.raises(ExpressionError, match=r"event\.code is missing"):
        evaluate_value("event.code", {})
    with pytest.raises(ExpressionError, match="missing"):
        evaluate("event.properties.a", {"properties": None})
    with pytest.raises(ExpressionError, match="missing"):
        evaluate("event.properties.a", {"properties": {"a": None}})
    with pytest.raises(ExpressionError, match="object"):
        evaluate("1", "not an event")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("1 +", "expected a number"),
        ("(1 + 2", "expected '\\)'"),
        ("1 + 2)", "unexpected '\\)'"),
        ("1 2", "unexpected '2'"),
        ("--1", "unexpected '-'"),
        ("1.", "digits after"),
        (".5", "unexpected character"),
        ("'open", "unterminated string"),
        ("event.properties.", "invalid property name"),
        ("event.properties.1abc", "invalid property name"),
        ("event.properties.a.b", "invalid property name"),
        ("event.props.a", "unknown event attribute"),
        ("sqrt(4)", "unknown name"),
        ("rOuNd(4)", "unknown name"),
        ("round()", "expected a number"),
        ("round(1, 2, 3)", "1 or 2 arguments"),
        ("round 1", "expected '\\(' after round"),
        ("1 ^ 2", "unexpected character"),
        ("__import__('os')", "unexpected character"),
        ("1; 2", "unexpected character"),
        ("1" + "0" * 70, "more than 60 digits"),
    ],
)
def test_parse_errors_are_readable(text, message):
    with pytest.raises(ExpressionError, match=message):
        parse(text)
    assert validate(text) == ["invalid_expression"]


def test_validate_accepts_good_expressions():
    assert validate("round(event.properties.a * event.properties.b, 2)") == []
    assert validate("concat(event.properties.user_id, '-', event.properties.app_id)") == []


def test_non_string_expression_is_refused():
    with pytest.raises(ExpressionError):
        parse(42)  # type: ignore[arg-type]
    assert validate(None) == ["invalid_expression"]  # type: ignore[arg-type]


# --- hostile input -----------------------------------------------------------------------------


def test_length_is_bounded():
    with pytest.raises(ExpressionError, match="longer than"):
        parse("1+" * (MAX_LENGTH // 2) + "1")


def test_deep_nesting_is_refused_without_recursion_error():
    for text in ["(" * 5000 + "1" + ")" * 5000, "(" * 30 + "1" + ")" * 30, "round(" * 40 + "1" + ")" * 40]:
        if len(text) > MAX_LENGTH:
            with pytest.raises(ExpressionError, match="longer than"):
                parse(text)
            continue
        if text.count("(") > 32:
            with pytest.raises(ExpressionError, match="nested"):
                parse(text)
        else:
            assert evaluate(text, {}) == 1


def test_long_operator_chains_are_bounded():
    with pytest.raises(ExpressionError, match="chained operations"):
        parse("+".join(["1"] * 300))
    assert evaluate("+".join(["1"] * 150), {}) == 150


def test_huge_numbers_fail_cleanly_and_fast():
    start = time.monotonic()
    text = "*".join(["999999999999999999999999999999"] * 60)  # (10^30)^60 = 10^1800: fits, rounded to 60 digits
    assert evaluate(text, {}) > 0
    with pytest.raises(ExpressionError, match="too large"):
        evaluate("event.properties.x * event.properties.x", {"properties": {"x": "1e9000"}})
    with pytest.raises(ExpressionError, match="too large"):
        evaluate("event.properties.x", {"properties": {"x": "1e99999"}})
    assert time.monotonic() - start < 2


def test_module_imports_without_django_settings():
    code = (
        "import catalog.expressions, catalog.pricing; from django.conf import settings; "
        "assert not settings.configured; print('ok')"
    )
    env = {"PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


# --- properties --------------------------------------------------------------------------------

_ATOMS = st.decimals(min_value=-1000, max_value=1000, places=3, allow_nan=False, allow_infinity=False)


@st.composite
def _arithmetic(draw, depth=0):
    """A random expression of + - * and its exact value as a Fraction (at most 4 atoms of 7 digits,
    so every exact result fits the 60 significant digits the language computes with)."""
    if depth >= 2 or draw(st.booleans()):
        value = draw(_ATOMS)
        text = format(abs(value), "f")
        return (f"(-{text})" if value < 0 else text), Fraction(value)
    op = draw(st.sampled_from("+-*"))
    left_text, left = draw(_arithmetic(depth + 1))
    right_text, right = draw(_arithmetic(depth + 1))
    result = {"+": left + right, "-": left - right, "*": left * right}[op]
    return f"({left_text} {op} {right_text})", result


@settings(max_examples=300, deadline=None)
@given(_arithmetic())
def test_addition_subtraction_multiplication_are_exact(case):
    text, expected = case
    assert Fraction(evaluate(text, {})) == expected


@settings(max_examples=300, deadline=None)
@given(_arithmetic(), _arithmetic())
def test_division_is_correct_to_sixty_digits(numerator, denominator):
    (top_text, top), (bottom_text, bottom) = numerator, denominator
    text = f"({top_text}) / ({bottom_text})"
    if bottom == 0:
        with pytest.raises(ExpressionError, match="division by zero"):
            evaluate(text, {})
        return
    expected = top / bottom
    result = Fraction(evaluate(text, {}))
    assert abs(result - expected) <= abs(expected) * Fraction(1, 10**58)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("0123456789.+-*/(), 'abceflnoprtuvdsCR_")), max_size=80))
def test_fuzzed_text_never_escapes_expression_error(text):
    try:
        expression = parse(text)
    except ExpressionError:
        assert validate(text) == ["invalid_expression"]
        return
    assert validate(text) == []
    with contextlib.suppress(ExpressionError):
        evaluate_value(expression, {"code": "c", "timestamp": 1, "properties": {"a": 1}})
