"""The JSON of features and entitlements, in Lago's shapes (`V1::Entitlement::*Serializer`).

bxb extras: every privilege carries `billable_metric_code` (null unless it is a usage limit), and
a subscription's usage-limited privileges carry `usage` (docs/entitlements.md).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from entitlements.models import Entitlement, Feature, Privilege
from entitlements.selectors import PrivilegeUsage, ResolvedEntitlement
from entitlements.values import cast_value


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def privilege_payload(privilege: Privilege) -> dict[str, Any]:
    metric = privilege.billable_metric
    return {
        "code": privilege.code,
        "name": privilege.name,
        "value_type": privilege.value_type,
        "config": privilege.config or {},
        "billable_metric_code": metric.code if metric is not None else None,
    }


def feature_payload(feature: Feature) -> dict[str, Any]:
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


def plan_entitlement_payload(entitlement: Entitlement) -> dict[str, Any]:
    """A plan's entitlement; values from the `live_values` prefetch (`selectors.plan_entitlement_list`)."""
    feature = entitlement.feature
    privileges = []
    for value in getattr(entitlement, "live_values", []):
        privilege = value.privilege
        privileges.append({**privilege_payload(privilege), "value": cast_value(value.value, privilege.value_type)})
    return {
        "code": feature.code,
        "name": feature.name,
        "description": feature.description,
        "privileges": privileges,
    }


def usage_payload(usage: PrivilegeUsage | None) -> dict[str, Any] | None:
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


def subscription_entitlement_payload(entitlement: ResolvedEntitlement) -> dict[str, Any]:
    privileges = []
    overrides: dict[str, Any] = {}
    for item in entitlement.privileges:
        body: dict[str, Any] = {
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
