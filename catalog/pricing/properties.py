"""Charge properties: which keys each model keeps, how they are normalized, how they are validated.

Lago's rules (api `app/services/charge_models/filter_properties/*`, `app/services/charges/validators/*`):

* amounts (`amount`, `per_unit_amount`, `flat_amount`, `rate`, `fixed_amount`,
  `free_units_per_total_aggregation`, `per_transaction_min/max_amount`) are decimal strings >= 0;
* `package_size` (> 0), `free_units` (>= 0) and `free_units_per_events` (> 0) are integers;
* range bounds are JSON numbers; the first range starts at 0, each next one starts at the previous
  `to_value` + 1 ("inclusive" ranges) or at the previous `to_value` ("adjacent" ranges, graduated
  and volume only), every range but the last has `to_value > from_value`, the last has
  `to_value: null`.

bxb choices (docs/billing-semantics.md): exact JSON numbers (int or Decimal, never float) are accepted
for amounts and normalized to decimal strings by `filter_properties`; a table that mixes inclusive and
adjacent steps is refused (Lago silently prices it as inclusive).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

CHARGE_MODELS: tuple[str, ...] = (
    "standard",
    "graduated",
    "volume",
    "package",
    "percentage",
    "graduated_percentage",
    "dynamic",
)

_MODEL_KEYS: dict[str, tuple[str, ...]] = {
    "standard": ("amount",),
    "graduated": ("graduated_ranges",),
    "volume": ("volume_ranges",),
    "package": ("amount", "free_units", "package_size"),
    "percentage": (
        "rate",
        "fixed_amount",
        "free_units_per_events",
        "free_units_per_total_aggregation",
        "per_transaction_min_amount",
        "per_transaction_max_amount",
    ),
    "graduated_percentage": ("graduated_percentage_ranges",),
    "dynamic": (),
}

_AMOUNT_KEYS = frozenset(
    {
        "amount",
        "fixed_amount",
        "rate",
        "free_units_per_total_aggregation",
        "per_transaction_min_amount",
        "per_transaction_max_amount",
    }
)
_INTEGER_KEYS = frozenset({"free_units", "package_size", "free_units_per_events"})
_RANGE_KEYS = {
    "graduated_ranges": ("per_unit_amount", "flat_amount"),
    "volume_ranges": ("per_unit_amount", "flat_amount"),
    "graduated_percentage_ranges": ("rate", "flat_amount"),
}
# Tables whose steps may be "adjacent" (from == previous to) as well as "inclusive" (previous to + 1).
_ADJACENT_ALLOWED = frozenset({"graduated_ranges", "volume_ranges"})

MAX_RANGES = 100
MAX_DECIMAL_TEXT = 40  # characters of a decimal string; bounds the engine's exact arithmetic
# Amounts and bounds are at most 10^24 and have at most 30 decimals, so the engine's exact
# arithmetic can neither overflow nor lose digits.
MAX_MAGNITUDE_EXPONENT = 24
MAX_DECIMAL_PLACES = 30


# --- small parsers ------------------------------------------------------------------------------


def _in_range(value: Decimal) -> Decimal | None:
    if not value.is_finite():
        return None
    if value and (value.adjusted() >= MAX_MAGNITUDE_EXPONENT or value.as_tuple().exponent < -MAX_DECIMAL_PLACES):  # type: ignore[operator]
        return None
    return value


def parse_amount(value: object) -> Decimal | None:
    """A finite Decimal from a decimal string, an int or a Decimal; None otherwise (floats, bools,
    values above 10^24 or with more than 30 decimals)."""
    if isinstance(value, str):
        text = value.strip()
        if not text or len(text) > MAX_DECIMAL_TEXT:
            return None
        try:
            parsed = Decimal(text)
        except (InvalidOperation, ValueError):
            return None
        return _in_range(parsed)
    return _exact(value)


def _exact(value: object) -> Decimal | None:
    """An int or a Decimal (not a bool) in range, else None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return _in_range(Decimal(value))
    if isinstance(value, Decimal):
        return _in_range(value)
    return None


