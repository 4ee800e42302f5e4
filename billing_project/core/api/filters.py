"""List filters, declared once per list as a django-filter FilterSet (docs/api-input.md).

A list view declares its query parameters as a `LagoFilterSet` and reads them with
`Filters.parse(request)`: each value is converted to its type and checked against its bounds
(`billing_project.core.bounds`), and anything invalid is a 422 in Lago's shape naming the
parameter. The same declaration documents the parameters in the OpenAPI schema
(`Filters.schema_parameters()`), so the schema and the parsing cannot drift apart.

Lago's list filters arrive as repeated `name[]=` keys (or plain `name=`); `ListFilter` reads both.
`page` and `per_page` belong to every list (`LagoFilterSet`); the page itself is cut by
`billing_project.core.api.pagination`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, ClassVar

import django_filters as df
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Model
from django.utils.datastructures import MultiValueDict
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.request import Request

from billing_project.core.bounds import (
    MAX_DATE,
    MAX_DATETIME,
    MAX_PAGE,
    MAX_YEAR,
    MIN_DATE,
    MIN_DATETIME,
    MIN_YEAR,
)
from billing_project.core.errors import ValidationFailure

MAX_TEXT_LENGTH = 1024  # a filter value longer than any identifier or search term we store
MAX_LIST_LENGTH = 1000  # values of one list filter


# --- form fields: conversion and bounds ------------------------------------------------------------


class BoundedIntegerField(forms.IntegerField):
    """Digits only (no `1e3`, no `1.0`), within [min_value, max_value]."""

    def to_python(self, value: Any) -> int | None:
        if value in self.empty_values:
            return None
        text = str(value).strip()
        digits = text[1:] if text[:1] in "+-" else text
        if not digits.isascii() or not digits.isdigit() or len(digits) > 19:
            raise ValidationError("not an integer", code="invalid")
        return int(text)


class StrictBooleanField(forms.Field):
    """`true`/`false` (also `1`/`0`, any case); anything else is invalid."""

    def to_python(self, value: Any) -> bool | None:
        if value in self.empty_values:
            return None
        text = str(value).strip().lower()
        if text in {"true", "1"}:
            return True
        if text in {"false", "0"}:
            return False
        raise ValidationError("not a boolean", code="invalid")


class BoundedDateField(forms.Field):
    """An ISO date `YYYY-MM-DD` between 2000-01-01 and 2100-12-31."""

    def to_python(self, value: Any) -> dt.date | None:
        if value in self.empty_values:
            return None
        try:
            parsed = dt.date.fromisoformat(str(value).strip())
        except ValueError:
            raise ValidationError("not a date", code="invalid_date") from None
        if not MIN_DATE <= parsed <= MAX_DATE:
            raise ValidationError(f"outside {MIN_YEAR}..{MAX_YEAR}", code="invalid_date")
        return parsed


def parse_datetime_text(value: str) -> dt.datetime | None:
    """An RFC 3339 / ISO 8601 date-time (a date alone is its midnight UTC), or a Unix timestamp in
    seconds; naive times are UTC. None when unreadable. The range is not checked here."""
    text = value.strip()
    if not text:
        return None
    if text.replace(".", "", 1).isdigit() and len(text) <= 20:
        try:
            return dt.datetime.fromtimestamp(float(text), tz=dt.UTC)
        except (OverflowError, OSError, ValueError):
            return None
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)


class BoundedDateTimeField(forms.Field):
    """An RFC 3339 date-time (or a date, or Unix seconds) within 2000..2100, as an aware UTC value."""

    def to_python(self, value: Any) -> dt.datetime | None:
        if value in self.empty_values:
            return None
        parsed = parse_datetime_text(str(value))
        if parsed is None:
            raise ValidationError("not a date-time", code="invalid_date")
        if not MIN_DATETIME <= parsed < MAX_DATETIME:
            raise ValidationError(f"outside {MIN_YEAR}..{MAX_YEAR}", code="invalid_date")
        return parsed.astimezone(dt.UTC)


class _LagoListWidget(forms.Widget):
    """Reads `name[]=a&name[]=b` and `name=a` alike."""

    def value_from_datadict(self, data: Any, files: Any, name: str) -> list[str]:
        values = list(data.getlist(f"{name}[]")) + list(data.getlist(name)) if hasattr(data, "getlist") else []
        return [value for value in values if value != ""]

    def value_omitted_from_data(self, data: Any, files: Any, name: str) -> bool:
        return f"{name}[]" not in data and name not in data


class TextListField(forms.Field):
    widget = _LagoListWidget

    def __init__(self, *args: Any, choices: Sequence[str] | None = None, **kwargs: Any) -> None:
        self.allowed = tuple(choices) if choices is not None else None
        super().__init__(*args, **kwargs)

    def to_python(self, value: Any) -> list[str]:
        values = [str(item) for item in (value or [])]
        if len(values) > MAX_LIST_LENGTH or any(len(item) > MAX_TEXT_LENGTH for item in values):
            raise ValidationError("too long", code="invalid")
        if self.allowed is not None and any(item not in self.allowed for item in values):
            raise ValidationError("not an allowed value", code="invalid_choice")
        return list(dict.fromkeys(values))


class TextField(forms.CharField):
    def __init__(self, *args: Any, choices: Sequence[str] | None = None, **kwargs: Any) -> None:
        self.allowed = tuple(choices) if choices is not None else None
        kwargs.setdefault("max_length", MAX_TEXT_LENGTH)
        kwargs.setdefault("strip", False)
        super().__init__(*args, **kwargs)

    def to_python(self, value: Any) -> str | None:
        text = super().to_python(value)
        if text in (None, ""):
            return None
        if self.allowed is not None and text not in self.allowed:
            raise ValidationError("not an allowed value", code="invalid_choice")
        return text


# --- filters ---------------------------------------------------------------------------------------


class _ParsedOnly(df.Filter):
    """Filters here convert and validate; the selectors do the querying."""

    schema_type: ClassVar[Any] = OpenApiTypes.STR

    @property
    def label(self) -> str:  # django-filter derives one from the model, which may be None here
        return str(self._label or self.field_name)

    @label.setter
    def label(self, value: str | None) -> None:
        self._label = value

    def filter(self, qs: Any, value: Any) -> Any:
        return qs


class TextFilter(_ParsedOnly):
    field_class = TextField


class IntegerFilter(_ParsedOnly):
    field_class = BoundedIntegerField
    schema_type = OpenApiTypes.INT


class BooleanFilter(_ParsedOnly):
    field_class = StrictBooleanField
    schema_type = OpenApiTypes.BOOL


class DateFilter(_ParsedOnly):
    field_class = BoundedDateField
    schema_type = OpenApiTypes.DATE


class DateTimeFilter(_ParsedOnly):
    field_class = BoundedDateTimeField
    schema_type = OpenApiTypes.DATETIME


class ListFilter(_ParsedOnly):
    """A Lago list filter (`name[]=a&name[]=b`); the value is a list without repeats."""

    field_class = TextListField


_DATE_CODES = {"invalid_date"}
_FORM_FIELDS: dict[type, dict[str, forms.Field]] = {}  # by LagoFilterSet class: `LagoFilterSet._form_fields`
_NO_FILES: MultiValueDict[str, Any] = (
    MultiValueDict()
)  # a query string has no files (what an unbound form passes its widgets)


class LagoFilterSet(df.FilterSet):
    """Base of every list's query parameters; `page` and `per_page` are common to all."""

    page = IntegerFilter(min_value=1, max_value=MAX_PAGE, help_text="page number, from 1")
    per_page = IntegerFilter(min_value=1, max_value=MAX_PAGE, help_text="items per page (capped at API_MAX_PER_PAGE)")

    paginated: ClassVar[bool] = True

    def __init__(self, data: Any = None) -> None:
        model: type[Model] | None = self._meta.model
        super().__init__(data=data, queryset=model._default_manager.none() if model is not None else _NoQuery())

    @classmethod
    def parse(cls, request: Request) -> dict[str, Any]:
        """The validated parameters (every declared one; None or [] when absent), or a 422.

        What the filterset's form does when it validates (each field's widget reads the query
        string, the field cleans it; errors by field, in declaration order), with the form fields
        built once per class (`_form_fields`): a FilterSet and its form deep-copy every filter and
        field on each instance, which was a third of a simple list request's CPU. The fields keep no
        state while cleaning, so one set serves every request (tests/core/test_filters.py compares
        the two on valid and invalid query strings)."""
        data = request.query_params
        cleaned: dict[str, Any] = {}
        errors: dict[str, list[str]] = {}
        for name, field in cls._form_fields().items():
            try:
                cleaned[name] = field.clean(field.widget.value_from_datadict(data, _NO_FILES, name))
            except ValidationError as error:
                codes = ["invalid_date" if p.code in _DATE_CODES else "value_is_invalid" for p in error.error_list]
                errors[name] = list(dict.fromkeys(codes))
        if errors:
            raise ValidationFailure(errors)
        return cleaned

    @classmethod
    def _form_fields(cls) -> dict[str, forms.Field]:
        """The form fields of this filterset (its form's, built once per class and process)."""
        fields = _FORM_FIELDS.get(cls)
        if fields is None:
            fields = _FORM_FIELDS[cls] = dict(cls().form.fields)
        return fields

    @classmethod
    def schema_parameters(cls, *, exclude: Sequence[str] = ()) -> list[OpenApiParameter]:
        """The OpenAPI description of these parameters, from the declarations."""
        parameters = []
        for name, declared in cls.base_filters.items():
            if name in exclude or (not cls.paginated and name in {"page", "per_page"}):
                continue
            extra = declared.extra
            description = str(extra.get("help_text") or "")
            if isinstance(declared, ListFilter):
                items: dict[str, Any] = {"type": "string"}
                if extra.get("choices"):
                    items["enum"] = list(extra["choices"])
                parameters.append(
                    OpenApiParameter(
                        f"{name}[]",
                        {"type": "array", "items": items},
                        description=description,
                        style="form",
                        explode=True,
                    )
                )
                continue
            schema: Any = declared.schema_type
            if isinstance(declared, IntegerFilter):
                schema = {"type": "integer"}
                schema.update({key: extra[arg] for key, arg in _BOUNDS if extra.get(arg) is not None})
            elif isinstance(declared, TextFilter) and extra.get("choices"):
                schema = {"type": "string", "enum": list(extra["choices"])}
            elif isinstance(declared, DateFilter | DateTimeFilter):
                kind = "date" if isinstance(declared, DateFilter) else "date-time"
                limits = f"{MIN_DATE.isoformat()}..{MAX_DATE.isoformat()}"
                description = f"{description} ({kind}, {limits})".strip()
            parameters.append(
                OpenApiParameter(name, schema, description=description, required=bool(extra.get("required")))
            )
        return parameters


