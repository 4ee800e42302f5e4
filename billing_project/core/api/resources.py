"""The resource view layer: what every API view repeated, written once (docs/architecture.md,
"How to add a resource route").

- `endpoint(operation_id, responses, ...)`: drf-spectacular's `extend_schema` with the arguments
  every bxb endpoint gives; the operation's summary is the method's docstring
  (`billing_project.core.api.schema.AutoSchema`).
- `ResourceView`: an `OrganizationAPIView` that knows its resource's Lago root key (`root_key`,
  default `resource_name`), list key (`list_key`, default `root_key + "s"`) and renderer (`render`,
  one object to its dict). `self.one(obj)` answers `{root_key: render(obj)}`, `self.page(request, qs)`
  a page of `list_key` with its `meta`, `self.body(serializer, ...)` the validated root object.
- `route(pattern, view, name)`, `resource_routes(plural, id_kwarg, collection, detail)` and
  `routes_under(prefix, name, {suffix: view})`: the route table of an app's `api/urls.py`, one
  line a route, the names derived from the paths by one rule.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar

from django.db.models import QuerySet
from django.urls import URLPattern, path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from billing_project.core.api.pagination import paginated_response
from billing_project.core.api.unsupported import LagoOnly
from billing_project.core.api.views import OrganizationAPIView, root_payload, validate_input

_UNSET: Any = object()


def endpoint(
    operation_id: str,
    responses: Any = _UNSET,
    *,
    request: Any = _UNSET,
    parameters: list[Any] | None = None,
    tags: list[str] | None = None,
    summary: str | None = None,
    description: str | None = None,
) -> Callable[[Any], Any]:
    """`extend_schema(operation_id=..., parameters=..., request=..., responses=...)`: only the
    arguments given are passed, so the published schema is what `extend_schema` makes. The summary
    is the decorated method's docstring; `summary=` is for a method that has none of its own (an
    inherited one documented again by `extend_schema_view`, or a factory's f-string)."""
    if isinstance(responses, str):  # the former endpoint(operation_id, summary, responses) call
        raise TypeError(f"{operation_id}: the summary is the method's docstring, not endpoint's second argument")
    optional = {"summary": summary, "tags": tags, "parameters": parameters, "description": description}
    kwargs: dict[str, Any] = {"operation_id": operation_id, **{k: v for k, v in optional.items() if v is not None}}
    kwargs.update({k: v for k, v in (("request", request), ("responses", responses)) if v is not _UNSET})
    return extend_schema(**kwargs)


class ResourceView(OrganizationAPIView):
    # An API view of one Lago resource: its root key, list key and renderer declared once.
    # Subclasses set `resource_name` (and `root_key`/`list_key` where Lago's keys differ from
    # `resource_name` and its plural) and `render`, a `staticmethod` turning one object into its dict.
    # `render_many` renders a page (a list serializer's `.data` where the shape is a serializer).
    # (A comment, not a docstring: drf-spectacular publishes the nearest class docstring as each
    # operation's description, and the API's is `OrganizationAPIView`'s.)

    root_key: ClassVar[str] = ""
    list_key: ClassVar[str] = ""
    render: Callable[[Any], Any]

    @classmethod
    def root(cls) -> str:
        return cls.root_key or str(cls.resource_name)

    def render_many(self, items: Iterable[Any]) -> Any:
        return [self.render(item) for item in items]

    def one(self, obj: Any) -> Response:
        """`{root_key: render(obj)}`, Lago's body of one resource."""
        return Response({self.root(): self.render(obj)})

    def page(self, request: Request, queryset: QuerySet[Any]) -> Response:
        """A page of `list_key` with Lago's `meta` (`billing_project.core.api.pagination`)."""
        return paginated_response(request, queryset, self.list_key or f"{self.root()}s", self.render_many)

    def body(
        self,
        request: Request,
        serializer: type[serializers.Serializer] | None = None,
        *,
        lago_only: Iterable[LagoOnly] = (),
        partial: bool = False,
    ) -> dict[str, Any]:
        """The object under the root key (400 when missing), validated by `serializer` when given."""
        payload = root_payload(request, self.root(), lago_only=lago_only)
        return validate_input(serializer, payload, partial=partial) if serializer is not None else payload


def named(view: type[OrganizationAPIView], name: str, module: str, doc: str | None = None) -> Any:
    """A view class made by a factory, named as if written in `module` (logs, tracebacks, admin
    docs and the route listing show `name`, not the factory's local class); `doc` is its docstring
    (drf-spectacular publishes it as the operations' description)."""
    view.__name__ = view.__qualname__ = name
    view.__module__ = module
    if doc is not None:
        view.__doc__ = doc
    return view


def route(pattern: str, view: type[OrganizationAPIView], name: str | None = None) -> URLPattern:
    """`path(pattern, view.as_view(), name=name)`; unnamed when `name` is None."""
    return path(pattern, view.as_view(), name=name) if name else path(pattern, view.as_view())


def resource_routes(
    plural: str, id_kwarg: str, collection: type[OrganizationAPIView], detail: type[OrganizationAPIView]
) -> list[URLPattern]:
    """`<plural>` (named `<plural>` with dashes) and `<plural>/<str:<id_kwarg>>` (named
    `<singular>-detail`): a resource's collection and detail routes."""
    name = plural.replace("_", "-")
    return [route(plural, collection, name), route(f"{plural}/<str:{id_kwarg}>", detail, f"{name[:-1]}-detail")]


RouteEntry = type[OrganizationAPIView] | tuple[type[OrganizationAPIView], str]


def routes_under(prefix: str, name: str, table: Mapping[str, RouteEntry]) -> list[URLPattern]:
    """The routes below `prefix`, in the order of `table`: `suffix: view` is `<prefix>/<suffix>`
    named `<name>-<suffix>` with the path converters replaced by their names and dashes for `/` and
    `_` (`"download_pdf"`: `<name>-download-pdf`, `"metadata/<str:key>"`: `<name>-metadata-key`);
    the empty suffix is `prefix` itself, named `<name>-detail`; `suffix: (view, route name)` names
    its route otherwise."""
    patterns = []
    for suffix, entry in table.items():
        if isinstance(entry, tuple):
            view, route_name = entry
        else:
            words = re.sub(r"<(?:\w+:)?(\w+)>", r"\1", suffix).replace("/", "-").replace("_", "-")
            view, route_name = entry, f"{name}-{words or 'detail'}"
        patterns.append(route(f"{prefix}/{suffix}" if suffix else prefix, view, route_name))
    return patterns
