"""Bulk writes: `update_rows(queryset, **values)`, `insert_rows(model, rows)` and `new_row(model, **values)`.

`insert_rows` is `Manager.bulk_create(rows)` (no signal either way) with the per-value work that
Django repeats for every field of every row done once per field. Measured (bench/billing_run.py
`--profile`, 2026-12-07): `bulk_create` of a fee costs about 950 Python calls, a third of what
billing an invoice costs besides the usage reads; a value whose type is the one the field stores
(a `UUID` for a UUID or a foreign key, an `int`, a `str`, a `bool`, a `Decimal`, an aware
`datetime`, a `date`) or None (NULL) is handed to the driver as is, as Django's PostgreSQL
operations would hand it; any other value (JSON, None, another type) goes through the field's own
`get_db_prep_save`. `auto_now`/`auto_now_add` fields get one `now` for the batch, as
`bulk_create` gives them. The rows go by one `COPY` (psycopg formats them in C; one multi-row
`INSERT` would have psycopg parse a placeholder per value, uncached past 4 KB of SQL). PostgreSQL
only: on another database it is `bulk_create`. Rows of an audited model are announced with
`bulk_created`, as the writers that call `bulk_create` do. A `COPY` is not seen by Django's execute wrappers
(query counters count one statement fewer per batch).

`new_row(model, **values)`: the unsaved instance `model(**values)` builds, for code that builds
thousands (the billing run's fees, invoices, billing periods, audit entries). `Model.__init__` binds
every keyword to its field and asks every other field for its default, a few dozen Python calls
per field: measured (bench/billing_run.py `--profile`, 2026-12-07), building an invoice's four fees
cost more than pricing them. `new_row` does that sorting once per model (which attribute each field
writes, which default is a constant and which is called per row: a callable default, a database
default, a foreign key's) and writes the instance's `__dict__`, as `Model.__init__` leaves it. A
related instance given for a foreign key is cached on the row with its id, as the field's descriptor
does (the router's `allow_relation` is asked only when the two rows belong to different databases:
within one database a relation is allowed). `model(**values)` itself builds the row when a `pre_init`/`post_init` receiver listens to
the model, or for a keyword that is not a field's name or attname (a property, an error).
The layouts hold field metadata only, never a value read from the database.

`update_rows`: `QuerySet.update()` that listeners (the audit trail) see.

`QuerySet.update()` sends no signal, so a change made with it would escape the audit trail. Code
that updates rows of an audited model in bulk calls `update_rows` instead: when nobody listens to
`bulk_updated` for the model it is exactly `queryset.update(**values)`; otherwise it reads the
rows' updated fields before (one SELECT, `FOR UPDATE` inside a transaction so the rows read are the
rows updated), updates those rows by primary key, reads them back (one SELECT: expressions such as
`F("n") + 1` are seen as stored) and sends `bulk_updated`.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable, Sequence
from decimal import Decimal
from operator import attrgetter, itemgetter
from typing import Any, TypeVar

from django.db import connections, models, router, transaction
from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init
from django.utils import timezone

from billing_project.core.signals import bulk_created, bulk_updated

M = TypeVar("M", bound=models.Model)


def update_rows(queryset: models.QuerySet[M], **values: Any) -> int:
    """`queryset.update(**values)`, announced with `bulk_updated`. Returns the rows updated."""
    model = queryset.model
    if not bulk_updated.has_listeners(model):
        return queryset.update(**values)
    fields = [model._meta.get_field(name) for name in values]
    attnames = [field.attname for field in fields if isinstance(field, models.Field)]
    read = queryset.select_for_update(of=("self",)) if transaction.get_connection().in_atomic_block else queryset
    before = {row[0]: dict(zip(attnames, row[1:], strict=True)) for row in read.values_list("pk", *attnames)}
    if not before:
        return 0
    manager = model._base_manager
    count = manager.filter(pk__in=list(before)).update(**values)
    instances = list(manager.filter(pk__in=list(before)))
    bulk_updated.send(sender=model, before=before, instances=instances)
    return count


# The field classes whose values the driver takes as they are, with the Python type they hold.
_PLAIN: tuple[tuple[type[models.Field], tuple[type, ...]], ...] = (
    (models.UUIDField, (uuid.UUID,)),
    (models.BooleanField, (bool,)),
    (models.IntegerField, (int,)),  # BigIntegerField, PositiveIntegerField... are IntegerFields
    (models.DecimalField, (Decimal,)),
    (models.DateTimeField, (dt.datetime,)),
    (models.DateField, (dt.date,)),
    (models.CharField, (str,)),
    (models.TextField, (str,)),
)


def _plain_types(field: models.Field) -> tuple[type, ...]:
    target = field.target_field if isinstance(field, models.ForeignKey) else field
    for cls, types in _PLAIN:
        if isinstance(target, cls):
            return types
    return ()


def insert_rows(model: type[M], rows: Sequence[M], *, batch_size: int = 1000) -> None:
    """Insert `rows` (unsaved instances whose primary keys are set): one `COPY … FROM STDIN` on
    PostgreSQL (its errors raised as Django's: an IntegrityError is an IntegrityError), else
    `bulk_create` in statements of `batch_size`."""
    if not rows:
        return
    alias = router.db_for_write(model)
    connection = connections[alias]
    if connection.vendor != "postgresql":
        model._base_manager.using(alias).bulk_create(list(rows), batch_size=batch_size)
        return
    now = timezone.now()
    fields = [f for f in model._meta.concrete_fields if not f.generated]
    columns = []
    specs: list[tuple[tuple[type, ...], Callable[..., Any], bool]] = []
    for field in fields:
        columns.append(connection.ops.quote_name(field.column))
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            attname = field.attname
            for row in rows:
                setattr(row, attname, now)
        specs.append(_spec(field))
    names = [field.attname for field in fields]
    # One tuple per row, read by C code from the row's `__dict__`, where Django keeps a field's
    # value: a foreign key's id is read there without its descriptor's `__get__` (a data descriptor,
    # so Python calls it on every read: 11 per fee). A file field's raw value (a name or a file)
    # gives the same text through `prep` as its descriptor's FieldFile. A row missing one (a
    # deferred field) is read through the descriptors, as getattr.
    from_dict = itemgetter(*names) if len(names) > 1 else (lambda values: (values[names[0]],))
    through_descriptors = attrgetter(*names) if len(names) > 1 else (lambda row: (getattr(row, names[0]),))

    def values_of(row: M) -> tuple[Any, ...]:
        try:
            return from_dict(row.__dict__)
        except KeyError:
            return through_descriptors(row)

    table = connection.ops.quote_name(model._meta.db_table)
    copy_sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    with connection.cursor() as cursor, connection.wrap_database_errors, cursor.cursor.copy(copy_sql) as copy:
        for row in rows:
            copy.write_row(
                [
                    value
                    if value is None or (type(value) in types and (not aware or value.tzinfo is not None))
                    else prep(value, connection)
                    for value, (types, prep, aware) in zip(values_of(row), specs, strict=True)
                ]
            )
    for row in rows:
        row._state.adding = False
        row._state.db = alias
    if bulk_created.has_listeners(model):  # an audited model's rows are recorded as bulk_create's are
        bulk_created.send(sender=model, instances=list(rows))


def _spec(field: models.Field) -> tuple[tuple[type, ...], Callable[..., Any], bool]:
    """A column's value goes as it is when None or of one of `types` (and aware, for a datetime: a
    naive one goes through the field, which warns and converts), else through `prep(value, connection)`."""
    if isinstance(field, models.JSONField) and field.encoder is None:
        return (), _json_text(field), False
    types = _plain_types(field)
    return types, field.get_db_prep_save, dt.datetime in types


def _json_text(field: models.JSONField) -> Callable[..., Any]:
    """A JSON column's dict or list as its text, `json.dumps(value)`: the text Django's
    `get_db_prep_save` has psycopg write (`Jsonb(value, dumps=json.dumps)`, a field without an
    encoder), without its five calls per value; anything else (an expression, a scalar) through
    the field. `COPY` sends every value as text, so the column parses it as it parses psycopg's."""
    prep = field.get_db_prep_save

    def text(value: Any, connection: Any) -> Any:
        if type(value) is dict or type(value) is list:
            return json.dumps(value)
        return prep(value, connection)

    return text


