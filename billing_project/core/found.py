"""`found(row, "plan")`: the row a lookup found, or the API's 404 `plan_not_found`.

The lookups of selectors and services end the same way (`.first()`, `next(...)`): a missing row
is `NotFoundFailure(resource)`, which the API answers as Lago's 404 `<resource>_not_found`.
`first_with_id(queryset, row_id)` is the lookup by an id a client sent, which may not be a UUID.
"""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.db.models import Model, QuerySet, UUIDField

from billing_project.core.errors import NotFoundFailure

T = TypeVar("T")
M = TypeVar("M", bound=Model)


def found(row: T | None, resource: str) -> T:
    """`row`, unless it is None: then 404 `<resource>_not_found`."""
    if row is None:
        raise NotFoundFailure(resource)
    return row


def first_with_id(queryset: QuerySet[M], row_id: Any) -> M | None:
    """The row of `queryset` whose id is `row_id`, or None: also when `row_id` is not a UUID (Django
    refuses it with ValueError or ValidationError while it builds the query), so a malformed id
    reads as an unknown one. One statement, as `queryset.filter(id=row_id).first()`."""
    try:
        return queryset.filter(id=row_id).first()
    except (ValueError, ValidationError):
        return None


_UUID: UUIDField[Any, Any] = UUIDField()


def uuid_or_none(row_id: Any) -> uuid.UUID | None:
    """`row_id` as the UUID a lookup by id compares with (Django's own conversion, `UUIDField.to_python`),
    or None when it is not one: what `first_with_id` answers for a malformed id, for reads that
    pass the id to a `PreparedQuery` themselves."""
    try:
        return _UUID.to_python(row_id)
    except ValidationError:
        return None
