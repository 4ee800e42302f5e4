"""Input validation and OpenAPI shapes of the features and entitlements API (output is built in
entitlements/representation.py; these output serializers describe it for the schema)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from billing_project.core.api.serializers import envelope, list_envelope, optional_list

VALUE_TYPES = ("integer", "string", "boolean", "select")
VALUE_SCHEMA = {"oneOf": [{"type": "integer"}, {"type": "boolean"}, {"type": "string"}]}


class PrivilegeConfig(serializers.Serializer):
    select_options = serializers.ListField(
        child=serializers.CharField(max_length=255), required=False, help_text="required for `select` privileges"
    )


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


class PrivilegeOutput(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField(allow_null=True)
    value_type = serializers.ChoiceField(choices=VALUE_TYPES)
    config = PrivilegeConfig()
    billable_metric_code = serializers.CharField(allow_null=True)


class FeatureOutput(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField(allow_null=True)
    description = serializers.CharField(allow_null=True)
    privileges = PrivilegeOutput(many=True)
    created_at = serializers.DateTimeField()


FeatureEnvelope = envelope("FeatureEnvelope", "feature", FeatureOutput)
FeatureListEnvelope = list_envelope("FeatureListEnvelope", "features", FeatureOutput)


@extend_schema_field(VALUE_SCHEMA)
class PrivilegeValueField(serializers.JSONField):
    pass


@extend_schema_field({**VALUE_SCHEMA, "nullable": True})
class OptionalPrivilegeValueField(serializers.JSONField):
    pass


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


class PlanEntitlementPrivilegeOutput(PrivilegeOutput):
    value = PrivilegeValueField()


class PlanEntitlementOutput(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField(allow_null=True)
    description = serializers.CharField(allow_null=True)
    privileges = PlanEntitlementPrivilegeOutput(many=True)


PlanEntitlementEnvelope = envelope("PlanEntitlementEnvelope", "entitlement", PlanEntitlementOutput)


class PlanEntitlementListEnvelope(serializers.Serializer):
    entitlements = PlanEntitlementOutput(many=True)


class PrivilegeUsageOutput(serializers.Serializer):
    """bxb extra: a usage-limited privilege in the current charges window (null before the subscription starts)."""

    billable_metric_code = serializers.CharField()
    from_datetime = serializers.DateTimeField()
    to_datetime = serializers.DateTimeField()
    current_usage = serializers.CharField(help_text="decimal text, the metric's units so far in the window")
    limit = serializers.IntegerField(allow_null=True, help_text="the privilege's value")
    remaining = serializers.CharField(allow_null=True, help_text="decimal text, limit - usage, never below 0")
    exceeded = serializers.BooleanField(help_text="usage is above the limit")


class SubscriptionEntitlementPrivilegeOutput(PlanEntitlementPrivilegeOutput):
    plan_value = OptionalPrivilegeValueField()
    override_value = OptionalPrivilegeValueField()
    usage = PrivilegeUsageOutput(
        required=False, allow_null=True, help_text="only on privileges with a billable_metric_code"
    )


class SubscriptionEntitlementOutput(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField(allow_null=True)
    description = serializers.CharField(allow_null=True)
    privileges = SubscriptionEntitlementPrivilegeOutput(many=True)
    overrides = serializers.DictField(child=PrivilegeValueField())


SubscriptionEntitlementEnvelope = envelope(
    "SubscriptionEntitlementEnvelope", "entitlement", SubscriptionEntitlementOutput
)


class SubscriptionEntitlementListEnvelope(serializers.Serializer):
    entitlements = SubscriptionEntitlementOutput(many=True)
