"""JSON shapes of the usage_monitoring API and webhooks (decimals rendered as strings)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, TypedDict

from billing_project.core.api.shapes import Component, DateTime, Help, Uuid, utc_iso
from catalog.api.serializers import BillableMetricSummary
from usage_monitoring.models import Alert, AlertThreshold, LifetimeUsage, TriggeredAlert


def decimal_string(value: Decimal | int | None) -> str:
    if value is None:
        return "0"
    number = Decimal(value)
    if number == number.to_integral_value():
        return str(number.quantize(Decimal(1)))
    return format(number.normalize(), "f")


class AlertThresholdShape(TypedDict):
    code: str | None
    value: Annotated[str, Help("Decimal string; amounts are in cents.")]
    recurring: bool


class AlertShape(TypedDict):
    lago_id: Uuid
    lago_organization_id: Uuid
    external_subscription_id: str | None
    lago_wallet_id: Uuid | None
    wallet_code: str | None
    alert_type: str
    code: str
    name: str | None
    direction: str
    previous_value: str
    last_processed_at: DateTime | None
    thresholds: list[AlertThresholdShape]
    billable_metric: Annotated[dict[str, Any] | None, Component(BillableMetricSummary)]
    created_at: DateTime


class LifetimeUsageThresholdShape(TypedDict):
    amount_cents: int
    completion_ratio: float
    reached_at: DateTime | None


class LifetimeUsageShape(TypedDict):
    lago_id: Uuid
    lago_subscription_id: Uuid
    external_subscription_id: str
    external_historical_usage_amount_cents: int
    invoiced_usage_amount_cents: int
    current_usage_amount_cents: int
    from_datetime: DateTime | None
    to_datetime: DateTime | None
    usage_thresholds: list[LifetimeUsageThresholdShape]


def threshold_payload(threshold: AlertThreshold) -> AlertThresholdShape:
    return {"code": threshold.code or None, "value": decimal_string(threshold.value), "recurring": threshold.recurring}


def _metric_payload(metric: Any) -> dict[str, Any] | None:
    """Lago embeds the full billable metric object (without counters) in an alert."""
    if metric is None:
        return None
    return dict(BillableMetricSummary(metric).data)


def alert_payload(alert: Alert) -> AlertShape:
    return {
        "lago_id": str(alert.id),
        "lago_organization_id": str(alert.organization_id),
        "external_subscription_id": alert.external_subscription_id or None,
        "lago_wallet_id": str(alert.wallet_id) if alert.wallet_id else None,
        "wallet_code": (alert.wallet.code or None) if alert.wallet_id else None,
        "alert_type": alert.alert_type,
        "code": alert.code,
        "name": alert.name or None,
        "direction": "increasing",
        "previous_value": decimal_string(alert.previous_value),
        "last_processed_at": utc_iso(alert.last_processed_at),
        "thresholds": [threshold_payload(t) for t in alert.thresholds.all()],
        "billable_metric": _metric_payload(alert.billable_metric),
        "created_at": utc_iso(alert.created_at),
    }


def triggered_alert_payload(triggered: TriggeredAlert) -> dict[str, Any]:
    alert = triggered.alert
    return {
        "lago_id": str(triggered.id),
        "lago_alert_id": str(alert.id),
        "lago_organization_id": str(triggered.organization_id),
        "lago_subscription_id": str(triggered.subscription_id) if triggered.subscription_id else None,
        "external_subscription_id": triggered.external_subscription_id or None,
        "lago_wallet_id": str(triggered.wallet_id) if triggered.wallet_id else None,
        "wallet_code": (triggered.wallet.code or None) if triggered.wallet_id else None,
        "alert_name": alert.name or None,
        "alert_code": alert.code,
        "alert_type": alert.alert_type,
        "billable_metric_code": alert.billable_metric.code if alert.billable_metric_id else None,
        "current_value": decimal_string(triggered.current_value),
        "previous_value": decimal_string(triggered.previous_value),
        "crossed_thresholds": triggered.crossed_thresholds,
        "triggered_at": utc_iso(triggered.triggered_at),
    }


def lifetime_usage_payload(
    lifetime: LifetimeUsage, *, subscription: Any, window: Any, thresholds: list[LifetimeUsageThresholdShape]
) -> LifetimeUsageShape:
    return {
        "lago_id": str(lifetime.id),
        "lago_subscription_id": str(subscription.id),
        "external_subscription_id": subscription.external_id,
        "external_historical_usage_amount_cents": lifetime.external_historical_usage_amount_cents,
        "invoiced_usage_amount_cents": lifetime.invoiced_usage_amount_cents,
        "current_usage_amount_cents": lifetime.current_usage_amount_cents,
        "from_datetime": utc_iso(window.start) if window else None,
        "to_datetime": utc_iso(window.end) if window else None,
        "usage_thresholds": thresholds,
    }