def parse_bound(value: object) -> Decimal | None:
    """A range bound: an exact JSON number (int, Decimal, or a float that reads back exactly)."""
    if isinstance(value, float):
        # Bounds stored in a JSON column come back as floats; their shortest repr is the exact text
        # the client sent (validation refuses bounds that would not survive the trip).
        if value != value or value in (float("inf"), float("-inf")):
            return None
        return _in_range(Decimal(repr(value)))
    return _exact(value)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _normalize_amount(value: object) -> object:
    """Exact numbers become plain decimal strings; strings are kept as sent (Lago echoes them)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal) and value.is_finite():
        return format(value, "f")
    return value


def _normalize_integer(value: object) -> object:
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return int(value)
    return value


def _normalize_bound(value: object) -> object:
    """Bounds stay JSON numbers: int when integral, else a float whose repr is the exact decimal."""
    if isinstance(value, Decimal) and value.is_finite():
        if value == value.to_integral_value():
            return int(value)
        as_float = float(value)
        return as_float if Decimal(repr(as_float)) == value else value
    return value


def _storable_bound(value: object) -> bool:
    """A bound survives a JSON column exactly (integral, or a decimal whose float repr is itself)."""
    if not isinstance(value, Decimal):
        return True
    return not isinstance(_normalize_bound(value), Decimal)


def _normalize_ranges(ranges: object, amount_keys: tuple[str, ...]) -> object:
    if not isinstance(ranges, list):
        return ranges
    normalized = []
    for item in ranges:
        if not isinstance(item, Mapping):
            normalized.append(item)
            continue
        row: dict[str, Any] = {}
        for key in ("from_value", "to_value", *amount_keys):
            if key in item:
                value = item[key]
                row[key] = _normalize_bound(value) if key in ("from_value", "to_value") else _normalize_amount(value)
        normalized.append(row)
    return normalized


# --- filter ------------------------------------------------------------------------------------


def filter_properties(charge_model: str, properties: Mapping[str, Any] | None) -> dict[str, Any]:
    """Keep only the keys the model uses (Lago's FilterProperties), normalized.

    Amounts become decimal strings, integral numbers for integer keys become ints, range rows keep
    only their bounds and amounts. `pricing_group_keys` (or the legacy `grouped_by`, renamed) and
    `presentation_group_keys` are kept for every model. Unknown keys are dropped. Values that cannot
    be normalized are kept as they are so that `validate_properties` reports them.
    """
    if not isinstance(properties, Mapping):
        return {}
    result: dict[str, Any] = {}
    for key in _MODEL_KEYS.get(charge_model, ()):
        if key not in properties:
            continue
        value = properties[key]
        if key in _RANGE_KEYS:
            result[key] = _normalize_ranges(value, _RANGE_KEYS[key])
        elif key in _INTEGER_KEYS:
            result[key] = _normalize_integer(value)
        elif key in _AMOUNT_KEYS:
            result[key] = _normalize_amount(value)
        else:  # pragma: no cover - every model key is typed above
            result[key] = value
    if charge_model in _MODEL_KEYS:
        group_keys = properties.get("pricing_group_keys")
        if not group_keys:
            group_keys = properties.get("grouped_by")
        if group_keys:
            result["pricing_group_keys"] = (
                [k for k in group_keys if k != ""] if isinstance(group_keys, list) else group_keys
            )
        if properties.get("presentation_group_keys"):
            result["presentation_group_keys"] = properties["presentation_group_keys"]
    return result


# --- validate ----------------------------------------------------------------------------------


class _Errors:
    def __init__(self) -> None:
        self.by_field: dict[str, list[str]] = {}

    def add(self, field: str, code: str) -> None:
        codes = self.by_field.setdefault(field, [])
        if code not in codes:
            codes.append(code)


def _valid_amount(value: object) -> bool:
    parsed = parse_amount(value)
    return parsed is not None and parsed >= 0


def _validate_ranges(errors: _Errors, key: str, ranges: object, amount_keys: tuple[str, ...]) -> None:
    table = key.removesuffix("_ranges")  # graduated, volume, graduated_percentage
    if not ranges:
        errors.add(key, f"missing_{key}")
        return
    if not isinstance(ranges, list) or len(ranges) > MAX_RANGES or not all(isinstance(r, Mapping) for r in ranges):
        errors.add(key, f"invalid_{key}")
        return
    for row in ranges:
        for amount_key in amount_keys:
            if not _valid_amount(row.get(amount_key)):
                errors.add(amount_key, "invalid_rate" if amount_key == "rate" else "invalid_amount")
    if not _valid_bounds(ranges, allow_adjacent=key in _ADJACENT_ALLOWED):
        errors.add(key, f"invalid_{table}_ranges")


def _valid_bounds(ranges: list[Any], *, allow_adjacent: bool) -> bool:
    steps: set[str] = set()
    previous_to: Decimal | None = None
    last = len(ranges) - 1
    for index, row in enumerate(ranges):
        raw_from, raw_to = row.get("from_value"), row.get("to_value")
        from_value = parse_bound(raw_from)
        if from_value is None or not _storable_bound(raw_from):
            return False
        if index == 0:
            if from_value != 0:
                return False
        else:
            assert previous_to is not None
            if from_value == previous_to + 1:
                steps.add("inclusive")
            elif allow_adjacent and from_value == previous_to:
                steps.add("adjacent")
            else:
                return False
        if index == last:
            if raw_to is not None:
                return False
        else:
            to_value = parse_bound(raw_to)
            if to_value is None or to_value <= from_value or not _storable_bound(raw_to):
                return False
            previous_to = to_value
    return len(steps) <= 1


def _validate_group_keys(errors: _Errors, properties: Mapping[str, Any]) -> None:
    key = "pricing_group_keys" if properties.get("pricing_group_keys") is not None else "grouped_by"
    keys = properties.get(key)
    if keys is None or keys == []:
        pass
    elif not (isinstance(keys, list) and all(isinstance(k, str) and k.strip() for k in keys)):
        errors.add(key, "invalid_type")
    if properties.get("presentation_group_keys"):
        # Lago's invoice presentation breakdowns are not implemented: refused rather than stored
        # and never shown (docs/lago-compatibility.md).
        errors.add("presentation_group_keys", "value_is_not_supported")


def validate_properties(charge_model: str, properties: Mapping[str, Any] | None) -> dict[str, list[str]]:
    """`{}` when the properties are valid for the model, else Lago's codes by field.

    Fields and codes follow Lago's validators: `amount: invalid_amount`,
    `graduated_ranges: missing_graduated_ranges | invalid_graduated_ranges`,
    `per_unit_amount / flat_amount: invalid_amount`, `volume_ranges: invalid_volume_ranges`,
    `package_size: invalid_package_size`, `free_units: invalid_free_units`, `rate: invalid_rate`,
    `fixed_amount: invalid_fixed_amount`, `free_units_per_events: invalid_free_units_per_events`,
    `free_units_per_total_aggregation: invalid_free_units_per_total_aggregation`,
    `per_transaction_min_amount / per_transaction_max_amount: invalid_amount`,
    `per_transaction_max_amount: per_transaction_max_lower_than_per_transaction_min`,
    `graduated_percentage_ranges: invalid_graduated_percentage_ranges`,
    `pricing_group_keys: invalid_type`. An unknown model gives `charge_model: value_is_invalid`.
    Lago's API reports these codes under `properties` (see `flatten_errors`).
    """
    errors = _Errors()
    if charge_model not in _MODEL_KEYS:
        errors.add("charge_model", "value_is_invalid")
        return errors.by_field
    if properties is None:
        properties = {}
    if not isinstance(properties, Mapping):
        errors.add("properties", "invalid_type")
        return errors.by_field

    if charge_model == "standard":
        if not _valid_amount(properties.get("amount")):
            errors.add("amount", "invalid_amount")
    elif charge_model in ("graduated", "volume", "graduated_percentage"):
        key = f"{charge_model}_ranges"
        _validate_ranges(errors, key, properties.get(key), _RANGE_KEYS[key])
    elif charge_model == "package":
        if not _valid_amount(properties.get("amount")):
            errors.add("amount", "invalid_amount")
        free_units = properties.get("free_units")
        if not (isinstance(free_units, int) and _is_int(free_units) and free_units >= 0):
            errors.add("free_units", "invalid_free_units")
        size = properties.get("package_size")
        if not (isinstance(size, int) and _is_int(size) and size > 0):
            errors.add("package_size", "invalid_package_size")
    elif charge_model == "percentage":
        _validate_percentage(errors, properties)
    _validate_group_keys(errors, properties)
    return errors.by_field


def _validate_percentage(errors: _Errors, properties: Mapping[str, Any]) -> None:
    if not _valid_amount(properties.get("rate")):
        errors.add("rate", "invalid_rate")
    fixed = properties.get("fixed_amount")
    if fixed is not None and not _valid_amount(fixed):
        errors.add("fixed_amount", "invalid_fixed_amount")
    per_events = properties.get("free_units_per_events")
    if per_events is not None and not (_is_int(per_events) and per_events > 0):
        errors.add("free_units_per_events", "invalid_free_units_per_events")
    per_total = properties.get("free_units_per_total_aggregation")
    if per_total is not None and not _valid_amount(per_total):
        errors.add("free_units_per_total_aggregation", "invalid_free_units_per_total_aggregation")
    minimum = properties.get("per_transaction_min_amount")
    maximum = properties.get("per_transaction_max_amount")
    if minimum not in (None, "") and not _valid_amount(minimum):
        errors.add("per_transaction_min_amount", "invalid_amount")
    if maximum not in (None, "") and not _valid_amount(maximum):
        errors.add("per_transaction_max_amount", "invalid_amount")
    if _valid_amount(minimum) and _valid_amount(maximum) and parse_amount(minimum) > parse_amount(maximum):  # type: ignore[operator]
        errors.add("per_transaction_max_amount", "per_transaction_max_lower_than_per_transaction_min")


def flatten_errors(errors: Mapping[str, list[str]]) -> list[str]:
    """Every code once, in order: what Lago's API returns as `{"properties": [...]}`."""
    codes: list[str] = []
    for field_codes in errors.values():
        for code in field_codes:
            if code not in codes:
                codes.append(code)
    return codes
