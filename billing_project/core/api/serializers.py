"""Shapes and fields shared by every app's API: the page meta, the one-resource and list envelopes,
optional lists, input date-times."""

from __future__ import annotations

import copy
import datetime as dt
import sys
from typing import Any

from django.utils.functional import cached_property
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.utils.serializer_helpers import BindingDict

from billing_project.core import bounds


# A response-only serializer whose fields cost less to set up per instance.
#
# DRF gives every serializer instance its own fields with `copy.deepcopy` of the declared ones, and
# a field's deep copy calls its `__init__` again with the same arguments, then binds it (`Field.bind`
# sets its name, label, source and source path): the bulk of a small read's serializing time (a
# plan's response builds about a hundred fields). A field that holds no other field is bound here
# once per class, to no serializer (`_bound_leaves`), and each instance gets a new field with that
# bound field's attributes and itself as the parent: what DRF's copy and `bind` leave, without
# running them. Nested serializers and fields with a child (`ListField`, `DictField`, `many=True`)
# are deep-copied and bound as DRF does. `tests/core/test_output_serializer.py` pins the fields
# equal to DRF's for every output serializer of the project.
# (A comment, not a docstring: the schema would show a docstring as every subclass's description.)
class OutputSerializer(serializers.Serializer):
    @cached_property
    def fields(self) -> BindingDict:  # type: ignore[override]  # DRF's is a cached_property too
        fields = BindingDict(self)
        leaves = _bound_leaves(type(self))
        for name, declared in self._declared_fields.items():
            bound = leaves.get(name)
            if bound is None:
                fields[name] = copy.deepcopy(declared)  # bound by the BindingDict, as DRF binds
            else:
                field = object.__new__(type(bound))
                field.__dict__.update(bound.__dict__)
                field.parent = self  # the one attribute `bind` sets that differs between instances
                fields.fields[name] = field
        return fields


# Per output serializer class, its leaf fields bound once (without a parent): schema, not data,
# one entry per class (a few dozen), never changed after it is built.
_BOUND_LEAVES: dict[type, dict[str, serializers.Field]] = {}


def _bound_leaves(cls: type[serializers.Serializer]) -> dict[str, serializers.Field]:
    leaves = _BOUND_LEAVES.get(cls)
    if leaves is None:
        leaves = {}
        for name, declared in cls._declared_fields.items():
            if _is_leaf(declared):
                field = copy.deepcopy(declared)
                field.bind(field_name=name, parent=None)  # type: ignore[arg-type]
                leaves[name] = field
        _BOUND_LEAVES[cls] = leaves
    return leaves


def _is_leaf(field: serializers.Field) -> bool:
    return not (
        isinstance(field, serializers.BaseSerializer) or hasattr(field, "child") or hasattr(field, "child_relation")
    )


class _PageMetaFields(serializers.Serializer):
    # The fields of Lago's list `meta` block; no docstring, so `page_meta` components have no description.
    current_page = serializers.IntegerField()
    next_page = serializers.IntegerField(allow_null=True)
    prev_page = serializers.IntegerField(allow_null=True)
    total_pages = serializers.IntegerField()
    total_count = serializers.IntegerField()


class PaginationMeta(_PageMetaFields):
    """Lago's list `meta` block (see `billing_project.core.api.pagination.meta_for`)."""


def _named(
    name: str, fields: dict[str, serializers.Field], base: type[serializers.Serializer] = serializers.Serializer
) -> type[serializers.Serializer]:
    # Named and placed in the calling module like a class written there: the schema component is `name`.
    module = sys._getframe(2).f_globals.get("__name__", __name__)
    return type(name, (base,), {"__module__": module, "__qualname__": name, **fields})


def page_meta(name: str) -> type[serializers.Serializer]:
    """Lago's list `meta` block as schema component `name` (without `PaginationMeta`'s description):
    the name an app's published schema already gives its page meta."""
    return _named(name, {}, _PageMetaFields)


def envelope(name: str, root: str, output: type[serializers.Serializer]) -> type[serializers.Serializer]:
    """The body of one resource under its Lago root key, `{"<root>": {...}}`, as schema component `name`."""
    return _named(name, {root: output()})


def rows_envelope(name: str, root: str, row: type[serializers.Serializer]) -> type[serializers.Serializer]:
    """A list of rows under their root key without a page, `{"<root>": [...]}`, as schema component `name`."""
    return _named(name, {root: row(many=True)})


def list_envelope(
    name: str,
    root: str,
    output: type[serializers.Serializer],
    meta: type[serializers.Serializer] = PaginationMeta,
    *,
    meta_required: bool = True,
) -> type[serializers.Serializer]:
    """A page of resources, `{"<root>": [...], "meta": {...}}` (`meta`, `PaginationMeta` unless an
    app's `page_meta`), as schema component `name`."""
    return _named(name, {root: output(many=True), "meta": meta(required=meta_required)})


def optional_text(value: object) -> str | None:
    """Output text that is `null` when unset, as Lago renders it.

    bxb stores an unset optional text (an address line, a country, an email) as `""`; Lago stores
    and renders `null`, and its clients type some of these fields as enums (`country`) that `""`
    does not decode into. Empty text is rendered `null` (docs/lago-compatibility.md).
    """
    return str(value) if value not in (None, "") else None


class OptionalTextField(serializers.CharField):
    """`optional_text` as a declared output field (the schema says `string`, nullable)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("allow_null", True)
        super().__init__(**kwargs)

    def to_representation(self, value: object) -> Any:  # `str | None`; DRF's stubs say `str`
        return optional_text(value)


def optional_list(child: serializers.Serializer) -> serializers.ListSerializer:
    """An optional list of objects that may be sent as null, whose items may not be null.

    `Child(many=True, allow_null=True)` hands `allow_null` to the child too, so `[null]` would pass
    validation and reach the service as a None item; this keeps the list nullable, not its items.
    """
    return serializers.ListSerializer(child=child, required=False, allow_null=True)


@extend_schema_field({"type": "string", "format": "date-time"})
class ClientDateTimeField(serializers.Field):
    """An input date-time: RFC 3339 text within 2000..2100 (billing_project/core/bounds.py), given to
    the service as an aware UTC datetime. Anything else, a number, an impossible date, year 1, is
    `invalid_date`."""

    default_error_messages = {"invalid_date": "expected an RFC 3339 date-time between 2000 and 2100"}

    def to_internal_value(self, data: Any) -> dt.datetime:
        parsed = bounds.client_datetime(data) if isinstance(data, str) else None
        if parsed is None:
            self.fail("invalid_date")
        return parsed

    def to_representation(self, value: dt.datetime) -> str:
        return bounds.rfc3339(value)
