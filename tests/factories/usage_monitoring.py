"""Helpers for usage_monitoring tests: a customer on a metered plan, events, alerts, webhooks."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal
from typing import Any

from catalog.models import UsageThreshold
from metering.services import events_ingest
from tests.factories.invoicing import make_charge, make_customer, make_metric, make_plan, subscribe
from tests.factories.webhooks import WebhookEndpointFactory
from usage_monitoring.models import Alert, AlertThreshold
from webhooks.models import WebhookDelivery

UTC = dt.UTC


def at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def metered_subscription(
    organization: Any,
    *,
    started_at: dt.datetime,
    amount: str = "1",
    plan_amount_cents: int = 0,
    external_id: str | None = None,
    metric_code: str = "units",
    aggregation_type: str = "sum_agg",
    thresholds: list[tuple[int, bool]] | None = None,
    customer: Any = None,
) -> Any:
    """A calendar monthly in-arrears plan with one standard charge on a sum metric (`value`)."""
    metric = make_metric(
        organization,
        code=metric_code,
        aggregation_type=aggregation_type,
        field_name="value" if aggregation_type != "count_agg" else "",
    )
    plan = make_plan(organization, amount_cents=plan_amount_cents)
    make_charge(plan, metric, properties={"amount": amount})
    for amount_cents, recurring in thresholds or []:
        UsageThreshold.objects.create(
            organization=organization, plan=plan, amount_cents=amount_cents, recurring=recurring
        )
    customer = customer or make_customer(organization, currency="USD")
    return subscribe(customer, plan, started_at, external_id=external_id or f"sub_{uuid.uuid4().hex[:8]}")


def send_events(subscription: Any, code: str, value: Any, when: dt.datetime, *, count: int = 1) -> None:
    payloads = [
        {
            "transaction_id": f"tx_{uuid.uuid4().hex}",
            "code": code,
            "external_subscription_id": subscription.external_id,
            "timestamp": str(int(when.timestamp())),
            "properties": {"value": str(value)},
        }
        for _ in range(count)
    ]
    for start in range(0, len(payloads), 100):
        events_ingest(subscription.organization, payloads[start : start + 100])


def make_alert(
    subscription: Any,
    alert_type: str,
    thresholds: list[tuple[str, bool]],
    *,
    code: str | None = None,
    metric: Any = None,
) -> Alert:
    alert = Alert.objects.create(
        organization=subscription.organization,
        external_subscription_id=subscription.external_id,
        alert_type=alert_type,
        code=code or f"alert_{uuid.uuid4().hex[:6]}",
        billable_metric=metric,
    )
    for index, (value, recurring) in enumerate(thresholds):
        AlertThreshold.objects.create(
            organization=subscription.organization,
            alert=alert,
            code=f"t{index}",
            value=Decimal(value),
            recurring=recurring,
        )
    return alert


def webhook_endpoint(organization: Any) -> Any:
    return WebhookEndpointFactory(organization=organization)


def alert_webhooks(organization: Any) -> list[dict[str, Any]]:
    rows = WebhookDelivery.objects.filter(organization=organization, webhook_type="alert.triggered").order_by(
        "created_at", "id"
    )
    return [json.loads(r.body)["triggered_alert"] for r in rows]
