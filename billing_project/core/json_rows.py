"""Related rows read inside their parent's statement, as JSON, and turned back into model instances.

A read that renders an object with several relations (a plan: its charges, their filters and
taxes, its taxes, thresholds, commitment and fixed charges) costs one statement a relation with
`prefetch_related`. On PostgreSQL the same rows can ride on the parent's row: a correlated
subquery aggregates each relation's rows with `json_agg(json_build_array(<columns>) ORDER BY …)`,
and `instances()` builds the model instances from them, exactly as the database read would have:

- every concrete column is read, in `_meta.concrete_fields` order (`columns_sql`), so an instance
  has no deferred field that a later access would read;
- values keep their Python types: decimals travel as text (`numeric::text`, then `Decimal`, so no
  digit is lost to a JSON number), timestamps as ISO text (back to aware UTC datetimes), UUIDs as
  text; JSON columns ride as JSON and decode as Django decodes them (`json.loads`, no decoder);
- the order is the SQL `ORDER BY` inside the aggregate, written by the caller to match the
  prefetch it replaces.

Other databases keep the prefetches: `supported(alias)` tells the caller which way to read.
Nothing here is cached but the per-model column layout (schema, not rows).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import orjson
from django.db import connection, connections, models

_Converter = Callable[[Any], Any]
_LAYOUTS: dict[type[models.Model], tuple[str, tuple[_Converter | None, ...]]] = {}
_PART_LAYOUTS: dict[tuple[type[models.Model], tuple[str, ...]], tuple[str, tuple[_Converter | None, ...]]] = {}


def list_sql(columns: str, source: str, order: str) -> str:
    """`source`'s rows (`FROM …`) as a JSON array of `columns` arrays in `order` (`[]` when none).
    Identifiers from the models' metadata only: no value of a request reaches this text."""
    return f"(SELECT COALESCE(json_agg(json_build_array({columns}) ORDER BY {order}), '[]') FROM {source})"  # noqa: S608 - identifiers


def table(model: type[models.Model]) -> str:
    """The model's table name, quoted."""
    return connection.ops.quote_name(model._meta.db_table)


def column(model: type[models.Model], field: str) -> str:
    """The column of the model's field `field`, quoted."""
    return connection.ops.quote_name(str(model._meta.get_field(field).column))  # type: ignore[union-attr]


def supported(alias: str) -> bool:
    """Whether related rows can be read as JSON on this database (PostgreSQL)."""
    return connections[alias].vendor == "postgresql"


def datetime_value(value: str) -> datetime:
    """A `timestamptz` of the JSON text as a database read gives it: an aware datetime in UTC."""
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo is UTC else parsed.astimezone(UTC)


_datetime = datetime_value


def _json_field(field: models.JSONField) -> _Converter | None:
    if field.decoder is None:
        return None  # the JSON value as the aggregate carries it
    decoder = field.decoder
    return lambda text: json.loads(text, cls=decoder)


def _layout(model: type[models.Model]) -> tuple[str, tuple[_Converter | None, ...]]:
    """The model's columns (`{alias}` to fill) and the converter of each value (None: as decoded)."""
    if model not in _LAYOUTS:
        _LAYOUTS[model] = _fields_layout(model, model._meta.concrete_fields)
    return _LAYOUTS[model]


def _fields_layout(model: type[models.Model], fields: Sequence[Any]) -> tuple[str, tuple[_Converter | None, ...]]:
    columns: list[str] = []
    converters: list[_Converter | None] = []
    for field in fields:
        target = field.target_field if field.is_relation else field  # type: ignore[attr-defined]
        kind = target.get_internal_type()
        column = f'{{alias}}."{field.column}"'
        converter: _Converter | None
        if kind == "DecimalField":
            column, converter = f"{column}::text", Decimal
        elif kind == "DateTimeField":
            converter = _datetime
        elif kind == "DateField":
            converter = date.fromisoformat
        elif kind == "UUIDField":
            converter = uuid.UUID
        elif kind == "JSONField":
            converter = _json_field(field)  # type: ignore[arg-type]
            if converter is not None:
                column = f"{column}::text"
        elif kind in ("CharField", "TextField", "BooleanField", "IntegerField", "BigIntegerField",
                      "PositiveIntegerField", "PositiveSmallIntegerField", "SmallIntegerField", "SlugField",
                      "EmailField", "URLField"):  # fmt: skip
            converter = None
        else:
            raise NotImplementedError(f"{model.__name__}.{field.name}: {kind} is not read as JSON")
        columns.append(column)
        converters.append(converter)
    return ", ".join(columns), tuple(converters)


def _part_layout(model: type[models.Model], names: tuple[str, ...]) -> tuple[str, tuple[_Converter | None, ...]]:
    key = (model, names)
    if key not in _PART_LAYOUTS:
        _PART_LAYOUTS[key] = _fields_layout(model, [model._meta.get_field(name) for name in names])
    return _PART_LAYOUTS[key]


def some_columns_sql(model: type[models.Model], alias: str, names: tuple[str, ...]) -> str:
    """The columns of these fields (attribute names: `invoice_id` or `invoice`) of the table
    aliased `alias`, each as `instance()` reads it (a decimal as text…): a row of a few columns,
    not an instance; its reader converts the values it uses."""
    return _part_layout(model, names)[0].format(alias=alias)


def columns_sql(model: type[models.Model], alias: str) -> str:
    """The model's concrete columns of the table aliased `alias`, comma-separated, as `instance()`
    reads them (to put inside `json_build_array(…)`)."""
    return _layout(model)[0].format(alias=alias)


def width(model: type[models.Model]) -> int:
    """How many values `columns_sql` gives for the model."""
    return len(model._meta.concrete_fields)


def instance(model: type[models.Model], values: Sequence[Any], *, db: str = "default") -> Any:
    """The model instance that a database read of these values (`columns_sql`'s order) builds."""
    converters = _layout(model)[1]
    converted = [
        value if convert is None or value is None else convert(value)
        for value, convert in zip(values, converters, strict=True)
    ]
    return model.from_db(db, None, converted)  # type: ignore[arg-type]  # None: every concrete field, in order


def loads(text: str) -> Any:
    """The aggregate's JSON text decoded (as `json.loads` decodes it: numbers past 64 bits too)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def related(owner: models.Model, field_name: str, value: models.Model | None) -> None:
    """Leave `value` where `select_related(field_name)` leaves a foreign key's row."""
    owner._meta.get_field(field_name).set_cached_value(owner, value)  # type: ignore[union-attr]
