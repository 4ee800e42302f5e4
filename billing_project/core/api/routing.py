"""URL patterns grouped by their first path segment: the same resolutions with fewer tries.

Django resolves a path by trying the patterns one after the other. The API mounts each app's
`api/urls.py` under the same prefix, so `GET /api/v1/customers/{id}/current_usage` was matched
against most of the ~85 API routes (a regular expression each, plus the bookkeeping of every
failed try) before reaching invoicing's: 40 µs of CPU for that one route, more than the request's
own key lookup. `group_by_first_segment` rewrites a list of patterns into the equivalent

    path("customers", view)                          # exact first segments, as they were
    path("customers/", include([... the routes under customers/, prefix removed ...]))
    path("invoices/", include([...]))
    ...

so a path is compared with one prefix per group, then only with its own group's routes.

Why no resolution changes: two routes whose first segments are different literals never match the
same path, so only the relative order of routes *within* a group matters, and it is kept. Routes
that do not start with a literal segment (a converter, a regular expression) are kept where they
were, and groups are only formed between them. Views, names, keyword arguments and the
`ResolverMatch.route` (used as the metrics label) are the same, since the group prefix plus the
shortened route is the original route. Includes with a namespace, an app name or default kwargs are
left alone. tests/core/test_request_overhead.py compares every API route's resolution.
"""

from __future__ import annotations

from typing import Any

from django.urls import URLPattern, URLResolver, include, path
from django.urls.resolvers import RoutePattern


def _leaves(patterns: list[Any]) -> list[Any] | None:
    """The patterns with plain includes (empty prefix, no namespace, no kwargs) flattened, or None
    when something else is in the way."""
    leaves: list[Any] = []
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            plain = (
                isinstance(pattern.pattern, RoutePattern)
                and str(pattern.pattern) == ""
                and not pattern.namespace
                and not pattern.app_name
                and not pattern.default_kwargs
            )
            if not plain:
                return None
            inner = _leaves(pattern.url_patterns)
            if inner is None:
                return None
            leaves.extend(inner)
        else:
            leaves.append(pattern)
    return leaves


def _first_segment(pattern: Any) -> tuple[str, str] | None:
    """(first segment, rest of the route) of a route that starts with a literal segment, else None."""
    if not isinstance(pattern, URLPattern) or not isinstance(pattern.pattern, RoutePattern):
        return None
    route = str(pattern.pattern)
    segment, _, rest = route.partition("/")
    if not segment or "<" in segment:
        return None
    return segment, rest


def _shortened(pattern: URLPattern, rest: str) -> URLPattern:
    return URLPattern(
        RoutePattern(rest, name=pattern.pattern.name, is_endpoint=True),
        pattern.callback,
        pattern.default_args,
        pattern.name,
    )


def group_by_first_segment(patterns: list[Any]) -> list[Any]:
    leaves = _leaves(patterns)
    if leaves is None:
        return list(patterns)
    grouped: list[Any] = []
    exact: dict[str, list[Any]] = {}
    nested: dict[str, list[Any]] = {}
    order: dict[str, None] = {}  # the segments in the order of their first route (busiest apps first)

    def flush() -> None:
        for segment in order:
            grouped.extend(exact.pop(segment, []))
            if segment in nested:
                grouped.append(path(f"{segment}/", include(nested.pop(segment))))
        order.clear()

    for pattern in leaves:
        split = _first_segment(pattern)
        if split is None:
            flush()  # a route that may match any first segment keeps its place
            grouped.append(pattern)
            continue
        segment, rest = split
        order.setdefault(segment, None)
        route = str(pattern.pattern)
        if route == segment:
            exact.setdefault(segment, []).append(pattern)
        else:
            nested.setdefault(segment, []).append(_shortened(pattern, rest))
    flush()
    return grouped
