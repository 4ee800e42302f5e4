"""Subscriptions endpoints. Views parse, call a service, and render."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from billing_project.core.api.pagination import paginated_response
from billing_project.core.api.views import (
    OrganizationAPIView,
    refuse_unsupported_body,
    root_payload,
    validate_input,
)
from billing_project.core.errors import ValidationFailure
from customers.api.scoped import customer_list_view
from subscriptions import selectors, services
from subscriptions.api import filters
from subscriptions.api.serializers import (
    SUBSCRIPTION_BODY_LAGO_ONLY,
    SUBSCRIPTION_LAGO_ONLY,
    SubscriptionEnvelope,
    SubscriptionInput,
    SubscriptionInputEnvelope,
    SubscriptionListEnvelope,
    SubscriptionUpdateInput,
    SubscriptionUpdateInputEnvelope,
)
from subscriptions.representation import SubscriptionOutput, SubscriptionWithPlanOutput


def subscription_body(subscription: Any) -> dict[str, Any]:
    subscription = selectors.subscription_reload(subscription)
    return {"subscription": SubscriptionWithPlanOutput(subscription).data}


def _raw_keys(payload: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """Validated values, keeping the untouched JSON for nested overrides (decimals stay exact)."""
    result = dict(data)
    if payload.get("plan_overrides") is not None:
        result["plan_overrides"] = payload["plan_overrides"]
    return result


def _status(request: Request) -> str | None:
    """Which of the external id's subscriptions a PUT addresses: `?status=`, or Lago's body `status`."""
    status = filters.SubscriptionLookupFilters.parse(request)["status"] or request.data.get("status")
    if status is not None and not isinstance(status, str):
        raise ValidationFailure.single("status", "value_is_invalid")
    return status or None


def subscription_list_answer(request: Request, organization: Any, params: dict[str, Any]) -> Response:
    """`GET /subscriptions` (and `GET /customers/{external_id}/subscriptions`) for parsed filters."""
    qs = selectors.subscription_list(
        organization,
        external_customer_id=params["external_customer_id"],
        plan_code=params["plan_code"],
        statuses=params["status"] or None,
        external_id=params["external_id"],
    )
    return paginated_response(request, qs, "subscriptions", lambda items: SubscriptionOutput(items, many=True).data)


class SubscriptionCollectionView(OrganizationAPIView):
    @extend_schema(
        operation_id="subscriptions_list",
        summary="List subscriptions",
        parameters=filters.SubscriptionFilters.schema_parameters(),
        responses=SubscriptionListEnvelope,
    )
    def get(self, request: Request) -> Response:
        return subscription_list_answer(request, self.organization, filters.SubscriptionFilters.parse(request))

    @extend_schema(
        operation_id="subscriptions_create",
        summary="Create a subscription, or change its plan (same external_id, another plan_code)",
        request=SubscriptionInputEnvelope,
        responses=SubscriptionEnvelope,
    )
    def post(self, request: Request) -> Response:
        refuse_unsupported_body(request, SUBSCRIPTION_BODY_LAGO_ONLY)
        payload = root_payload(request, "subscription", lago_only=SUBSCRIPTION_LAGO_ONLY)
        data = validate_input(SubscriptionInput, payload)
        subscription = services.subscription_create(self.organization, _raw_keys(payload, data), actor=self.api_key)
        return Response(subscription_body(subscription))


CustomerSubscriptionListView = customer_list_view(
    "subscriptions",
    filters.SubscriptionFilters,
    subscription_list_answer,
    SubscriptionListEnvelope,
    resource_name="subscription",
)


class SubscriptionDetailView(OrganizationAPIView):
    @extend_schema(
        operation_id="subscriptions_retrieve",
        summary="Find a subscription (the active one unless `status` is given)",
        parameters=filters.SubscriptionLookupFilters.schema_parameters(),
        responses=SubscriptionEnvelope,
    )
    def get(self, request: Request, external_id: str) -> Response:
        params = filters.SubscriptionLookupFilters.parse(request)
        subscription = selectors.subscription_get(self.organization, external_id, status=params["status"])
        return Response(subscription_body(subscription))

    @extend_schema(
        operation_id="subscriptions_update",
        summary="Update a subscription (partial)",
        parameters=filters.SubscriptionLookupFilters.schema_parameters(),
        request=SubscriptionUpdateInputEnvelope,
        responses=SubscriptionEnvelope,
    )
    def put(self, request: Request, external_id: str) -> Response:
        payload = root_payload(request, "subscription", lago_only=SUBSCRIPTION_LAGO_ONLY)
        data = validate_input(SubscriptionUpdateInput, payload, partial=True)
        subscription = selectors.subscription_get_live(self.organization, external_id, status=_status(request))
        subscription = services.subscription_update(
            self.organization, subscription, _raw_keys(payload, data), actor=self.api_key
        )
        return Response(subscription_body(subscription))

    @extend_schema(
        operation_id="subscriptions_destroy",
        summary="Terminate a subscription (or cancel a pending one with status=pending)",
        parameters=filters.SubscriptionTerminateFilters.schema_parameters(),
        responses=SubscriptionEnvelope,
    )
    def delete(self, request: Request, external_id: str) -> Response:
        params = filters.SubscriptionTerminateFilters.parse(request)
        subscription = selectors.subscription_get(self.organization, external_id, status=params["status"])
        subscription = services.subscription_terminate(
            self.organization,
            subscription,
            actor=self.api_key,
            on_termination_credit_note=params["on_termination_credit_note"],
            on_termination_invoice=params["on_termination_invoice"],
        )
        return Response(subscription_body(subscription))
