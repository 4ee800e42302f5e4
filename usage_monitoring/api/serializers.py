"""Input validation and OpenAPI shapes for the usage_monitoring API (output is built in representation.py)."""

from __future__ import annotations

from rest_framework import serializers

from billing_project.core.api.serializers import envelope, list_envelope, optional_list, page_meta
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


AlertPageMeta = page_meta("AlertPageMeta")
AlertListEnvelope = list_envelope("AlertListEnvelope", "alerts", AlertOutput, AlertPageMeta, meta_required=False)


LifetimeUsageOutput = schema_serializer(LifetimeUsageShape)

LifetimeUsageEnvelope = envelope("LifetimeUsageEnvelope", "lifetime_usage", LifetimeUsageOutput)


class LifetimeUsageInput(serializers.Serializer):
    external_historical_usage_amount_cents = serializers.IntegerField(min_value=0)


LifetimeUsageInputEnvelope = envelope("LifetimeUsageInputEnvelope", "lifetime_usage", LifetimeUsageInput)
