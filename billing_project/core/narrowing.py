"""A list's optional filters, applied once: `narrowed(queryset, code=code, plan__code=plan_code)`.

A selector's keyword filters (an external id, a code, a date bound) narrow its queryset only
when the caller gave them. Each given lookup is one more `.filter(...)`, in the order written, so
the SQL is what the chain of `if value: qs = qs.filter(...)` it replaces produced.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.db.models import QuerySet

Q = TypeVar("Q", bound=QuerySet[Any])


def narrowed(queryset: Q, **lookups: Any) -> Q:
    """`queryset` filtered by each lookup whose value is given (neither None nor empty nor false)."""
    for lookup, value in lookups.items():
        if value:
            queryset = queryset.filter(**{lookup: value})
    return queryset