def _has_db_default(field: models.Field) -> bool:
    return getattr(field, "db_default", models.NOT_PROVIDED) is not models.NOT_PROVIDED


class _Layout:
    """How `Model.__init__` fills a model's fields (see the module): computed once per model."""

    def __init__(self, model: type[models.Model]) -> None:
        self.constants: dict[str, Any] = {}  # attname -> the default every row gets (None, "", a constant)
        self.factories: list[tuple[str, Callable[[], Any]]] = []  # attname -> called per row
        self.attnames: set[str] = set()  # keywords written as they are
        self.relations: dict[str, tuple[str, str, type[models.Model]]] = {}  # name -> (attname, target, model)
        self.descriptors: set[str] = set()  # keywords set through the field's own descriptor
        self.known: frozenset[str] = frozenset()  # every keyword handled here
        for field in model._meta.concrete_fields:
            if field.column is None or field.generated:
                continue
            attname = field.attname
            if isinstance(field, models.ForeignKey) and not field.one_to_one:
                self.relations[field.name] = (attname, field.target_field.attname, field.remote_field.model)
                self.attnames.add(attname)
            elif isinstance(field, models.ForeignKey | models.FileField):
                self.descriptors.update({field.name, attname})
            else:
                self.attnames.add(attname)
            if field.has_default() and callable(field.default) and not isinstance(field, models.ForeignKey):
                self.factories.append((attname, field.default))  # what `get_default` calls
            elif _has_db_default(field) or (field.has_default() and isinstance(field, models.ForeignKey)):
                self.factories.append((attname, field.get_default))
            else:
                self.constants[attname] = field.get_default()
        self.known = frozenset(self.attnames | set(self.relations) | self.descriptors)


