"""Reading charge properties into Decimals, and the tier arithmetic shared by the models."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from .properties import parse_amount, parse_bound
from .types import PricingError, Row

HUNDRED = Decimal(100)


def amount_of(properties: Mapping[str, Any], key: str, default: Decimal | None = None) -> Decimal:
    value = parse_amount(properties.get(key))
    if value is None:
        if default is None:
            raise PricingError(f"{key} is missing")
        return default
    return value


def ranges_of(properties: Mapping[str, Any], key: str, amount_keys: tuple[str, ...]) -> list[Row]:
    rows: list[Row] = []
    for raw in properties[key]:
        row: Row = {"from_value": parse_bound(raw.get("from_value")), "to_value": parse_bound(raw.get("to_value"))}
        for amount_key in amount_keys:
            row[amount_key] = amount_of(raw, amount_key)
        rows.append(row)
    return rows


def is_adjacent(ranges: list[Row]) -> bool:
    """Lago's AdjacentRanges: every range starts exactly where the previous one ends."""
    return len(ranges) >= 2 and all(cur["from_value"] == prev["to_value"] for prev, cur in itertools.pairwise(ranges))


def units_in_tier(row: Row, total: Decimal, *, adjacent: bool) -> Decimal:
    """Units of `total` that fall in a tier (api amount_details/range_graduated_service.rb)."""
    from_value: Decimal = row["from_value"]
    to_value: Decimal | None = row["to_value"]
    effective = to_value if to_value is not None and total >= to_value else total
    if from_value == 0:
        return effective
    return effective - from_value if adjacent else effective - from_value + 1
