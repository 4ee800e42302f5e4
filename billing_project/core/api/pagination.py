"""Lago's page/per_page pagination and its `meta` block (docs/lago-compatibility.md §1.4)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
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
    total = queryset.count()
    offset = (page - 1) * per_page
    items = list(queryset[offset : offset + per_page]) if offset < total else []
    return Response({root_key: serialize(items), "meta": meta_for(total, page, per_page)})
