"""`price_instant`: one event priced on its own (Lago's instant estimate, docs/billing-semantics.md §2.13)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from catalog.pricing import PricingError, price_instant

PERCENTAGE = {
    "rate": "1.5",
    "fixed_amount": "0.2",
    "per_transaction_min_amount": "1",
    "per_transaction_max_amount": "3",
}


@pytest.mark.parametrize(
    ("model", "properties", "units", "amount", "unit_amount"),
    [
        ("standard", {"amount": "0.5"}, "40", "20", "0.5"),
        ("standard", {"amount": "0.5"}, "0", "0", "0"),
        ("percentage", {"rate": "2"}, "250", "5", "0.02"),  # 250 × 2 %
        ("percentage", {"rate": "2", "fixed_amount": "0.3"}, "250", "5.3", "0.0212"),
        ("percentage", PERCENTAGE, "40", "1", "0.025"),  # 0.60 + 0.20 = 0.80 → the $1 minimum
        ("percentage", PERCENTAGE, "100", "1.7", "0.017"),  # 1.50 + 0.20, inside [1, 3]
        ("percentage", PERCENTAGE, "300", "3", "0.01"),  # 4.50 + 0.20 → the $3 maximum
        ("percentage", PERCENTAGE, "0", "1", "0"),  # the fixed fee, raised to the minimum
        ("percentage", {**PERCENTAGE, "free_units_per_events": 3}, "40", "1", "0.025"),  # free units: not applied
        ("percentage", PERCENTAGE, "-5", "0", "0"),  # negative units price nothing
    ],
)
def test_instant_price(model, properties, units, amount, unit_amount):
    result = price_instant(model, properties, D(units))
    assert result.amount == D(amount)
    assert result.unit_amount == D(unit_amount)
    assert sum(line["amount"] for line in result.breakdown) == result.amount


def test_other_models_and_bad_properties_are_refused():
    with pytest.raises(PricingError, match="no instant estimate"):
        price_instant("graduated", {"graduated_ranges": []}, D(1))
    with pytest.raises(PricingError, match="invalid standard properties"):
        price_instant("standard", {"amount": "-1"}, D(1))
