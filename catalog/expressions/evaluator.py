"""Evaluation of a parsed expression against an event, in Decimal arithmetic."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from decimal import (
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
    Underflow,
    localcontext,
)

from billing_project.core.money import parse_decimal
from catalog.pricing.units import MAX_PRECISION, round_to

from .parser import MAX_STRING_LENGTH, ExpressionError

_CONTEXT = Context(
    prec=60,
    rounding=ROUND_HALF_EVEN,
    Emax=10_000,
    Emin=-10_000,
    traps=[InvalidOperation, DivisionByZero, Overflow, Underflow],
)
_ROUNDING_MODE = {"round": "round", "ceil": "ceil", "floor": "floor"}


def evaluate_tree(tree: tuple, event: Mapping) -> Decimal | str:
    """The value of a parsed expression for `event`; raises ExpressionError."""
    if not isinstance(event, Mapping):
        raise ExpressionError("the event must be an object with code, timestamp and properties")
    try:
        with localcontext(_CONTEXT):
            return _evaluate(tree, event)
    except (InvalidOperation, Overflow, Underflow) as exc:
        raise ExpressionError("the result is too large or not a number") from exc


def format_value(value: Decimal | str) -> str:
    """A value as text, as `concat` and the API show it: decimals in plain notation, never `1E+2`."""
    if isinstance(value, Decimal):
        return format(value, "f")
    return value


def _evaluate(node: tuple, event: Mapping) -> Decimal | str:
    kind = node[0]
    if kind == "num":
        return node[1]
    if kind == "str":
        return node[1]
    if kind == "var":
        return _variable(node[1], event)
    if kind == "neg":
        return -_number(_evaluate(node[1], event), "-")
    if kind == "bin":
        op = node[1]
        left = _number(_evaluate(node[2], event), op)
        right = _number(_evaluate(node[3], event), op)
        if op == "+":
            return left + right
        if op == "-":
            return left - right
        if op == "*":
            return left * right
        if right == 0:
            raise ExpressionError("division by zero")
        return left / right
    if kind == "call":
        return _call(node[1], node[2], event)
    raise ExpressionError(f"unknown node {kind}")  # pragma: no cover - the parser builds only the kinds above


def _number(value: Decimal | str, where: str) -> Decimal:
    if isinstance(value, str):
        raise ExpressionError(f"{where} needs numbers, got the text {value[:50]!r}")
    return value


def _call(name: str, args: tuple, event: Mapping) -> Decimal | str:
    if name == "concat":
        parts = [format_value(_evaluate(arg, event)) for arg in args]
        joined = "".join(parts)
        if len(joined) > MAX_STRING_LENGTH:
            raise ExpressionError(f"concat() would give more than {MAX_STRING_LENGTH} characters")
        return joined
    value = _number(_evaluate(args[0], event), f"{name}()")
    digits = 0
    if len(args) == 2:
        raw_digits = _number(_evaluate(args[1], event), f"{name}()")
        if raw_digits != raw_digits.to_integral_value() or abs(raw_digits) > MAX_PRECISION:
            raise ExpressionError(
                f"{name}() precision must be a whole number between -{MAX_PRECISION} and {MAX_PRECISION}"
            )
        digits = int(raw_digits)
    return round_to(value, digits, _ROUNDING_MODE[name])


def _variable(attribute: str, event: Mapping) -> Decimal | str:
    if attribute == "event.code":
        code = event.get("code")
        if code is None:
            raise ExpressionError("event.code is missing")
        return str(code)
    if attribute == "event.timestamp":
        timestamp = event.get("timestamp")
        if timestamp is None:
            raise ExpressionError("event.timestamp is missing")
        return _timestamp(timestamp)
    name = attribute[len("event.properties.") :]
    properties = event.get("properties") or {}
    if not isinstance(properties, Mapping) or properties.get(name) is None:
        raise ExpressionError(f"event.properties.{name} is missing")
    return _property(name, properties[name])


def _timestamp(value: object) -> Decimal:
    if isinstance(value, str) and _as_number(value) is None:
        try:
            value = dt.datetime.fromisoformat(value.strip())
        except ValueError as exc:
            raise ExpressionError("event.timestamp must be unix seconds or an ISO 8601 time with its offset") from exc
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ExpressionError("event.timestamp must be timezone-aware")
        epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
        delta = value - epoch
        return Decimal(delta.days * 86400 + delta.seconds) + Decimal(delta.microseconds).scaleb(-6)
    parsed = _as_number(value)
    if parsed is None:
        raise ExpressionError("event.timestamp must be unix seconds or an ISO 8601 time with its offset")
    return +parsed


def _property(name: str, value: object) -> Decimal | str:
    if isinstance(value, bool):
        return "true" if value else "false"
    number = _as_number(value)
    if number is not None:
        return +number  # under the evaluation context: refuses absurd exponents
    if isinstance(value, str):
        return value
    raise ExpressionError(f"event.properties.{name} must be a number or a string")


def _as_number(value: object) -> Decimal | None:
    """`parse_decimal`'s number, and a finite float (a JSON number of an event) by its shortest repr."""
    if isinstance(value, float):
        return Decimal(repr(value)) if math.isfinite(value) else None
    return parse_decimal(value)
