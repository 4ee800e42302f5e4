"""Typed service inputs: "not sent" as a value (`UNSET`), and building a frozen dataclass from the
validated data of an API input serializer.

A partial update (Lago's upserts and `PUT`s) leaves alone what the client did not send, and
changes to null what it sent as null. A typed input says which with `UNSET`:

    @dataclass(frozen=True)
    class CustomerUpsert:
        external_id: str
        name: str | None | Unset = UNSET

The API builds it from its input serializer's `validated_data` (`from_validated`), which holds
exactly the keys the client sent; the service reads typed attributes and never parses a dict.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Mapping
from functools import partial
from types import MappingProxyType
from typing import Any, ClassVar, Final, Self, TypeVar


class Unset(enum.Enum):
    """The type of `UNSET`: the value of a field the client did not send."""

    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:  # "not sent" is falsy, as a missing key's `dict.get` was
        return False


UNSET: Final = Unset.UNSET

T = TypeVar("T")


def from_validated(cls: type[T], data: Mapping[str, Any], **converted: Any) -> T:
    """`cls(...)` from the keys of `data` that are fields of `cls` (other keys are not inputs of the
    service and are left out; absent fields stay `UNSET`). `converted` gives the value of a field
    that needs building (a nested input), and wins over `data`; pass `UNSET` for one absent."""
    names = {field.name for field in dataclasses.fields(cls)}  # type: ignore[arg-type]
    values = {name: data[name] for name in data if name in names}
    values.update({name: value for name, value in converted.items() if value is not UNSET})
    for name, value in converted.items():
        if value is UNSET:
            values.pop(name, None)
    return cls(**values)


Builder = Callable[[Mapping[str, Any], str], Any]  # (validated data, field name) -> the field's input


class Fields:
    """The base of a typed input dataclass: `X.from_validated(data)` builds it from validated data.
    The fields sent are taken as they are, except those named in `nested_fields`, each built by its
    builder from the data: `one(Y)` a nested object, `many(Y)` a list of them, or any function of
    (data, name)."""

    __slots__ = ()
    nested_fields: ClassVar[Mapping[str, Builder]] = MappingProxyType({})

    @classmethod
    def from_validated(cls, data: Mapping[str, Any]) -> Self:
        return from_validated(cls, data, **{name: build(data, name) for name, build in cls.nested_fields.items()})


def _builder(kind: type) -> Callable[[Mapping[str, Any]], Any]:
    return kind.from_validated if issubclass(kind, Fields) else partial(from_validated, kind)


def one(kind: type) -> Builder:
    """The `kind` input of the object sent under the field's name (null and not sent pass through)."""
    return lambda data, name: nested(data, name, _builder(kind))


def built(**builders: Builder) -> Mapping[str, Builder]:
    """A `nested_fields` table: `nested_fields = built(filters=many(FilterFields))`."""
    return MappingProxyType(builders)


def many(kind: type) -> Builder:
    """The `kind` inputs of the list of objects sent under the field's name, as a tuple."""
    return lambda data, name: nested_items(data, name, _builder(kind))


def nested(data: Mapping[str, Any], name: str, build: Callable[[Mapping[str, Any]], T]) -> T | Unset | None:
    """The nested input of the object sent as `data[name]` (`build(...)`); null and not sent pass through."""
    value = data.get(name, UNSET)
    return build(value) if isinstance(value, Mapping) else value


def nested_items(
    data: Mapping[str, Any], name: str, build: Callable[[Mapping[str, Any]], T]
) -> tuple[T, ...] | Unset | None:
    """The nested inputs of the list of objects sent as `data[name]`; null and not sent pass through."""
    value = data.get(name, UNSET)
    return tuple(build(item) for item in value) if isinstance(value, list) else value


def sent(value: object) -> bool:
    """True when the client sent the field (null included)."""
    return value is not UNSET


def empty(fields: object) -> bool:
    """True when no field of the input was sent (`{}`, as a dict input's falsiness said)."""
    return all(getattr(fields, field.name) is UNSET for field in dataclasses.fields(fields))  # type: ignore[arg-type]


def or_none(value: T | Unset | None) -> T | None:
    """The value sent, None when null or not sent."""
    return None if value is UNSET else value  # type: ignore[return-value]
