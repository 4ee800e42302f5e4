"""Base models shared by every app: a UUID primary key (Lago's `lago_id`) and timestamps; the
soft-deleted variant with `deleted_at` and its `live` manager."""

from __future__ import annotations

import uuid
from typing import Any, TypedDict

from django.db import IntegrityError, models, transaction
from django.db.models import Q

from billing_project.core.errors import ValidationFailure


class DecimalSpec(TypedDict):
    """The `max_digits` and `decimal_places` shared by the DecimalFields of one kind, spread into each
    field (`models.DecimalField(**UNITS)`); typed so the model fields keep their types."""

    max_digits: int
    decimal_places: int


class ByteOrderCharField(models.CharField):
    """A CharField that sorts and compares byte by byte, whatever the database's locale: the "C"
    collation on PostgreSQL; SQLite's default collation (BINARY) already is byte order and has no
    collation named "C", so none is declared there (the embedded default of `./dev run`)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("db_collation", "C")
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def db_parameters(self, connection):  # type: ignore[no-untyped-def]
        parameters = super().db_parameters(connection)
        if connection.vendor != "postgresql":
            parameters["collation"] = None
        return parameters


class BaseModel(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True

    @property
    def lago_id(self) -> str:
        return str(self.id)


class LiveManager(models.Manager):
    """Rows that are not soft-deleted."""

    def get_queryset(self) -> models.QuerySet:
        return super().get_queryset().filter(deleted_at__isnull=True)


class SoftDeleteModel(BaseModel):
    """A row deleted the way Lago deletes it: `deleted_at` is set and the row stays. `objects`
    returns every row (the default manager, so relations still reach deleted rows), `live` only the
    undeleted ones. Uniqueness among live rows is each model's partial constraint (`unique_live`)."""

    deleted_at = models.DateTimeField(null=True, blank=True, db_index=True)

    objects = models.Manager()
    live = LiveManager()

    class Meta:
        abstract = True


def unique_live(*fields: str, name: str, **condition: object) -> models.UniqueConstraint:
    """`fields` unique among the rows that are not soft-deleted (and that match `condition`, e.g.
    `plan__isnull=False`): a deleted row's code may be used again."""
    return models.UniqueConstraint(fields=list(fields), condition=Q(deleted_at__isnull=True, **condition), name=name)


def exactly_one(first: str, second: str, *, name: str) -> models.CheckConstraint:
    """One of two foreign keys set, never both, never neither."""
    return models.CheckConstraint(
        condition=Q(**{f"{first}__isnull": False, f"{second}__isnull": True})
        | Q(**{f"{first}__isnull": True, f"{second}__isnull": False}),
        name=name,
    )


def save_unique(row: models.Model, field: str = "code", error: str = "value_already_exist", **save: Any) -> None:
    """`row.save(**save)` in a savepoint; a unique constraint refusing it (a concurrent request took
    the value first) is the validation error `{field: [error]}`."""
    try:
        with transaction.atomic():
            row.save(**save)
    except IntegrityError:
        raise ValidationFailure.single(field, error) from None
