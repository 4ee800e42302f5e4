"""Lago's page/per_page pagination and its `meta` block (docs/lago-compatibility.md §1.4)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.db.models import BigIntegerField, QuerySet, Subquery
from django.db.models.query import ModelIterable
from rest_framework.request import Request
from rest_framework.response import Response

from billing_project.core.bounds import MAX_PAGE
from billing_project.core.errors import ValidationFailure

DEFAULT_PER_PAGE = 100
MAX_PER_PAGE = 1000  # the default of the API_MAX_PER_PAGE setting


def max_per_page() -> int:
    """The largest page a client may ask for (`API_MAX_PER_PAGE`); larger `per_page` is capped."""
    return max(1, int(getattr(settings, "API_MAX_PER_PAGE", MAX_PER_PAGE) or MAX_PER_PAGE))


def _page_number(value: Any, default: int, field: str, errors: dict[str, list[str]]) -> int:
    if value is None or value == "":
        return default
    text = str(value).strip()
    if not text.isascii() or not text.isdigit() or len(text) > 10 or not 1 <= int(text) <= MAX_PAGE:
        errors[field] = ["value_is_invalid"]
        return default
    return int(text)


def page_params(request: Request) -> tuple[int, int]:
    """`page` and `per_page`: integers from 1 to `MAX_PAGE` (422 otherwise); `per_page` is capped
    at `API_MAX_PER_PAGE`."""
    errors: dict[str, list[str]] = {}
    page = _page_number(request.query_params.get("page"), 1, "page", errors)
    per_page = _page_number(request.query_params.get("per_page"), DEFAULT_PER_PAGE, "per_page", errors)
    if errors:
        raise ValidationFailure(errors)
    return page, min(per_page, max_per_page())


def meta_for(total_count: int, page: int, per_page: int) -> dict[str, int | None]:
    if total_count == 0:
        return {"current_page": 0, "next_page": None, "prev_page": None, "total_pages": 0, "total_count": 0}
    total_pages = math.ceil(total_count / per_page)
    return {
        "current_page": page,
        "next_page": page + 1 if page < total_pages else None,
        "prev_page": page - 1 if page > 1 else None,
        "total_pages": total_pages,
        "total_count": total_count,
    }


def paginated_response(
    request: Request,
    queryset: QuerySet[Any],
    root_key: str,
    # The page's objects rendered: a list of dicts (a renderer's shapes, or a list serializer's
    # `.data`, which the DRF stubs type as a ReturnDict).
    serialize: Callable[[Iterable[Any]], Any],
) -> Response:
    page, per_page = page_params(request)
    items, total = page_with_total(queryset, (page - 1) * per_page, per_page)
    return Response({root_key: serialize(items), "meta": meta_for(total, page, per_page)})


class _ListTotal(Subquery):
    """`(SELECT COUNT(*) FROM (<the list's ids>) list_rows)`: the list's total as a column of its
    page. It names no outer column, so PostgreSQL runs it once per statement (an InitPlan), with the
    plan a separate `COUNT(*)` would get; the page keeps its own (index order, `LIMIT`)."""

    template = "(SELECT COUNT(*) FROM (%(subquery)s) list_rows)"
    output_field = BigIntegerField()


_TOTAL = "list_total"


def page_with_total(queryset: QuerySet[Any], offset: int, limit: int) -> tuple[list[Any], int]:
    """The rows `[offset, offset + limit)` of `queryset` and its total count, in one statement:
    each row of the page carries the total (read in the same snapshot, so they agree). A page past
    the end has no row to carry it: then the total is counted apart (0 on the first page, without a
    statement). Querysets the count cannot ride on (distinct, grouped, combined, sliced, or not
    yielding model instances) are counted first, as before."""
    query = queryset.query
    simple = (
        queryset._iterable_class is ModelIterable
        and not query.distinct
        and query.group_by is None
        and not query.combinator
        and not query.is_sliced
        and _TOTAL not in query.annotations
    )
    if not simple:
        total = queryset.count()
        return (list(queryset[offset : offset + limit]) if offset < total else []), total
    rows = list(queryset.annotate(**{_TOTAL: _ListTotal(queryset.order_by().values("pk"))})[offset : offset + limit])
    if rows:
        return rows, getattr(rows[0], _TOTAL)
    return [], 0 if offset == 0 else queryset.count()
