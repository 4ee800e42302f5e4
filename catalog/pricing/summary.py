"""One-line, human summaries of a charge's price list, for the admin's lists and detail pages."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .properties import parse_amount, parse_bound, validate_properties


def _number(value: object) -> str:
    parsed = parse_amount(value)
    if parsed is None:
        parsed = parse_bound(value)
    if parsed is None:
        return str(value)
    text = format(parsed, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _money(value: object, currency: str | None) -> str:
    return f"{_number(value)} {currency}" if currency else _number(value)


def _bounds(row: Mapping[str, Any]) -> str:
    low, high = row.get("from_value"), row.get("to_value")
    return f"{_number(low)} and above" if high is None else f"{_number(low)}–{_number(high)}"


def _flat(row: Mapping[str, Any], currency: str | None) -> str:
    flat = parse_amount(row.get("flat_amount"))
    return f" + {_money(row.get('flat_amount'), currency)} flat" if flat else ""


def describe_properties(charge_model: str, properties: Mapping[str, Any], currency: str | None = None) -> str:
    """E.g. `0–10: 10 USD/unit + 2 USD flat · 11 and above: 5 USD/unit` for a graduated table,
    followed by `, priced per country` when the charge has pricing group keys.

    Never raises: invalid properties are described as such, so a list page always renders.
    """
    if validate_properties(charge_model, properties):
        return f"{charge_model}: invalid properties"
    text = _describe(charge_model, properties, currency)
    keys = properties.get("pricing_group_keys") or properties.get("grouped_by")
    if isinstance(keys, list | tuple) and keys:
        text += f", priced per {', '.join(str(key) for key in keys)}"
    return text


def _describe(charge_model: str, properties: Mapping[str, Any], currency: str | None) -> str:
    if charge_model == "standard":
        return f"{_money(properties['amount'], currency)}/unit"
    if charge_model in ("graduated", "volume"):
        rows = properties[f"{charge_model}_ranges"]
        tiers = " · ".join(
            f"{_bounds(row)}: {_money(row['per_unit_amount'], currency)}/unit{_flat(row, currency)}" for row in rows
        )
        return tiers if charge_model == "graduated" else f"volume — {tiers}"
    if charge_model == "graduated_percentage":
        rows = properties["graduated_percentage_ranges"]
        return " · ".join(f"{_bounds(row)}: {_number(row['rate'])}%{_flat(row, currency)}" for row in rows)
    if charge_model == "package":
        text = f"{_money(properties['amount'], currency)} per {properties['package_size']} units"
        if properties.get("free_units"):
            text += f", first {properties['free_units']} free"
        return text
    if charge_model == "percentage":
        parts = [f"{_number(properties['rate'])}%"]
        fixed = parse_amount(properties.get("fixed_amount"))
        if fixed:
            parts[0] += f" + {_money(properties['fixed_amount'], currency)}/transaction"
        if properties.get("free_units_per_events"):
            parts.append(f"first {properties['free_units_per_events']} events free")
        free_total = parse_amount(properties.get("free_units_per_total_aggregation"))
        if free_total:
            parts.append(f"first {_number(free_total)} units free")
        minimum = parse_amount(properties.get("per_transaction_min_amount"))
        maximum = parse_amount(properties.get("per_transaction_max_amount"))
        if minimum is not None:
            parts.append(f"min {_money(minimum, currency)}/transaction")
        if maximum is not None:
            parts.append(f"max {_money(maximum, currency)}/transaction")
        return ", ".join(parts)
    if charge_model == "dynamic":
        return "each event's own amount"
    return charge_model  # pragma: no cover - validate_properties refuses unknown models