_layouts: dict[type[models.Model], _Layout] = {}


def new_row(model: type[M], **values: Any) -> M:
    """`model(**values)`: the same unsaved instance, built with `Model.__init__`'s per-field work
    done once per model (see the module)."""
    if (pre_init.receivers or post_init.receivers) and (
        pre_init.has_listeners(model) or post_init.has_listeners(model)
    ):
        return model(**values)
    layout = _layouts.get(model)
    if layout is None:
        layout = _layouts[model] = _Layout(model)
    if not layout.known.issuperset(values):
        return model(**values)  # a property, a virtual field or an unknown keyword: Django's own handling
    relations, descriptors = layout.relations, layout.descriptors
    instance = model.__new__(model)
    instance._state = ModelState()
    attributes = instance.__dict__
    attributes.update(layout.constants)
    for attname, factory in layout.factories:
        attributes[attname] = factory()
    later = []
    for name, value in values.items():
        relation = relations.get(name)
        if relation is not None:
            attname, target, related_model = relation
            if value is None:
                attributes[attname] = None
            elif isinstance(value, related_model):  # as the field's descriptor: the databases, the router's say
                attributes[attname] = getattr(value, target)
                if instance._state.db is None:
                    instance._state.db = router.db_for_write(model, instance=value)
                if value._state.db is None:
                    value._state.db = router.db_for_write(type(value), instance=instance)
                # the router is asked only across databases: within one, a relation is always allowed
                if value._state.db != instance._state.db and not router.allow_relation(value, instance):
                    later.append((name, value))  # the descriptor's own error
                    continue
            else:  # the descriptor's own error
                later.append((name, value))
                continue
            instance._state.fields_cache[name] = value
        elif name in descriptors:
            later.append((name, value))
        else:
            attributes[name] = value
    for name, value in later:
        setattr(instance, name, value)
    return instance
