"""Input and output shapes of the webhooks API (docs/webhooks.md)."""

from __future__ import annotations

from rest_framework import serializers

from billing_project.core.api.serializers import envelope, list_envelope
from webhooks.models import DeliveryStatus, SignatureAlgo


class WebhookEndpointInput(serializers.Serializer):
    webhook_url = serializers.CharField(max_length=1024, allow_blank=True, allow_null=True)
    signature_algo = serializers.ChoiceField(choices=SignatureAlgo.values, required=False, allow_null=True)
    name = serializers.CharField(max_length=255, required=False, allow_blank=True, allow_null=True)
    event_types = serializers.ListField(
        child=serializers.CharField(max_length=100), required=False, allow_null=True, allow_empty=True
    )


WebhookEndpointInputEnvelope = envelope("WebhookEndpointInputEnvelope", "webhook_endpoint", WebhookEndpointInput)


class WebhookEndpointOutput(serializers.Serializer):
    lago_id = serializers.UUIDField(source="id")
    lago_organization_id = serializers.UUIDField(source="organization_id")
    webhook_url = serializers.CharField()
    signature_algo = serializers.CharField()
    name = serializers.CharField(allow_null=True)
    event_types = serializers.ListField(child=serializers.CharField(), allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


WebhookEndpointEnvelope = envelope("WebhookEndpointEnvelope", "webhook_endpoint", WebhookEndpointOutput)
WebhookEndpointListEnvelope = list_envelope("WebhookEndpointListEnvelope", "webhook_endpoints", WebhookEndpointOutput)


class PublicKeyOutput(serializers.Serializer):
    public_key = serializers.CharField(help_text="Base64 of the RSA public key (PEM) that verifies JWT signatures.")


PublicKeyEnvelope = envelope("PublicKeyEnvelope", "webhook", PublicKeyOutput)


class WebhookAttemptOutput(serializers.Serializer):
    number = serializers.IntegerField()
    started_at = serializers.DateTimeField()
    duration_ms = serializers.IntegerField()
    http_status = serializers.IntegerField(allow_null=True)
    succeeded = serializers.BooleanField()
    error = serializers.CharField()
    response = serializers.CharField(source="response_excerpt")


class WebhookDeliveryOutput(serializers.Serializer):
    lago_id = serializers.UUIDField(source="id")
    lago_organization_id = serializers.UUIDField(source="organization_id")
    lago_webhook_endpoint_id = serializers.UUIDField(source="endpoint_id", allow_null=True)
    webhook_url = serializers.CharField()
    webhook_type = serializers.CharField()
    object_type = serializers.CharField()
    status = serializers.ChoiceField(choices=DeliveryStatus.values)
    attempts_count = serializers.IntegerField()
    retries = serializers.IntegerField()
    http_status = serializers.IntegerField(source="last_http_status", allow_null=True)
    last_error = serializers.CharField()
    next_attempt_at = serializers.DateTimeField(allow_null=True)
    last_attempt_at = serializers.DateTimeField(allow_null=True)
    delivered_at = serializers.DateTimeField(allow_null=True)
    payload = serializers.JSONField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class WebhookDeliveryDetailOutput(WebhookDeliveryOutput):
    attempts = WebhookAttemptOutput(many=True, source="attempts.all")


WebhookDeliveryEnvelope = envelope("WebhookDeliveryEnvelope", "webhook", WebhookDeliveryDetailOutput)
WebhookDeliveryListEnvelope = list_envelope("WebhookDeliveryListEnvelope", "webhooks", WebhookDeliveryOutput)
