"""Lago's page/per_page pagination and its `meta` block (docs/lago-compatibility.md §1.4)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from types import SimpleNamespace
from typing import Any

from django.conf import settings
from django.db.models import BigIntegerField, QuerySet, Subquery
from django.db.models.query import ModelIterable
from rest_framework.request import Request
from rest_framework.response import Response

from billing_project.core.bounds import MAX_PAGE
from billing_project.core.errors import ValidationFailure
from billing_project.core.prepared import PreparedQuery

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


def counted_page(queryset: QuerySet[Any], offset: int, limit: int) -> QuerySet[Any] | None:
    """`queryset[offset : offset + limit]`, each row carrying the list's total (`list_total`), or
    None for querysets the count cannot ride on (distinct, grouped, combined, sliced, or not
    yielding model instances)."""
    query = queryset.query
    if (
        queryset._iterable_class is not ModelIterable
        or query.distinct
        or query.group_by is not None
        or query.combinator
        or query.is_sliced
        or _TOTAL in query.annotations
    ):
        return None
    return queryset.annotate(**{_TOTAL: _ListTotal(queryset.order_by().values("pk"))})[offset : offset + limit]


def page_with_total(queryset: QuerySet[Any], offset: int, limit: int) -> tuple[list[Any], int]:
    """The rows `[offset, offset + limit)` of `queryset` and its total count, in one statement:
    each row of the page carries the total (read in the same snapshot, so they agree). A page past
    the end has no row to carry it: then the total is counted apart (0 on the first page, without a
    statement). Querysets `counted_page` refuses are counted first, as before."""
    counted = counted_page(queryset, offset, limit)
    if counted is None:
        total = queryset.count()
        return (list(queryset[offset : offset + limit]) if offset < total else []), total
    return _with_total(list(counted), offset, queryset.count)


def _with_total(rows: list[Any], offset: int, count: Callable[[], int]) -> tuple[list[Any], int]:
    if rows:
        return rows, getattr(rows[0], _TOTAL)
    return [], 0 if offset == 0 else count()


class PreparedPages:
    """The pages of one list, each compiled to SQL once per process (`PreparedQuery`), for the
    lists read on every request of a client (a list without filters: `GET /customers?per_page=1`).

    Building and compiling the page's queryset was most of such a request's CPU (about 1 ms of
    the 2.5 ms of `GET /api/v1/customers?per_page=1`, bench/request_path.py). `build(p)` returns
    the list's queryset (its filters, order and annotations) for the values `p.<name>`, typed by
    `kinds` as `PreparedQuery` takes them; `fetch` answers what `page_with_total` answers for it.
    A page is compiled per (offset, limit): at most `MAX_SHAPES` per list and process are kept
    (SQL text, no rows: nothing in it can be stale but the schema), then they are compiled again.
    """

    MAX_SHAPES = 64

    def __init__(self, build: Callable[[SimpleNamespace], QuerySet[Any]], **kinds: type) -> None:
        self.build = build
        self.kinds = kinds
        self._pages: dict[tuple[int, int], PreparedQuery] = {}

    def _page(self, offset: int, limit: int) -> PreparedQuery:
        key = (offset, limit)
        query = self._pages.get(key)  # a local reference: another thread may clear the dict
        if query is None:
            if len(self._pages) >= self.MAX_SHAPES:
                self._pages.clear()
            query = self._pages[key] = PreparedQuery(lambda p: self._counted(p, offset, limit), **self.kinds)
        return query

    def _counted(self, p: SimpleNamespace, offset: int, limit: int) -> QuerySet[Any]:
        counted = counted_page(self.build(p), offset, limit)
        if counted is None:
            raise TypeError("PreparedPages serves lists whose count rides on their page (see counted_page)")
        return counted

    def fetch(self, offset: int, limit: int, **values: Any) -> tuple[list[Any], int]:
        """The rows `[offset, offset + limit)` of `build(values)` and the list's total."""
        return _with_total(
            self._page(offset, limit).fetch(**values), offset, lambda: self.build(SimpleNamespace(**values)).count()
        )


def prepared_page_response(
    request: Request,
    pages: PreparedPages,
    root_key: str,
    serialize: Callable[[Iterable[Any]], Any],
    **values: Any,
) -> Response:
    """`paginated_response` for a list served by `pages` with these values."""
    page, per_page = page_params(request)
    items, total = pages.fetch((page - 1) * per_page, per_page, **values)
    return Response({root_key: serialize(items), "meta": meta_for(total, page, per_page)})
