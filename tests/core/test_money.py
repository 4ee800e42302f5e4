from __future__ import annotations

from decimal import Decimal

import pytest

from billing_project.core import money


@pytest.mark.parametrize(
    ("amount", "currency", "cents"),
    [
        ("0.005", "USD", 1),  # half-up
        ("0.004", "USD", 0),
        ("-0.005", "USD", -1),
        ("12.345", "EUR", 1235),
        ("100.5", "JPY", 101),
        ("100.4", "JPY", 100),
        ("1.2345", "KWD", 1235),
        ("0.101", "USD", 10),
        ("9.12", "USD", 912),
    ],
)
def test_to_cents_rounds_half_up_once(amount, currency, cents):
    assert money.to_cents(Decimal(amount), currency) == cents


def test_to_cents_refuses_floats_and_unknown_currencies():
    with pytest.raises(TypeError):
        money.to_cents(0.1, "USD")  # type: ignore[arg-type]
    with pytest.raises(money.UnknownCurrency):
        money.to_cents(Decimal(1), "XXX")


def test_from_cents_and_format():
    assert money.from_cents(1234, "USD") == Decimal("12.34")
    assert money.from_cents(1234, "JPY") == Decimal(1234)
    assert money.format_amount(123456, "USD") == "1,234.56 USD"
    assert money.format_amount(1500, "JPY") == "1,500 JPY"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1.50", Decimal("1.50")), (3, Decimal(3)), (1.5, None), ("NaN", None), ("inf", None), ("", None), (True, None)],
)
def test_parse_decimal(value, expected):
    assert money.parse_decimal(value) == expected
