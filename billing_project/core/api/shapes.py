"""One definition per response shape: a `TypedDict`, used by the renderer and the schema alike.

The renderers are plain functions that build the response dict by hand (the fast path: no
serializer runs per object). Each is annotated to return its shape:

    class EventShape(TypedDict):
        lago_id: Uuid
        transaction_id: str
        lago_customer_id: Uuid | None
        properties: dict[str, Any]

    def event_dict(event) -> EventShape:
        return {"lago_id": str(event.id), ...}

mypy checks that the dict has exactly the shape's keys with values of its types, and the OpenAPI
schema is derived from the same shape: `schema_serializer(EventShape, "EventOutput")` is the DRF
serializer drf-spectacular documents (component `EventOutput`), used in `extend_schema` and
nested in envelopes like any serializer. So the API's answer and the published schema cannot
drift apart; tests/core/test_shapes.py checks both against real responses.

Types: `str`, `int`, `float` (any JSON number), `bool`, `Uuid`, `DateTime`, `Date` (strings with an OpenAPI format),
`Decimal` strings are `str`; `X | None` is nullable; `list[X]`; `dict[str, Any]` (an object; `dict[str, X]`: its values are X);
`Annotated[str, Choices(...)]` (an enum); `Any` (any JSON value); another shape (a nested object); `NotRequired[X]` (a key that may be
absent). `Annotated[X, Help("...")]` adds a description; `Annotated[dict[str, Any], Component(S)]`
is an object another serializer renders and documents (`list[dict[str, Any]]`: a list of them).
A shape's serializer documents; it renders nothing (calling it raises TypeError).
"""

from __future__ import annotations

import datetime as dt
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, NotRequired, Union, get_args, get_origin, get_type_hints, is_typeddict, overload

from rest_framework import serializers


@dataclass(frozen=True)
class Format:
    """An OpenAPI string format (`uuid`, `date-time`, `date`)."""

    name: str


@dataclass(frozen=True)
class Component:
    """The value is rendered by this serializer (a shape defined by a serializer of its own, such
    as the billable metric summary): `Annotated[dict[str, Any] | None, Component(Summary)]`."""

    serializer: type[serializers.Serializer]


@dataclass(frozen=True)
class Choices:
    """The values a string may take (an enum in the schema): `Annotated[str, Choices(("a", "b"))]`."""

    values: tuple[str, ...]


@dataclass(frozen=True)
class Help:
    """The description of a field in the schema."""

    text: str


Uuid = Annotated[str, Format("uuid")]
DateTime = Annotated[str, Format("date-time")]
Date = Annotated[str, Format("date")]


@overload
def utc_iso(value: dt.datetime) -> str: ...
@overload
def utc_iso(value: None) -> None: ...
@overload
def utc_iso(value: dt.datetime | None) -> str | None: ...
def utc_iso(value: dt.datetime | None) -> str | None:
    """The value of a `DateTime` field: the instant in UTC to the second, as Lago writes it
    (`2026-01-31T23:00:00Z`); None stays None.

    What `strftime("%04Y-%m-%dT%H:%M:%SZ")` writes, built from `isoformat` (whose UTC offset is
    always `+00:00`, cut off), which costs a fraction of `strftime`'s instructions: an invoice page
    formats about a hundred of these (tests/core/test_shapes.py compares the two)."""
    if value is None:
        return None
    return value.astimezone(dt.UTC).isoformat(timespec="seconds")[:-6] + "Z"


_STRING_FIELDS: dict[str | None, Callable[..., serializers.Field]] = {
    None: serializers.CharField,
    "uuid": serializers.UUIDField,
    "date-time": serializers.DateTimeField,
    "date": serializers.DateField,
}
_SERIALIZERS: dict[tuple[type, str], type[serializers.Serializer]] = {}


def schema_serializer(shape: type, name: str | None = None) -> type[serializers.Serializer]:
    """The serializer class documenting `shape` (a TypedDict) as the component `name` (default: the
    shape's name with `Shape` turned into `Output`: `EventShape` -> `EventOutput`, nested shapes
    included). For the schema only: it renders nothing (the renderer does)."""
    if not is_typeddict(shape):
        raise TypeError(f"{shape!r} is not a TypedDict")
    name = name or shape.__name__.removesuffix("Shape") + "Output"
    cached = _SERIALIZERS.get((shape, name))
    if cached is not None:
        return cached
    attributes: dict[str, Any] = {
        "__module__": shape.__module__,
        "__doc__": shape.__dict__.get("__doc__"),
        "to_representation": _schema_only,
    }
    for key, hint in get_type_hints(shape, include_extras=True).items():
        attributes[key] = _field(hint, required=key in getattr(shape, "__required_keys__", ()))
    serializer = type(name, (serializers.Serializer,), attributes)
    _SERIALIZERS[(shape, name)] = serializer
    return serializer


def _schema_only(self: serializers.Serializer, instance: Any) -> Any:
    raise TypeError(f"{type(self).__name__} documents a shape; its renderer builds the response")


def keys_of(shape: type) -> frozenset[str]:
    """The keys a renderer of `shape` returns (those it may leave out included)."""
    return frozenset(get_type_hints(shape))


def _field(hint: Any, *, required: bool = True) -> serializers.Field:
    options: dict[str, Any] = {} if required else {"required": False}
    return _build(hint, options, None)


def _build(hint: Any, options: dict[str, Any], string_format: str | None) -> serializers.Field:
    origin = get_origin(hint)
    if origin is NotRequired:
        (hint,) = get_args(hint)
        return _build(hint, {**options, "required": False}, string_format)
    if origin is Annotated:
        hint, *extras = get_args(hint)
        for extra in extras:
            if isinstance(extra, Component):
                nullable = get_origin(hint) in (Union, types.UnionType) and type(None) in get_args(hint)
                if nullable:
                    options = {**options, "allow_null": True}
                    hint = next(arg for arg in get_args(hint) if arg is not type(None))
                if get_origin(hint) is list:
                    options = {**options, "many": True}
                return extra.serializer(**options)
            if isinstance(extra, Choices):
                options = {**options, "choices": list(extra.values)}
            elif isinstance(extra, Format):
                string_format = extra.name
            elif isinstance(extra, Help):
                options = {**options, "help_text": extra.text}
        return _build(hint, options, string_format)
    if origin in (Union, types.UnionType):
        members = [arg for arg in get_args(hint) if arg is not type(None)]
        if len(members) != 1:
            raise TypeError(f"unsupported union in a shape: {hint!r}")
        return _build(members[0], {**options, "allow_null": True}, string_format)
    if is_typeddict(hint):
        return schema_serializer(hint)(**options)
    if origin is list:
        (item,) = get_args(hint) or (Any,)
        if is_typeddict(item):
            return schema_serializer(item)(many=True, **options)
        return serializers.ListField(child=_build(item, {}, None), **options)
    if hint is dict or origin is dict:
        value = get_args(hint)[1] if get_args(hint) else Any
        if value is Any:
            return serializers.DictField(**options)
        return serializers.DictField(child=_build(value, {}, None), **options)
    if hint is str and "choices" in options:
        return serializers.ChoiceField(**options)
    if hint is str:
        return _STRING_FIELDS[string_format](**options)
    if hint is bool:
        return serializers.BooleanField(**options)
    if hint is int:
        return serializers.IntegerField(**options)
    if hint is float:  # a JSON number (an int is one too)
        return serializers.FloatField(**options)
    if hint is Any or hint is typing.Any:
        return serializers.JSONField(**options)
    raise TypeError(f"unsupported type in a shape: {hint!r}")
