"""Webhook endpoints, the JWT public key, and the deliveries ledger. Views parse, call, render."""

from __future__ import annotations

import base64

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from billing_project.core.api.pagination import paginated_response
from billing_project.core.api.views import OrganizationAPIView, root_payload, validate_input
from webhooks import selectors, services
from webhooks.api import filters
from webhooks.api.serializers import (
    PublicKeyEnvelope,
    WebhookDeliveryEnvelope,
    WebhookDeliveryListEnvelope,
    WebhookDeliveryOutput,
    WebhookEndpointEnvelope,
    WebhookEndpointInput,
    WebhookEndpointInputEnvelope,
    WebhookEndpointListEnvelope,
    WebhookEndpointOutput,
    delivery_body,
    endpoint_body,
)
from webhooks.inputs import WebhookEndpointFields
from webhooks.models import WebhookSigningKey


class WebhookEndpointCollectionView(OrganizationAPIView):
    resource_name = "webhook_endpoint"

    @extend_schema(
        operation_id="webhook_endpoints_list",
        summary="List webhook endpoints",
        parameters=[OpenApiParameter("page", int), OpenApiParameter("per_page", int)],
        responses=WebhookEndpointListEnvelope,
    )
    def get(self, request: Request) -> Response:
        qs = selectors.webhook_endpoint_list(self.organization)
        return paginated_response(
            request, qs, "webhook_endpoints", lambda items: list(WebhookEndpointOutput(items, many=True).data)
        )

    @extend_schema(
        operation_id="webhook_endpoints_create",
        summary="Register a webhook endpoint",
        request=WebhookEndpointInputEnvelope,
        responses=WebhookEndpointEnvelope,
    )
    def post(self, request: Request) -> Response:
        data = validate_input(WebhookEndpointInput, root_payload(request, "webhook_endpoint"))
        endpoint = services.webhook_endpoint_create(
            self.organization,
            webhook_url=data.get("webhook_url"),
            signature_algo=data.get("signature_algo"),
            name=data.get("name"),
            event_types=data.get("event_types"),
        )
        return Response(endpoint_body(endpoint))


class WebhookEndpointDetailView(OrganizationAPIView):
    resource_name = "webhook_endpoint"

    @extend_schema(
        operation_id="webhook_endpoints_retrieve", summary="Find a webhook endpoint", responses=WebhookEndpointEnvelope
    )
    def get(self, request: Request, lago_id: str) -> Response:
        return Response(endpoint_body(selectors.webhook_endpoint_get(self.organization, lago_id)))

    @extend_schema(
        operation_id="webhook_endpoints_update",
        summary="Update a webhook endpoint (partial)",
        request=WebhookEndpointInputEnvelope,
        responses=WebhookEndpointEnvelope,
    )
    def put(self, request: Request, lago_id: str) -> Response:
        data = validate_input(WebhookEndpointInput, root_payload(request, "webhook_endpoint"), partial=True)
        endpoint = services.webhook_endpoint_update(
            self.organization, lago_id=lago_id, data=WebhookEndpointFields.from_validated(data)
        )
        return Response(endpoint_body(endpoint))

    @extend_schema(
        operation_id="webhook_endpoints_destroy", summary="Delete a webhook endpoint", responses=WebhookEndpointEnvelope
    )
    def delete(self, request: Request, lago_id: str) -> Response:
        endpoint = services.webhook_endpoint_delete(self.organization, lago_id=lago_id)
        return Response(endpoint_body(endpoint))


class WebhookPublicKeyView(OrganizationAPIView):
    resource_name = "webhook_jwt_public_key"

    @extend_schema(
        operation_id="webhooks_public_key",
        summary="The public key that verifies JWT-signed webhooks (base64 of the PEM)",
        responses=PublicKeyEnvelope,
    )
    def get(self, request: Request) -> Response:
        key = services.webhook_signing_key_get(self.organization)
        return Response({"webhook": {"public_key": _encoded_public_key(key)}})


class WebhookPlainPublicKeyView(OrganizationAPIView):
    """Lago's older `GET /webhooks/public_key` (deprecated there, still called by its clients): the
    same key as `/webhooks/json_public_key`, as plain text."""

    resource_name = "webhook_jwt_public_key"

    @extend_schema(
        operation_id="webhooks_plain_public_key",
        summary="The public key that verifies JWT-signed webhooks, as text (base64 of the PEM)",
        responses={(200, "text/plain"): OpenApiTypes.STR},
    )
    def get(self, request: Request) -> HttpResponse:
        key = services.webhook_signing_key_get(self.organization)
        return HttpResponse(_encoded_public_key(key), content_type="text/plain; charset=utf-8")


def _encoded_public_key(key: WebhookSigningKey) -> str:
    return base64.b64encode(key.public_key_pem.encode("ascii")).decode("ascii")


class WebhookDeliveryCollectionView(OrganizationAPIView):
    resource_name = "webhook_endpoint"

    @extend_schema(
        operation_id="webhooks_list",
        summary="List webhook deliveries (newest first)",
        parameters=filters.WebhookDeliveryFilters.schema_parameters(),
        responses=WebhookDeliveryListEnvelope,
    )
    def get(self, request: Request) -> Response:
        params = filters.WebhookDeliveryFilters.parse(request)
        qs = selectors.webhook_delivery_list(
            self.organization,
            statuses=params["statuses"] + params["status"],
            webhook_types=params["webhook_types"] + params["webhook_type"],
            endpoint_id=params["webhook_endpoint_id"],
        )
        return paginated_response(
            request, qs, "webhooks", lambda items: list(WebhookDeliveryOutput(items, many=True).data)
        )


class WebhookDeliveryDetailView(OrganizationAPIView):
    resource_name = "webhook_endpoint"

    @extend_schema(
        operation_id="webhooks_retrieve",
        summary="Find a webhook delivery, with every attempt",
        responses=WebhookDeliveryEnvelope,
    )
    def get(self, request: Request, lago_id: str) -> Response:
        return Response(delivery_body(selectors.webhook_delivery_get(self.organization, lago_id)))


class WebhookDeliveryRetryView(OrganizationAPIView):
    resource_name = "webhook_endpoint"

    @extend_schema(
        operation_id="webhooks_retry",
        summary="Send a failed or waiting webhook again now",
        request=None,
        responses=WebhookDeliveryEnvelope,
    )
    def post(self, request: Request, lago_id: str) -> Response:
        services.webhook_delivery_retry(self.organization, lago_id=lago_id)
        return Response(delivery_body(selectors.webhook_delivery_get(self.organization, lago_id)))
