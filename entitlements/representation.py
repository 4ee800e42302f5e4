"""The JSON of features and entitlements, in Lago's shapes (`V1::Entitlement::*Serializer`).

bxb extras: every privilege carries `billable_metric_code` (null unless it is a usage limit), and
a subscription's usage-limited privileges carry `usage` (docs/entitlements.md).

Each renderer returns its shape; the OpenAPI components are derived from the shapes
(`entitlements.api.serializers`, billing_project/core/api/shapes.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, NotRequired, TypedDict

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from billing_project.core.api.shapes import Choices, Component, DateTime, Help
from entitlements.models import Entitlement, Feature, Privilege
from entitlements.selectors import PrivilegeUsage, ResolvedEntitlement
from entitlements.values import VALUE_TYPES, cast_value

VALUE_SCHEMA = {"oneOf": [{"type": "integer"}, {"type": "boolean"}, {"type": "string"}]}


class PrivilegeConfig(serializers.Serializer):
    select_options = serializers.ListField(
        child=serializers.CharField(max_length=255), required=False, help_text="required for `select` privileges"
    )


@extend_schema_field(VALUE_SCHEMA)
class PrivilegeValueField(serializers.JSONField):
    pass


@extend_schema_field({**VALUE_SCHEMA, "nullable": True})
class OptionalPrivilegeValueField(serializers.JSONField):
    pass


@extend_schema_field({"type": "object", "additionalProperties": VALUE_SCHEMA})
class PrivilegeValuesField(serializers.JSONField):
    """privilege code -> value"""


Value = Annotated[int | bool | str, Component(PrivilegeValueField)]
OptionalValue = Annotated[int | bool | str | None, Component(OptionalPrivilegeValueField)]


class PrivilegeShape(TypedDict):
    code: str
    name: str | None
    value_type: Annotated[str, Choices(VALUE_TYPES)]
    config: Annotated[dict[str, Any], Component(PrivilegeConfig)]
    billable_metric_code: str | None


class FeatureShape(TypedDict):
    code: str
    name: str | None
    description: str | None
    privileges: list[PrivilegeShape]
    created_at: DateTime


class PlanEntitlementPrivilegeShape(PrivilegeShape):
    value: Value


class PlanEntitlementShape(TypedDict):
    code: str
    name: str | None
    description: str | None
    privileges: list[PlanEntitlementPrivilegeShape]


class PrivilegeUsageShape(TypedDict):
    """bxb extra: a usage-limited privilege in the current charges window (null before the subscription starts)."""

    billable_metric_code: str
    from_datetime: DateTime
    to_datetime: DateTime
    current_usage: Annotated[str, Help("decimal text, the metric's units so far in the window")]
    limit: Annotated[int | None, Help("the privilege's value")]
    remaining: Annotated[str | None, Help("decimal text, limit - usage, never below 0")]
    exceeded: Annotated[bool, Help("usage is above the limit")]


class SubscriptionEntitlementPrivilegeShape(PrivilegeShape):
    value: OptionalValue
    plan_value: OptionalValue
    override_value: OptionalValue
    usage: NotRequired[Annotated[PrivilegeUsageShape | None, Help("only on privileges with a billable_metric_code")]]


class SubscriptionEntitlementShape(TypedDict):
    code: str
    name: str | None
    description: str | None
    privileges: list[SubscriptionEntitlementPrivilegeShape]
    overrides: Annotated[dict[str, int | bool | str | None], Component(PrivilegeValuesField)]


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def privilege_payload(privilege: Privilege) -> PrivilegeShape:
    metric = privilege.billable_metric
    return {
        "code": privilege.code,
        "name": privilege.name,
        "value_type": privilege.value_type,
        "config": privilege.config or {},
        "billable_metric_code": metric.code if metric is not None else None,
    }


def feature_payload(feature: Feature) -> FeatureShape:
    """`feature`; its live privileges from the `live_privileges` prefetch (`selectors.feature_list`)."""
    privileges = getattr(feature, "live_privileges", None)
    if privileges is None:
        privileges = list(
            Privilege.live.filter(feature=feature).select_related("billable_metric").order_by("created_at", "id")
        )
    return {
        "code": feature.code,
        "name": feature.name,
        "description": feature.description,
        "privileges": [privilege_payload(p) for p in privileges],
        "created_at": _iso(feature.created_at),
    }


def plan_entitlement_payload(entitlement: Entitlement) -> PlanEntitlementShape:
    """A plan's entitlement; values from the `live_values` prefetch (`selectors.plan_entitlement_list`)."""
    feature = entitlement.feature
    privileges: list[PlanEntitlementPrivilegeShape] = []
    for value in getattr(entitlement, "live_values", []):
        privilege = value.privilege
        privileges.append({**privilege_payload(privilege), "value": cast_value(value.value, privilege.value_type)})
    return {
        "code": feature.code,
        "name": feature.name,
        "description": feature.description,
        "privileges": privileges,
    }


def usage_payload(usage: PrivilegeUsage | None) -> PrivilegeUsageShape | None:
    if usage is None:
        return None
    remaining = usage.remaining
    return {
        "billable_metric_code": usage.billable_metric_code,
        "from_datetime": _iso(usage.from_datetime),
        "to_datetime": _iso(usage.to_datetime),
        "current_usage": _decimal_text(usage.current_usage),
        "limit": usage.limit,
        "remaining": _decimal_text(remaining) if remaining is not None else None,
        "exceeded": usage.exceeded,
    }


def _decimal_text(value: Any) -> str:
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def subscription_entitlement_payload(entitlement: ResolvedEntitlement) -> SubscriptionEntitlementShape:
    privileges: list[SubscriptionEntitlementPrivilegeShape] = []
    overrides: dict[str, int | bool | str | None] = {}
    for item in entitlement.privileges:
        body: SubscriptionEntitlementPrivilegeShape = {
            "code": item.code,
            "name": item.name,
            "value_type": item.value_type,
            "config": item.config,
            "billable_metric_code": item.billable_metric_code,
            "value": cast_value(item.value, item.value_type),
            "plan_value": cast_value(item.plan_value, item.value_type),
            "override_value": cast_value(item.override_value, item.value_type),
        }
        if item.billable_metric_code is not None:
            body["usage"] = usage_payload(item.usage)
        privileges.append(body)
        if item.override_value is not None:
            overrides[item.code] = cast_value(item.override_value, item.value_type)
    return {
        "code": entitlement.code,
        "name": entitlement.name,
        "description": entitlement.description,
        "privileges": privileges,
        "overrides": overrides,
    }
