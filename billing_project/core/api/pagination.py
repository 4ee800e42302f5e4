"""Lago's page/per_page pagination and its `meta` block (docs/lago-compatibility.md §1.4)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from rest_framework.request import Request
from rest_framework.response import Response

DEFAULT_PER_PAGE = 100
MAX_PER_PAGE = 1000  # the default of the API_MAX_PER_PAGE setting


def max_per_page() -> int:
    """The largest page a client may ask for (`API_MAX_PER_PAGE`); larger `per_page` is capped."""
    return max(1, int(getattr(settings, "API_MAX_PER_PAGE", MAX_PER_PAGE) or MAX_PER_PAGE))


def _positive_int(value: Any, default: int) -> int:
    try:
        number = int(str(value))
    except (TypeError, ValueError):
        return default
    return number if number > 0 else default


def page_params(request: Request) -> tuple[int, int]:
    page = _positive_int(request.query_params.get("page"), 1)
    per_page = min(_positive_int(request.query_params.get("per_page"), DEFAULT_PER_PAGE), max_per_page())
    return page, per_page


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
    serialize: Callable[[Iterable[Any]], list[dict[str, Any]]],
) -> Response:
    page, per_page = page_params(request)
    total = queryset.count()
    offset = (page - 1) * per_page
    items = list(queryset[offset : offset + per_page]) if offset < total else []
    return Response({root_key: serialize(items), "meta": meta_for(total, page, per_page)})
