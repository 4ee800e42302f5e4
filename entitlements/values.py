"""Privilege values: how a value sent by a client is checked and stored, and how a stored one is rendered.

Pure (no ORM). Values are stored as text, as Lago stores them, and rendered by the privilege's
`value_type`: `integer` as a JSON integer, `boolean` as `true`/`false`, `string` and `select` as
text. What is accepted (Lago's rules):

| value_type | accepted | stored |
|---|---|---|
| `integer` | an integer, or text that is an integer (`"12"`); not `true`/`false`, not `12.5` | `"12"` |
| `boolean` | `true`, `false`, `"true"`, `"false"` | `"true"` / `"false"` |
| `string` | text | as sent |
| `select` | one of `config.select_options` | as sent |
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, overload

VALUE_TYPES = ("integer", "string", "boolean", "select")
MAX_VALUE_LENGTH = 255
_INTEGER = re.compile(r"^-?[0-9]+$")


class InvalidValue(ValueError):
    """A value its privilege refuses; `code` is Lago's error code."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def stored_value(value: Any, value_type: str, config: Mapping[str, Any] | None) -> str:
    """The text to store for `value`, or `InvalidValue` (`value_is_invalid`, `value_not_in_select_options`)."""
    if value_type == "select":
        options = (config or {}).get("select_options") or []
        if isinstance(value, str) and value in options:
            return value
        raise InvalidValue("value_not_in_select_options")
    if value_type == "boolean":
        if value is True or value == "true":
            return "true"
        if value is False or value == "false":
            return "false"
        raise InvalidValue("value_is_invalid")
    if value_type == "integer":
        if isinstance(value, int) and not isinstance(value, bool):
            text = str(value)
        elif isinstance(value, str) and _INTEGER.match(value):
            text = str(int(value))
        else:
            raise InvalidValue("value_is_invalid")
        if len(text) > 30:
            raise InvalidValue("value_is_invalid")
        return text
    if value_type == "string" and isinstance(value, str):
        if len(value) > MAX_VALUE_LENGTH:
            raise InvalidValue("value_is_too_long")
        return value
    raise InvalidValue("value_is_invalid")


@overload
def cast_value(value: str, value_type: str) -> int | bool | str: ...
@overload
def cast_value(value: str | None, value_type: str) -> int | bool | str | None: ...
def cast_value(value: str | None, value_type: str) -> int | bool | str | None:
    """A stored value as the API renders it."""
    if value is None:
        return None
    if value_type == "integer":
        try:
            return int(value)
        except ValueError:
            return 0
    if value_type == "boolean":
        return value in ("true", "t", "1")
    return value


def same_value(value_type: str, left: Any, right: Any) -> bool:
    """Whether two values (sent or stored) mean the same for this type."""
    return _comparable(left, value_type) == _comparable(right, value_type)


def _comparable(value: Any, value_type: str) -> Any:
    if value is None:
        return None
    if value_type == "integer":
        if isinstance(value, bool):
            return ("bool", value)
        try:
            return int(value)
        except (TypeError, ValueError):
            return ("raw", str(value))
    if value_type == "boolean":
        if isinstance(value, bool):
            return value
        return str(value) in ("true", "t", "1")
    return value


def select_config_valid(value_type: str, config: Any) -> bool:
    """Lago's rule: a `select` privilege has exactly `{"select_options": [non-empty text list]}`;
    every other type has an empty config."""
    if value_type == "select":
        if not isinstance(config, Mapping) or list(config.keys()) != ["select_options"]:
            return False
        options = config["select_options"]
        return isinstance(options, list) and bool(options) and all(isinstance(item, str) for item in options)
    return not config
