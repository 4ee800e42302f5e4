"""Input validation and OpenAPI components of the features and entitlements API (output is built in
entitlements/representation.py; its components are derived from the shapes the renderers return)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from billing_project.core.api.serializers import envelope, list_envelope, optional_list
from billing_project.core.api.shapes import schema_serializer
from entitlements.representation import VALUE_SCHEMA, FeatureShape, PlanEntitlementShape, SubscriptionEntitlementShape
from entitlements.values import VALUE_TYPES


class PrivilegeInput(serializers.Serializer):
    code = serializers.CharField(max_length=255, allow_blank=True)
    name = serializers.CharField(max_length=255, required=False, allow_null=True, allow_blank=True)
    value_type = serializers.CharField(required=False, allow_null=True, help_text=", ".join(VALUE_TYPES))
    config = serializers.DictField(required=False, allow_null=True, help_text='`{"select_options": [...]}` for select')
    billable_metric_code = serializers.CharField(
        required=False,
        allow_null=True,
        allow_blank=True,
        help_text="bxb extra: makes an integer privilege a usage limit per billing period of this metric",
    )


class FeatureUpdateInput(serializers.Serializer):
    name = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    description = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    privileges = optional_list(PrivilegeInput())


class FeatureCreateInput(FeatureUpdateInput):
    code = serializers.CharField(allow_blank=True)


FeatureCreateEnvelope = envelope("FeatureCreateEnvelope", "feature", FeatureCreateInput)
FeatureUpdateEnvelope = envelope("FeatureUpdateEnvelope", "feature", FeatureUpdateInput)


FeatureOutput = schema_serializer(FeatureShape)
FeatureEnvelope = envelope("FeatureEnvelope", "feature", FeatureOutput)
FeatureListEnvelope = list_envelope("FeatureListEnvelope", "features", FeatureOutput)


@extend_schema_field(
    {
        "type": "object",
        "additionalProperties": {"type": "object", "additionalProperties": VALUE_SCHEMA},
        "description": "feature code -> {privilege code: value}",
        "example": {"seats": {"max": 20, "root": False}, "sso": {"provider": "okta"}},
    }
)
class EntitlementsField(serializers.JSONField):
    pass


class EntitlementsInputEnvelope(serializers.Serializer):
    entitlements = EntitlementsField()


PlanEntitlementOutput = schema_serializer(PlanEntitlementShape)
PlanEntitlementEnvelope = envelope("PlanEntitlementEnvelope", "entitlement", PlanEntitlementOutput)


class PlanEntitlementListEnvelope(serializers.Serializer):
    entitlements = PlanEntitlementOutput(many=True)


SubscriptionEntitlementOutput = schema_serializer(SubscriptionEntitlementShape)
SubscriptionEntitlementEnvelope = envelope(
    "SubscriptionEntitlementEnvelope", "entitlement", SubscriptionEntitlementOutput
)


class SubscriptionEntitlementListEnvelope(serializers.Serializer):
    entitlements = SubscriptionEntitlementOutput(many=True)
