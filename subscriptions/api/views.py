"""Subscriptions endpoints. Views parse, call a service, and render."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from billing_project.core.api.pagination import paginated_response
from billing_project.core.api.views import (
    OrganizationAPIView,
    query_list,
    refuse_unsupported_body,
    root_payload,
    validate_input,
)
from billing_project.core.errors import ValidationFailure
from subscriptions import selectors, services
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
from subscriptions.models import SubscriptionStatus
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
    status = request.query_params.get("status") or request.data.get("status")
    if status is not None and not isinstance(status, str):
        raise ValidationFailure.single("status", "value_is_invalid")
    return status or None


class SubscriptionCollectionView(OrganizationAPIView):
    @extend_schema(
        operation_id="subscriptions_list",
        summary="List subscriptions",
        parameters=[
            OpenApiParameter("page", int),
            OpenApiParameter("per_page", int),
            OpenApiParameter("external_customer_id", str),
            OpenApiParameter("plan_code", str),
            OpenApiParameter("external_id", str),
            OpenApiParameter("status[]", str, many=True, enum=SubscriptionStatus.values),
        ],
        responses=SubscriptionListEnvelope,
    )
    def get(self, request: Request) -> Response:
        qs = selectors.subscription_list(
            self.organization,
            external_customer_id=request.query_params.get("external_customer_id"),
            plan_code=request.query_params.get("plan_code"),
            statuses=query_list(request, "status") or None,
            external_id=request.query_params.get("external_id"),
        )
        return paginated_response(request, qs, "subscriptions", lambda items: SubscriptionOutput(items, many=True).data)

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


class SubscriptionDetailView(OrganizationAPIView):
    @extend_schema(
        operation_id="subscriptions_retrieve",
        summary="Find a subscription (the active one unless `status` is given)",
        parameters=[OpenApiParameter("status", str, enum=SubscriptionStatus.values)],
        responses=SubscriptionEnvelope,
    )
    def get(self, request: Request, external_id: str) -> Response:
        subscription = selectors.subscription_get(
            self.organization, external_id, status=request.query_params.get("status")
        )
        return Response(subscription_body(subscription))

    @extend_schema(
        operation_id="subscriptions_update",
        summary="Update a subscription (partial)",
        parameters=[OpenApiParameter("status", str, enum=SubscriptionStatus.values)],
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
        parameters=[
            OpenApiParameter("status", str, enum=[SubscriptionStatus.ACTIVE, SubscriptionStatus.PENDING]),
            OpenApiParameter("on_termination_credit_note", str, enum=["credit", "refund", "offset", "skip"]),
            OpenApiParameter("on_termination_invoice", str, enum=["generate", "skip"]),
        ],
        responses=SubscriptionEnvelope,
    )
    def delete(self, request: Request, external_id: str) -> Response:
        subscription = selectors.subscription_get(
            self.organization, external_id, status=request.query_params.get("status")
        )
        subscription = services.subscription_terminate(
            self.organization,
            subscription,
            actor=self.api_key,
            on_termination_credit_note=request.query_params.get("on_termination_credit_note") or None,
            on_termination_invoice=request.query_params.get("on_termination_invoice") or None,
        )
        return Response(subscription_body(subscription))
