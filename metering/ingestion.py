"""Event payloads: plain-Python parsing and validation, and exact JSON. No SQL here.

No serializer runs per event. A batch is validated as a whole (any bad event rejects the batch,
errors keyed by index) into `ParsedEvent`s; `metering.services.events_ingest` de-duplicates them
in memory and hands them to the event store (`metering.store`), which writes each one once.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_FLOOR, Context, Decimal, InvalidOperation
from typing import Any

import orjson
from django.utils import timezone

from metering.models import VALUE_DIGITS, VALUE_PLACES, EventErrorCode

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_TIMESTAMP = Decimal("253402300799")  # 9999-12-31T23:59:59Z
MAX_TEXT = 255
_MAX_VALUE = Decimal(10) ** (VALUE_DIGITS - VALUE_PLACES)
_MAX_INT_VALUE = 10 ** (VALUE_DIGITS - VALUE_PLACES)
_MAX_INT_TIMESTAMP = int(MAX_TIMESTAMP)
_WIDE = Context(prec=200)

MANDATORY = "value_is_mandatory"
INVALID = "value_is_invalid"
INVALID_FORMAT = "invalid_format"


@dataclass(slots=True)
class ParsedEvent:
    """One validated event, ready to be written."""

    index: int
    transaction_id: str
    external_subscription_id: str
    external_customer_id: str
    code: str
    timestamp: datetime
    properties: dict[str, Any]
    precise_total_amount_cents: Decimal | None
    id: uuid.UUID | str | None = None  # set when stored (PostgreSQL returns its text form)
    value: Decimal | None = None
    subscription_id: uuid.UUID | None = None
    customer_id: uuid.UUID | None = None
    errors: list[str] = field(default_factory=list)
    dimensions: dict[str, str] = field(default_factory=dict)
    metric_known: bool = False
    created_at: datetime | None = None
    # A unique-count metric's field name, when the event has that property: the store links the
    # event into the metric's unique-count state (PostgreSQL; docs/metering.md).
    unique_field: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.external_subscription_id, self.transaction_id)


def _present(value: Any) -> bool:
    return value is not None and value != ""


def _text(value: Any, errors: dict[str, list[str]], name: str, *, required: bool) -> str:
    if not _present(value):
        if required:
            errors[name] = [MANDATORY]
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        errors[name] = [INVALID]
        return ""
    text = str(value)
    if len(text) > MAX_TEXT:
        errors[name] = [INVALID]
        return ""
    return text


def parse_decimal_value(value: Any) -> Decimal | None:
    """A number or numeric string as an exact Decimal; None when it is not one."""
    kind = type(value)
    if kind is int:
        return Decimal(value)
    if kind is Decimal:
        return value if value.is_finite() else None
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float):  # never produced by ExactJSONParser; accepted from Python callers
        value = repr(value)
    if not isinstance(value, int | str | Decimal):
        return None
    try:
        number = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
    except (InvalidOperation, ValueError):
        return None
    if not number.is_finite():
        return None
    return number


def storable(number: Decimal) -> bool:
    """Fits numeric(38, 12) without losing digits."""
    parts = number.as_tuple()
    if isinstance(parts.exponent, int) and parts.exponent >= 0 and len(parts.digits) + parts.exponent <= 26:
        return True  # an integer below 10**26 (the common case)
    if abs(number) >= _MAX_VALUE:
        return False
    exponent = number.normalize(_WIDE).as_tuple().exponent
    return isinstance(exponent, int) and exponent >= -VALUE_PLACES


def parse_timestamp(value: Any, now: datetime) -> datetime | None:
    """Unix seconds (int, fraction, number or numeric string); None/"" means now. None if invalid."""
    if value is None or value == "":
        return now
    if type(value) is int:
        if 0 <= value <= _MAX_INT_TIMESTAMP:
            return EPOCH + timedelta(seconds=value)
        return None
    number = parse_decimal_value(value)
    if number is None or number < 0 or number > MAX_TIMESTAMP:
        return None
    micros = int((number * 1_000_000).to_integral_value(rounding=ROUND_FLOOR))
    return EPOCH + timedelta(microseconds=micros)


def _short_text(value: Any) -> bool:
    return type(value) is str and 0 < len(value) <= MAX_TEXT


def parse_event(index: int, raw: Any, now: datetime) -> tuple[ParsedEvent | None, dict[str, list[str]]]:
    """Validate one event payload; returns the event or Lago's `{field: [codes]}` errors.

    The common shape (string ids, integer or absent timestamp, an object or no properties, no
    precise amount) takes a fast path that builds nothing but the event; anything else goes through
    the general checks, which give the same answers."""
    if type(raw) is dict:
        get = raw.get
        transaction_id = get("transaction_id")
        code = get("code")
        external_subscription_id = get("external_subscription_id")
        external_customer_id = get("external_customer_id")
        timestamp = get("timestamp")
        properties = get("properties")
        if (
            _short_text(transaction_id)
            and _short_text(code)
            and _short_text(external_subscription_id)
            and (external_customer_id is None or _short_text(external_customer_id))
            and (properties is None or type(properties) is dict)
            and get("precise_total_amount_cents") is None
        ):
            if timestamp is None:
                moment: datetime | None = now
            elif type(timestamp) is int and 0 <= timestamp <= _MAX_INT_TIMESTAMP:
                moment = EPOCH + timedelta(seconds=timestamp)
            else:
                moment = parse_timestamp(timestamp, now)
            if moment is not None:
                return (
                    ParsedEvent(
                        index,
                        transaction_id,
                        external_subscription_id,
                        external_customer_id or "",
                        code,
                        moment,
                        {} if properties is None else properties,
                        None,
                    ),
                    {},
                )
    return _parse_event_slow(index, raw, now)


def _parse_event_slow(index: int, raw: Any, now: datetime) -> tuple[ParsedEvent | None, dict[str, list[str]]]:
    errors: dict[str, list[str]] = {}
    if not isinstance(raw, Mapping):
        return None, {"event": [INVALID]}
    transaction_id = _text(raw.get("transaction_id"), errors, "transaction_id", required=True)
    code = _text(raw.get("code"), errors, "code", required=True)
    external_customer_id = _text(raw.get("external_customer_id"), errors, "external_customer_id", required=False)
    external_subscription_id = _text(
        raw.get("external_subscription_id"), errors, "external_subscription_id", required=True
    )
    timestamp = parse_timestamp(raw.get("timestamp"), now)
    if timestamp is None:
        errors["timestamp"] = [INVALID_FORMAT]
    properties = raw.get("properties")
    if properties is None:
        properties = {}
    elif not isinstance(properties, Mapping):
        errors["properties"] = [INVALID]
        properties = {}
    precise: Decimal | None = None
    raw_precise = raw.get("precise_total_amount_cents")
    if _present(raw_precise):
        precise = parse_decimal_value(raw_precise)
        if precise is None or not storable(precise):
            errors["precise_total_amount_cents"] = [INVALID]
            precise = None
    if errors:
        return None, errors
    assert timestamp is not None
    return (
        ParsedEvent(
            index=index,
            transaction_id=transaction_id,
            external_subscription_id=external_subscription_id,
            external_customer_id=external_customer_id,
            code=code,
            timestamp=timestamp,
            properties=dict(properties),
            precise_total_amount_cents=precise,
        ),
        {},
    )


# --- JSON without float rounding --------------------------------------------------------------


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        # A Decimal becomes a JSON number only when that number reads back as the same value;
        # otherwise it is kept as a string, so no digit is ever lost.
        if value.is_finite():
            as_float = float(value)
            if Decimal(repr(as_float)) == value:
                return as_float
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(value: Any) -> str:
    return json.dumps(value, default=_json_default, separators=(",", ":"), ensure_ascii=False)


def dumps_bytes(value: Any) -> bytes:
    """`dumps` as UTF-8 bytes, by orjson when it can (the same JSON values, several times faster);
    integers beyond 64 bits, which orjson refuses, go through the standard library."""
    try:
        return orjson.dumps(value, default=_json_default)
    except orjson.JSONEncodeError:
        return dumps(value).encode()


def dimensions_key(dimensions: Mapping[str, str]) -> str:
    return json.dumps(dict(sorted(dimensions.items())), separators=(",", ":"), ensure_ascii=False)


def dimension_value(value: Any) -> str | None:
    """The string form of a property used as a filter or group dimension (None when absent)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | Decimal):
        return str(value)
    return None


def truncate_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def now_utc() -> datetime:
    return timezone.now()


__all__ = [
    "EventErrorCode",
    "ParsedEvent",
    "dimension_value",
    "dimensions_key",
    "dumps",
    "now_utc",
    "parse_decimal_value",
    "parse_event",
    "parse_timestamp",
    "storable",
    "truncate_hour",
]
