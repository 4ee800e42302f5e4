"""Lago's customer-scoped lists: `GET /customers/{external_id}/<list>`.

Each one is the top-level list (`GET /invoices`, `/subscriptions`, ...) restricted to one customer:
the same filters, pagination and shapes, answered by the same function. The customer is looked up
first, so an unknown customer, or another organization's, is 404 `customer_not_found` (as Lago's
`Customers::BaseController`); the path's customer replaces any `external_customer_id` the query
sends.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from billing_project.core.api.filters import LagoFilterSet
from billing_project.core.api.views import OrganizationAPIView
from customers import selectors

# (request, organization, parsed filters) -> the list's answer; the top-level list's GET calls the same.
ListAnswer = Callable[[Request, Any, dict[str, Any]], Response]


def customer_list_view(
    plural: str,
    filterset: type[LagoFilterSet],
    answer: ListAnswer,
    responses: Any,
    *,
    resource_name: str | None = None,
    extra_parameters: Sequence[OpenApiParameter] = (),
    base: type[OrganizationAPIView] = OrganizationAPIView,
) -> type[OrganizationAPIView]:
    """The view class of `GET /customers/{external_id}/<plural>` answering like `GET /<plural>`;
    `resource_name` (scoped keys) defaults to the singular, `plural` without its `s`; `base` holds
    the route's other methods, if any (`POST /customers/{external_id}/wallets`)."""

    @extend_schema(
        operation_id=f"customer_{plural}_list",
        summary=f"List a customer's {plural.replace('_', ' ')} (the filters of GET /{plural})",
        parameters=[*filterset.schema_parameters(exclude=("external_customer_id",)), *extra_parameters],
        responses=responses,
    )
    def get(self: OrganizationAPIView, request: Request, external_id: str) -> Response:
        customer = selectors.customer_get(self.organization, external_id)
        params = filterset.parse(request)
        params["external_customer_id"] = customer.external_id
        return answer(request, self.organization, params)

    name = "Customer" + "".join(part.title() for part in plural.split("_")) + "View"
    return type(
        name, (base,), {"resource_name": resource_name or plural[:-1], "get": get, "__module__": base.__module__}
    )
