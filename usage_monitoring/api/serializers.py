"""Input validation and OpenAPI shapes for the usage_monitoring API (output is built in representation.py)."""

from __future__ import annotations

from rest_framework import serializers

from billing_project.core.api.serializers import envelope, optional_list
from catalog.api.serializers import BillableMetricSummary


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


class AlertOutput(serializers.Serializer):
    lago_id = serializers.UUIDField()
    lago_organization_id = serializers.UUIDField()
    external_subscription_id = serializers.CharField(allow_null=True)
    lago_wallet_id = serializers.UUIDField(allow_null=True)
    wallet_code = serializers.CharField(allow_null=True)
    alert_type = serializers.CharField()
    code = serializers.CharField()
    name = serializers.CharField(allow_null=True)
    direction = serializers.CharField()
    previous_value = serializers.CharField()
    last_processed_at = serializers.DateTimeField(allow_null=True)
    thresholds = AlertThresholdIO(many=True)
    billable_metric = BillableMetricSummary(allow_null=True)
    created_at = serializers.DateTimeField()


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


class LifetimeUsageThresholdOutput(serializers.Serializer):
    amount_cents = serializers.IntegerField()
    completion_ratio = serializers.FloatField()
    reached_at = serializers.DateTimeField(allow_null=True)


class LifetimeUsageOutput(serializers.Serializer):
    lago_id = serializers.UUIDField()
    lago_subscription_id = serializers.UUIDField()
    external_subscription_id = serializers.CharField()
    external_historical_usage_amount_cents = serializers.IntegerField()
    invoiced_usage_amount_cents = serializers.IntegerField()
    current_usage_amount_cents = serializers.IntegerField()
    from_datetime = serializers.DateTimeField(allow_null=True)
    to_datetime = serializers.DateTimeField(allow_null=True)
    usage_thresholds = LifetimeUsageThresholdOutput(many=True)


LifetimeUsageEnvelope = envelope("LifetimeUsageEnvelope", "lifetime_usage", LifetimeUsageOutput)


class LifetimeUsageInput(serializers.Serializer):
    external_historical_usage_amount_cents = serializers.IntegerField(min_value=0)


LifetimeUsageInputEnvelope = envelope("LifetimeUsageInputEnvelope", "lifetime_usage", LifetimeUsageInput)
