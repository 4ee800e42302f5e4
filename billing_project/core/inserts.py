"""`Model.save()` of a new row or of a row read from the database, with its INSERT or UPDATE
composed once per process.

`instance.save()` of a new row builds an `InsertQuery` and compiles it on every call, which for
a row of 14-40 columns costs about as much CPU as the rest of the insert. `insert_new(row)` does
what `save()` does for a new row of a plain model — `pre_save`, the INSERT, the instance's
state, `post_save` (`created=True`), a failed INSERT marking the transaction for rollback — with
the INSERT's SQL composed once per model and database vendor: each call runs each field's
`pre_save(row, add=True)` and `get_db_prep_save()`, as the insert compiler does, and sends the
statement.

`update_existing(row)` is the same for `save()` of a row read from the database (under its lock,
in the caller's transaction): its `UPDATE` of every column but the primary key, composed once
per model and database vendor (`%s` for every value: a null is sent as a parameter rather than
written `NULL` into the text, which PostgreSQL reads alike). A row with deferred fields (which
`save()` updates alone), a new row and an `UPDATE` that matches no row (which `save()` turns into
an INSERT) go through `save()`.

A plain model: concrete, without parents or `order_with_respect_to`, not overriding `save()`
or the methods under it, whose primary key has a default, with nothing to read back from the
database (no auto field, no `db_returning` field) and no database default, generated field or
custom placeholder. A value that is an expression (after `pre_save`) is written by Django's own
`_save_table`. Anything else, and a row that is not new, goes through `save()`.
"""

from __future__ import annotations

from typing import Any

from django.db import connections, models, router, transaction
from django.db.models import NOT_PROVIDED
from django.db.models.signals import post_save, pre_save
from django.db.models.sql.subqueries import InsertQuery

_SAVE_METHODS = ("save", "save_base", "_save_table", "_do_insert", "_prepare_related_fields_for_save")
_statements: dict[tuple[type[models.Model], str], tuple[str, list[models.Field]] | None] = {}
_updates: dict[tuple[type[models.Model], str], tuple[str, list[models.Field]] | None] = {}


def _plain_fields(model: type[models.Model]) -> list[models.Field] | None:
    meta = model._meta
    pk = meta.pk
    if any(getattr(model, name) is not getattr(models.Model, name) for name in _SAVE_METHODS):
        return None
    if meta.proxy or meta.parents or meta.auto_created or meta.order_with_respect_to or meta.db_returning_fields:
        return None
    if pk is None or not pk.has_default():
        return None
    fields = list(meta.local_concrete_fields)
    for field in fields:
        if getattr(field, "generated", False) or field.db_default is not NOT_PROVIDED:
            return None
        if hasattr(field, "get_placeholder"):
            return None
    return fields


def _statement(model: type[models.Model], alias: str) -> tuple[str, list[models.Field]] | None:
    key = (model, connections[alias].vendor)
    if key in _statements:
        return _statements[key]
    entry: tuple[str, list[models.Field]] | None = None
    fields = _plain_fields(model)
    if fields is not None:
        query = InsertQuery(model)
        query.insert_values(fields, [model()], raw=False)
        statements = query.get_compiler(using=alias).as_sql()
        if len(statements) == 1:
            entry = (statements[0][0], fields)
    _statements[key] = entry
    return entry


def insert_new(row: models.Model) -> None:
    """Insert `row`, a new instance (`row._state.adding`), exactly as `row.save()` would."""
    model = type(row)
    alias = router.db_for_write(model, instance=row)
    statement = _statement(model, alias) if row._state.adding and row.pk is not None else None
    if statement is None:
        row.save(using=alias)
        return
    sql, fields = statement
    connection = connections[alias]
    row._prepare_related_fields_for_save(operation_name="save")
    pre_save.send(sender=model, instance=row, raw=False, using=alias, update_fields=None)
    with transaction.mark_for_rollback_on_error(using=alias):
        values = [field.pre_save(row, True) for field in fields]
        if any(hasattr(value, "resolve_expression") for value in values):  # the compiler's work
            row._save_table(raw=False, cls=model, force_insert=True, using=alias)
        else:
            params: list[Any] = [
                field.get_db_prep_save(value, connection) for field, value in zip(fields, values, strict=True)
            ]
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
    row._state.db = alias
    row._state.adding = False
    post_save.send(sender=model, instance=row, created=True, update_fields=None, raw=False, using=alias)


def _update_statement(model: type[models.Model], alias: str) -> tuple[str, list[models.Field]] | None:
    key = (model, connections[alias].vendor)
    if key in _updates:
        return _updates[key]
    entry: tuple[str, list[models.Field]] | None = None
    fields = _plain_fields(model)
    if fields is not None and not model._meta.select_on_save:
        pk = model._meta.pk
        assert pk is not None
        quote = connections[alias].ops.quote_name
        fields = [field for field in fields if not field.primary_key]
        table = quote(model._meta.db_table)
        assignments = ", ".join(f"{quote(field.column)} = %s" for field in fields)
        # the text `save()`'s UPDATE has, its values all parameters
        entry = (f"UPDATE {table} SET {assignments} WHERE {table}.{quote(pk.column)} = %s", fields)  # noqa: S608 - identifiers
    _updates[key] = entry
    return entry


def update_existing(row: models.Model) -> None:
    """Write `row`, read from the database, exactly as `row.save()` would (see the module docstring)."""
    model = type(row)
    alias = router.db_for_write(model, instance=row)
    statement = None
    if not row._state.adding and row.pk is not None and row._state.db == alias and not row.get_deferred_fields():
        statement = _update_statement(model, alias)
    if statement is None:
        row.save(using=alias)
        return
    sql, fields = statement
    connection = connections[alias]
    pk = model._meta.pk
    assert pk is not None
    django_row: Any = row  # the model's own save steps, as `save()` calls them
    django_row._prepare_related_fields_for_save(operation_name="save")
    pre_save.send(sender=model, instance=row, raw=False, using=alias, update_fields=None)
    with transaction.mark_for_rollback_on_error(using=alias):
        values = [field.pre_save(row, False) for field in fields]
        if any(hasattr(value, "resolve_expression") for value in values):  # the compiler's work
            updated = django_row._save_table(raw=False, cls=model, using=alias)
        else:
            params: list[Any] = [
                field.get_db_prep_save(value, connection) for field, value in zip(fields, values, strict=True)
            ]
            params.append(pk.get_db_prep_value(row.pk, connection))
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                updated = cursor.rowcount > 0
            if not updated:  # the row is gone: `save()` inserts it again
                updated = django_row._save_table(raw=False, cls=model, using=alias)
    row._state.db = alias
    row._state.adding = False
    post_save.send(sender=model, instance=row, created=not updated, update_fields=None, raw=False, using=alias)