# An integer filter's bounds as its schema's: (schema keyword, filter argument).
_BOUNDS = (("minimum", "min_value"), ("maximum", "max_value"))

# `page` and `per_page` as plain integers, for the lists the schema documents so (webhook endpoints,
# exports); `PageFilters.schema_parameters()` adds their bounds and descriptions.
PLAIN_PAGE_PARAMETERS = [OpenApiParameter("page", int), OpenApiParameter("per_page", int)]

METADATA_PARAMETER = OpenApiParameter(
    "metadata",
    {"type": "object", "additionalProperties": {"type": "string"}},
    description="metadata[key]=value: items whose metadata has every such key with that value",
    style="deepObject",
    explode=True,
)


def metadata_filters(request: Request) -> dict[str, str]:
    """Lago's `metadata[key]=value` filters: keys and values of at most `MAX_TEXT_LENGTH`."""
    found: dict[str, str] = {}
    errors: dict[str, list[str]] = {}
    for key, value in request.query_params.items():
        value = str(value)
        if key.startswith("metadata[") and key.endswith("]"):
            name = key[len("metadata[") : -1]
            if len(name) > MAX_TEXT_LENGTH or len(value) > MAX_TEXT_LENGTH or len(found) >= MAX_LIST_LENGTH:
                errors["metadata"] = ["value_is_invalid"]
            found[name] = value
    if errors:
        raise ValidationFailure(errors)
    return found


class PageFilters(LagoFilterSet):
    """A list with no filters but its pages."""


class _NoQuery:
    """Stands in for a queryset when a FilterSet names no model (only `.model` is read)."""

    model = None

    def all(self) -> _NoQuery:
        return self
