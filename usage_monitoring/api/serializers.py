"""Input validation and OpenAPI shapes for the usage_monitoring API (output is built in representation.py)."""

from __future__ import annotations

from rest_framework import serializers

from billing_project.core.api.serializers import envelope, optional_list
from billing_project.core.api.shapes import schema_serializer
from usage_monitoring.representation import AlertShape, LifetimeUsageShape


class AlertThresholdIO(serializers.Serializer):
    code = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    value = serializers.CharField(help_text="Decimal string; amounts are in cents.")
    recurring = serializers.BooleanField(required=False, allow_null=True)


class AlertInput(serializers.Serializer):
    alert_type = serializers.CharField(required=False, allow_null=True)
    code = serializers.CharField(required=False, allow_null=True)
    name = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    billable_metric_code = serializers.CharField(required=False, allow_null=True)
    thresholds = optional_list(AlertThresholdIO())


class AlertInputEnvelope(serializers.Serializer):
    alert = AlertInput(required=False)
    alerts = AlertInput(many=True, required=False)


AlertUpdateEnvelope = envelope("AlertUpdateEnvelope", "alert", AlertInput)


AlertOutput = schema_serializer(AlertShape)

AlertEnvelope = envelope("AlertEnvelope", "alert", AlertOutput)


class AlertPageMeta(serializers.Serializer):
    current_page = serializers.IntegerField()
    next_page = serializers.IntegerField(allow_null=True)
    prev_page = serializers.IntegerField(allow_null=True)
    total_pages = serializers.IntegerField()
    total_count = serializers.IntegerField()


class AlertListEnvelope(serializers.Serializer):
    alerts = AlertOutput(many=True)
    meta = AlertPageMeta(required=False)


LifetimeUsageOutput = schema_serializer(LifetimeUsageShape)

LifetimeUsageEnvelope = envelope("LifetimeUsageEnvelope", "lifetime_usage", LifetimeUsageOutput)


class LifetimeUsageInput(serializers.Serializer):
    external_historical_usage_amount_cents = serializers.IntegerField(min_value=0)


LifetimeUsageInputEnvelope = envelope("LifetimeUsageInputEnvelope", "lifetime_usage", LifetimeUsageInput)
