"""Helpers for invoicing tests: a customer on a plan with charges, events, and billing."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from catalog.models import BillableMetric, Charge, Plan, PlanTax, Tax
from metering.services import events_ingest
from subscriptions.models import Subscription, SubscriptionStatus
from tests.factories.customers import CustomerFactory


def make_plan(organization: Any, *, amount_cents: int = 1000, currency: str = "USD", **extra: Any) -> Plan:
    code = extra.pop("code", f"plan_{uuid.uuid4().hex[:8]}")
    return Plan.objects.create(
        organization=organization,
        name=extra.pop("name", code),
        code=code,
        interval=extra.pop("interval", "monthly"),
        amount_cents=amount_cents,
        amount_currency=currency,
        **extra,
    )


def make_metric(organization: Any, code: str | None = None, aggregation_type: str = "count_agg", **extra: Any):
    code = code or f"m_{uuid.uuid4().hex[:8]}"
    return BillableMetric.objects.create(
        organization=organization, name=extra.pop("name", code), code=code, aggregation_type=aggregation_type, **extra
    )


def make_charge(
    plan: Plan, metric: BillableMetric, *, model: str = "standard", properties: dict | None = None, **extra
):
    return Charge.objects.create(
        organization=plan.organization,
        plan=plan,
        billable_metric=metric,
        code=extra.pop("code", f"c_{uuid.uuid4().hex[:8]}"),
        charge_model=model,
        properties=properties if properties is not None else {"amount": "1"},
        **extra,
    )


def make_tax(organization: Any, rate: str, code: str | None = None, **extra: Any) -> Tax:
    code = code or f"tax_{rate.replace('.', '_')}_{uuid.uuid4().hex[:4]}"
    return Tax.objects.create(organization=organization, code=code, name=code, rate=Decimal(rate), **extra)


def tax_plan(plan: Plan, tax: Tax) -> None:
    PlanTax.objects.create(plan=plan, tax=tax)


def make_customer(organization: Any, **extra: Any):
    return CustomerFactory(organization=organization, **extra)


def subscribe(
    customer: Any,
    plan: Plan,
    started_at: datetime,
    *,
    external_id: str | None = None,
    billing_time: str = "calendar",
    **extra: Any,
) -> Subscription:
    return Subscription.objects.create(
        organization=customer.organization,
        customer=customer,
        plan=plan,
        external_id=external_id or f"sub_{uuid.uuid4().hex[:8]}",
        status=extra.pop("status", SubscriptionStatus.ACTIVE),
        billing_time=billing_time,
        subscription_at=extra.pop("subscription_at", started_at),
        started_at=started_at,
        **extra,
    )


def add_events(subscription: Subscription, code: str, timestamps: list[datetime], **properties: Any) -> None:
    """Events through the real ingestion (rollups included)."""
    payloads = [
        {
            "transaction_id": f"tx_{uuid.uuid4().hex}",
            "code": code,
            "external_subscription_id": subscription.external_id,
            "timestamp": str(int(ts.timestamp())),
            "properties": {k: str(v) for k, v in properties.items()},
        }
        for ts in timestamps
    ]
    for start in range(0, len(payloads), 100):
        events_ingest(subscription.organization, payloads[start : start + 100])
