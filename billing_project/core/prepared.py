"""ORM queries of the hot request paths, compiled to SQL once per process.

Used by current usage and the invoice list (`invoicing.selectors`) and by the customer upsert's
locked read (`customers.services`). It lives in the kernel: it imports no app, the apps build
their querysets in the `build` callables they pass.

Building and compiling a Django queryset costs about 0.7 ms of CPU, several times what
PostgreSQL spends answering these small indexed reads. A `PreparedQuery` compiles its queryset
once per database vendor, from two sets of probe values: the SQL must come out identical and
each parameter that differs must be one of the probes (as the ORM passes it: the value itself, or
a UUID's hex on SQLite), else the query is not prepared and every call goes through the ORM.
Later calls substitute the real values into the same parameter list and hydrate the rows with
the compiler that produced the SQL (the ORM's own converters, `select_related` populators and
annotations), so the objects are what the queryset would have returned. A `select_for_update()`
queryset keeps its `FOR UPDATE` (it is part of the SQL) and, like the ORM, refuses to run outside
a transaction (`TransactionManagementError`).

    _SUB = PreparedQuery(lambda p: Subscription.objects.filter(external_id=p.sub)[:1], sub=str)
    [subscription] = _SUB.fetch(sub="sub_1") or [None]
"""

from __future__ import annotations

import operator
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model, QuerySet
from django.db.models.base import DEFERRED
from django.db.models.query import get_related_populators
from django.db.transaction import TransactionManagementError


class NotPreparable(Exception):
    """The queryset's SQL depends on its values in a way substitution cannot reproduce."""


def _same(value: Any) -> Any:
    return value


def _hex(value: Any) -> Any:
    return value.hex


def _probe(name: str, kind: type) -> Any:
    """A value no real query uses, different at every call."""
    if kind is uuid.UUID:
        return uuid.uuid4()
    if kind is datetime:
        return _PROBE_EPOCH + timedelta(microseconds=uuid.uuid4().int % 10**15)
    return f"probe-{name}-{uuid.uuid4().hex}"


_PROBE_EPOCH = datetime(1901, 1, 1, tzinfo=UTC)


class PreparedQuery:
    def __init__(self, build: Callable[[SimpleNamespace], QuerySet], **kinds: type):
        """`build(p)` returns the queryset for the values `p.<name>`; `kinds` names them (str,
        uuid.UUID or datetime: an aware one). Model querysets (instances, `select_related`, annotations) and `values_list`
        querysets (tuples) are supported."""
        self.build = build
        self.kinds = kinds
        self._compiled: dict[str, Any] = {}

    def _probes(self) -> dict[str, Any]:
        return {name: _probe(name, kind) for name, kind in self.kinds.items()}

    @staticmethod
    def _slot(value: Any, probes: dict[str, Any], ops: Any) -> tuple[str, Callable[[Any], Any]] | None:
        for name, probe in probes.items():
            if value == probe:
                return name, _same
            if isinstance(probe, uuid.UUID) and value == probe.hex:
                return name, _hex
            if isinstance(probe, datetime) and value == ops.adapt_datetimefield_value(probe):
                return name, ops.adapt_datetimefield_value  # SQLite's text form
        return None

    def _compile(self, alias: str) -> Any:
        compiled = []
        for probes in (self._probes(), self._probes()):
            queryset = self.build(SimpleNamespace(**probes))
            compiler = queryset.query.get_compiler(using=alias)
            sql, params = compiler.as_sql()
            compiled.append((queryset, compiler, sql, list(params), probes))
        (queryset, compiler, sql, params, probes), (_, _, sql_b, params_b, probes_b) = compiled
        if sql != sql_b or len(params) != len(params_b):
            raise NotPreparable(sql)
        slots = []
        for index, (first, second) in enumerate(zip(params, params_b, strict=True)):
            if first == second:
                continue
            ops = connections[alias].ops
            slot, slot_b = self._slot(first, probes, ops), self._slot(second, probes_b, ops)
            if slot is None or slot_b is None or slot != slot_b:
                raise NotPreparable(sql)
            slots.append((index, *slot))
        if {name for _, name, _ in slots} != set(self.kinds):
            raise NotPreparable(sql)  # a value that never reaches the parameters (e.g. an inlined one)
        if queryset._prefetch_related_lookups:  # type: ignore[attr-defined]
            raise NotPreparable("prefetch_related")  # the rows alone would lose what it reads after them
        iterable = queryset._iterable_class.__name__
        if iterable not in ("ModelIterable", "ValuesListIterable"):
            raise NotPreparable(iterable)
        reorder = None
        if iterable == "ValuesListIterable" and queryset._fields:  # as ValuesListIterable orders the columns
            query = queryset.query
            names = [*query.extra_select, *query.values_select, *query.annotation_select]
            fields = [*queryset._fields, *(f for f in query.annotation_select if f not in queryset._fields)]
            if fields != names:
                positions = {name: index for index, name in enumerate(names)}
                reorder = operator.itemgetter(*[positions[f] for f in fields])
        locks = bool(queryset.query.select_for_update and connections[alias].features.has_select_for_update)
        return sql, params, slots, _Reader(compiler, iterable, alias), iterable, reorder, locks

    def fetch(self, **values: Any) -> list[Any]:
        """The queryset's rows for these values: model instances, or tuples for `values_list`."""
        alias = DEFAULT_DB_ALIAS
        connection = connections[alias]
        entry = self._compiled.get(connection.vendor)
        if entry is None:
            try:
                entry = self._compile(alias)
            except NotPreparable:
                entry = False
            self._compiled[connection.vendor] = entry
        if entry is False:
            return list(self.build(SimpleNamespace(**values)))
        sql, template, slots, reader, iterable, reorder, locks = entry
        if locks and connection.get_autocommit():  # what the ORM's compiler refuses too
            raise TransactionManagementError("select_for_update cannot be used outside of a transaction.")
        params = list(template)
        for index, name, prepare in slots:
            params[index] = prepare(values[name])
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        if iterable == "ValuesListIterable":
            if reorder is not None:
                return [tuple(reorder(row)) for row in reader.converted(rows)]
            return [tuple(row) for row in reader.converted(rows)]
        return list(reader.instances(rows))


