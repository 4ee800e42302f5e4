"""Readable one-line summaries of charge prices, for the finance console. Pure, no ORM."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any


def _amount(value: Any, currency: str) -> str:
    return f"{value} {currency}".strip()


def _bounds(row: Mapping[str, Any]) -> str:
    low, high = row.get("from_value"), row.get("to_value")
    return f"{low}+" if high is None else f"{low}–{high}"


def _ranges(rows: Any, price: Callable[[Mapping[str, Any]], str], currency: str) -> str:
    """`0–100 @ <price>; 101+ @ <price> + 2 USD flat`: each range with its price and flat fee."""
    parts = []
    for row in rows if isinstance(rows, list) else []:
        part = f"{_bounds(row)} @ {price(row)}"
        flat = row.get("flat_amount")
        if flat not in (None, "", "0", "0.0"):
            part += f" + {_amount(flat, currency)} flat"
        parts.append(part)
    return "; ".join(parts) or "no ranges"


def price_summary(charge_model: str, properties: Mapping[str, Any] | None, currency: str = "") -> str:
    """E.g. `graduated: 0–100 @ 0 USD; 101+ @ 0.01 USD + 2 USD flat`."""
    props = properties or {}
    if charge_model == "standard":
        text = f"{_amount(props.get('amount', '?'), currency)} per unit"
    elif charge_model in ("graduated", "volume"):
        rows = props.get(f"{charge_model}_ranges") or []
        text = _ranges(rows, lambda row: _amount(row.get("per_unit_amount", "?"), currency), currency)
    elif charge_model == "package":
        text = f"{_amount(props.get('amount', '?'), currency)} per {props.get('package_size', '?')} units"
        if props.get("free_units"):
            text += f", {props['free_units']} free"
    elif charge_model == "percentage":
        text = f"{props.get('rate', '?')} %"
        if props.get("fixed_amount"):
            text += f" + {_amount(props['fixed_amount'], currency)} per transaction"
        if props.get("free_units_per_events"):
            text += f", first {props['free_units_per_events']} events free"
        if props.get("free_units_per_total_aggregation"):
            text += f", first {props['free_units_per_total_aggregation']} units free"
        if props.get("per_transaction_min_amount") or props.get("per_transaction_max_amount"):
            text += (
                f", per transaction min {props.get('per_transaction_min_amount') or '-'}"
                f" max {props.get('per_transaction_max_amount') or '-'}"
            )
    elif charge_model == "graduated_percentage":
        rows = props.get("graduated_percentage_ranges") or []
        text = _ranges(rows, lambda row: f"{row.get('rate', '?')} %", currency)
    elif charge_model == "dynamic":
        text = "price sent with each event"
    else:
        text = "?"
    if props.get("pricing_group_keys"):
        text += f" (per {', '.join(map(str, props['pricing_group_keys']))})"
    return f"{charge_model}: {text}"
