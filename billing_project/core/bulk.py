"""`QuerySet.update()` that listeners (the audit trail) see: `update_rows(queryset, **values)`.

`QuerySet.update()` sends no signal, so a change made with it would escape the audit trail. Code
that updates rows of an audited model in bulk calls `update_rows` instead: when nobody listens to
`bulk_updated` for the model it is exactly `queryset.update(**values)`; otherwise it reads the
rows' updated fields before (one SELECT, `FOR UPDATE` inside a transaction so the rows read are the
rows updated), updates those rows by primary key, reads them back (one SELECT: expressions such as
`F("n") + 1` are seen as stored) and sends `bulk_updated`.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.db import models, transaction

from billing_project.core.signals import bulk_updated

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
