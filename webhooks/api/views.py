"""Webhook endpoints, the JWT public key, and the deliveries ledger. Views parse, call, render."""

from __future__ import annotations

import base64
from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from rest_framework.request import Request
from rest_framework.response import Response

from billing_project.core.api.filters import PLAIN_PAGE_PARAMETERS
from billing_project.core.api.resources import ResourceView, endpoint
from billing_project.core.api.views import OrganizationAPIView
from webhooks import selectors, services
from webhooks.api import filters
from webhooks.api.serializers import (
    PublicKeyEnvelope,
    WebhookDeliveryDetailOutput,
    WebhookDeliveryEnvelope,
    WebhookDeliveryListEnvelope,
    WebhookDeliveryOutput,
    WebhookEndpointEnvelope,
    WebhookEndpointInput,
    WebhookEndpointInputEnvelope,
    WebhookEndpointListEnvelope,
    WebhookEndpointOutput,
)
from webhooks.inputs import WebhookEndpointFields
from webhooks.models import WebhookSigningKey


class WebhookEndpointView(ResourceView):
    resource_name = "webhook_endpoint"
    render = staticmethod(lambda endpoint: WebhookEndpointOutput(endpoint).data)

    def render_many(self, items: Any) -> list[Any]:
        return list(WebhookEndpointOutput(items, many=True).data)


class WebhookEndpointCollectionView(WebhookEndpointView):
    @endpoint("webhook_endpoints_list", WebhookEndpointListEnvelope, parameters=PLAIN_PAGE_PARAMETERS)
    def get(self, request: Request) -> Response:
        """List webhook endpoints"""
        return self.page(request, selectors.webhook_endpoint_list(self.organization))

    @endpoint("webhook_endpoints_create", WebhookEndpointEnvelope, request=WebhookEndpointInputEnvelope)
    def post(self, request: Request) -> Response:
        """Register a webhook endpoint"""
        data = self.body(request, WebhookEndpointInput)
        created = services.webhook_endpoint_create(
            self.organization,
            webhook_url=data.get("webhook_url"),
            signature_algo=data.get("signature_algo"),
            name=data.get("name"),
            event_types=data.get("event_types"),
        )
        return self.one(created)


class WebhookEndpointDetailView(WebhookEndpointView):
    @endpoint("webhook_endpoints_retrieve", WebhookEndpointEnvelope)
    def get(self, request: Request, lago_id: str) -> Response:
        """Find a webhook endpoint"""
        return self.one(selectors.webhook_endpoint_get(self.organization, lago_id))

    @endpoint("webhook_endpoints_update", WebhookEndpointEnvelope, request=WebhookEndpointInputEnvelope)
    def put(self, request: Request, lago_id: str) -> Response:
        """Update a webhook endpoint (partial)"""
        data = WebhookEndpointFields.from_validated(self.body(request, WebhookEndpointInput, partial=True))
        return self.one(services.webhook_endpoint_update(self.organization, lago_id=lago_id, data=data))

    @endpoint("webhook_endpoints_destroy", WebhookEndpointEnvelope)
    def delete(self, request: Request, lago_id: str) -> Response:
        """Delete a webhook endpoint"""
        return self.one(services.webhook_endpoint_delete(self.organization, lago_id=lago_id))


class WebhookPublicKeyView(OrganizationAPIView):
    resource_name = "webhook_jwt_public_key"

    @endpoint("webhooks_public_key", PublicKeyEnvelope)
    def get(self, request: Request) -> Response:
        """The public key that verifies JWT-signed webhooks (base64 of the PEM)"""
        key = services.webhook_signing_key_get(self.organization)
        return Response({"webhook": {"public_key": _encoded_public_key(key)}})


class WebhookPlainPublicKeyView(OrganizationAPIView):
    """Lago's older `GET /webhooks/public_key` (deprecated there, still called by its clients): the
    same key as `/webhooks/json_public_key`, as plain text."""

    resource_name = "webhook_jwt_public_key"

    @endpoint("webhooks_plain_public_key", {(200, "text/plain"): OpenApiTypes.STR})
    def get(self, request: Request) -> HttpResponse:
        """The public key that verifies JWT-signed webhooks, as text (base64 of the PEM)"""
        key = services.webhook_signing_key_get(self.organization)
        return HttpResponse(_encoded_public_key(key), content_type="text/plain; charset=utf-8")


def _encoded_public_key(key: WebhookSigningKey) -> str:
    return base64.b64encode(key.public_key_pem.encode("ascii")).decode("ascii")


class WebhookDeliveryView(ResourceView):
    resource_name = "webhook_endpoint"
    root_key = "webhook"
    render = staticmethod(lambda delivery: WebhookDeliveryDetailOutput(delivery).data)

    def render_many(self, items: Any) -> list[Any]:
        return list(WebhookDeliveryOutput(items, many=True).data)


class WebhookDeliveryCollectionView(WebhookDeliveryView):
    @endpoint(
        "webhooks_list", WebhookDeliveryListEnvelope, parameters=filters.WebhookDeliveryFilters.schema_parameters()
    )
    def get(self, request: Request) -> Response:
        """List webhook deliveries (newest first)"""
        params = filters.WebhookDeliveryFilters.parse(request)
        qs = selectors.webhook_delivery_list(
            self.organization,
            statuses=params["statuses"] + params["status"],
            webhook_types=params["webhook_types"] + params["webhook_type"],
            endpoint_id=params["webhook_endpoint_id"],
        )
        return self.page(request, qs)


class WebhookDeliveryDetailView(WebhookDeliveryView):
    @endpoint("webhooks_retrieve", WebhookDeliveryEnvelope)
    def get(self, request: Request, lago_id: str) -> Response:
        """Find a webhook delivery, with every attempt"""
        return self.one(selectors.webhook_delivery_get(self.organization, lago_id))


class WebhookDeliveryRetryView(WebhookDeliveryView):
    @endpoint("webhooks_retry", WebhookDeliveryEnvelope, request=None)
    def post(self, request: Request, lago_id: str) -> Response:
        """Send a failed or waiting webhook again now"""
        services.webhook_delivery_retry(self.organization, lago_id=lago_id)
        return self.one(selectors.webhook_delivery_get(self.organization, lago_id))
