"""A list's optional filters, applied once: `narrowed(queryset, code=code, plan__code=plan_code)`,
and its free-text search: `searched(queryset, search_term, "name", "email")`.

A selector's keyword filters (an external id, a code, a date bound) narrow its queryset only
when the caller gave them. Each given lookup is one more `.filter(...)`, in the order written, so
the SQL is what the chain of `if value: qs = qs.filter(...)` it replaces produced.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.db.models import Q, QuerySet

Rows = TypeVar("Rows", bound=QuerySet[Any])


def narrowed(queryset: Rows, **lookups: Any) -> Rows:
    """`queryset` filtered by each lookup whose value is given (neither None nor empty nor false)."""
    for lookup, value in lookups.items():
        if value:
            queryset = queryset.filter(**{lookup: value})
    return queryset


def searched(queryset: Rows, term: str | None, *fields: str) -> Rows:
    """`queryset` narrowed to the rows where any of `fields` contains `term` (case-insensitive);
    all of it when there is no term."""
    if not term:
        return queryset
    condition = Q(**{f"{fields[0]}__icontains": term})
    for field in fields[1:]:
        condition |= Q(**{f"{field}__icontains": term})
    return queryset.filter(condition)