_MODEL_FROM_DB = vars(Model)["from_db"].__func__  # Django's own, which a model may override


class _Reader:
    """Turns the rows of a compiled query into what the queryset yields, as the compiler's
    `results_iter` and Django's ModelIterable do, with what they work out from the compiler on
    every call (the columns' converters, the model's column names, the `select_related`
    populators) worked out once."""

    def __init__(self, compiler: Any, iterable: str, alias: str) -> None:
        self.compiler = compiler
        self.fields = [column[0] for column in compiler.select[0 : compiler.col_count]]
        self.converters = compiler.get_converters(self.fields)
        self.composite = compiler.has_composite_fields(self.fields)
        if iterable == "ModelIterable":
            select, klass_info = compiler.select, compiler.klass_info
            self.model = klass_info["model"]
            self.start, self.end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
            self.init_list = [column[0].target.attname for column in select[self.start : self.end]]
            # A `defer()`/`only()` queryset: `Model.from_db` places each read value among the
            # model's fields (a list search per field, per row); here the places are worked out once.
            # Not for a model with its own `from_db`, which may expect only the names read.
            concrete = self.model._meta.concrete_fields
            self.places: list[int | None] | None = None
            if len(self.init_list) != len(concrete) and getattr(self.model.from_db, "__func__", None) is _MODEL_FROM_DB:
                read = {name: index for index, name in enumerate(self.init_list)}
                self.places = [read.get(f.attname) for f in concrete]
                self.all_names = [f.attname for f in concrete]
            self.populators = get_related_populators(klass_info, select, alias)
            self.annotations = list((compiler.annotation_col_map or {}).items())
        self.alias = alias

    def converted(self, rows: list[Any]) -> Any:
        """`compiler.results_iter([rows])`: lists (or the fetched tuples when nothing converts)."""
        result: Any = rows
        if self.converters:
            result = self.compiler.apply_converters(result, self.converters)
        if self.composite:
            result = self.compiler.composite_fields_to_tuples(result, self.fields)
        return result

    def instances(self, rows: list[Any]) -> Any:
        """What Django's ModelIterable does with these rows."""
        model, alias, init_list, start, end = self.model, self.alias, self.init_list, self.start, self.end
        places = self.places
        for row in self.converted(rows):
            if places is None:
                obj = model.from_db(alias, init_list, row[start:end])
            else:  # what `Model.from_db` passes to the model for a deferred queryset
                values = row[start:end]
                obj = model.from_db(alias, self.all_names, [DEFERRED if p is None else values[p] for p in places])
            for populator in self.populators:
                populator.populate(row, obj)
            for name, position in self.annotations:
                setattr(obj, name, row[position])
            yield obj
