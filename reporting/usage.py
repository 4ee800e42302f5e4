"""Usage analytics (`GET /analytics/usage`, docs/reporting.md): the units and amounts of usage
(charge) fees on finalized invoices, by day, week or month of the invoice's issuing date, currency
and billable metric."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import F, Q, Sum
from django.db.models.functions import TruncDay, TruncMonth, TruncWeek
from django.utils import timezone

from invoicing.billing.pricing import decimal_string
from invoicing.models import Fee, FeeType, InvoiceStatus

GRANULARITIES = ("daily", "weekly", "monthly")
DEFAULT_DAYS = 30  # without `from_date`: the last 30 days


@dataclass(frozen=True)
class UsageFilters:
    time_granularity: str = "daily"
    from_date: dt.date | None = None
    to_date: dt.date | None = None
    currency: str | None = None
    customer_type: str | None = None
    external_customer_id: str | None = None
    customer_country: str | None = None
    external_subscription_id: str | None = None
    is_billable_metric_recurring: bool | None = None
    plan_code: str | None = None
    billable_metric_code: str | None = None


_TRUNC = {"daily": TruncDay, "weekly": TruncWeek, "monthly": TruncMonth}


def _period_end(start: dt.date, granularity: str) -> dt.date:
    """The last day of the period starting on `start` (weeks start on Monday)."""
    if granularity == "daily":
        return start
    if granularity == "weekly":
        return start + dt.timedelta(days=6)
    following = dt.date(start.year + (start.month == 12), start.month % 12 + 1, 1)
    return following - dt.timedelta(days=1)


def _day(value: Any) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def usages(organization: Any, filters: UsageFilters, *, today: dt.date | None = None) -> list[dict[str, Any]]:
    """One row per period, currency and billable metric with usage fees, oldest period first."""
    today = today or timezone.now().astimezone(dt.UTC).date()
    first = filters.from_date or today - dt.timedelta(days=DEFAULT_DAYS)
    last = filters.to_date or today
    fees = Fee.objects.filter(
        organization=organization,
        fee_type=FeeType.CHARGE,
        invoice__status=InvoiceStatus.FINALIZED,
        invoice__issuing_date__gte=first,
        invoice__issuing_date__lte=last,
    )
    if filters.currency:
        fees = fees.filter(currency=filters.currency)
    if filters.customer_type:
        fees = fees.filter(customer__customer_type=filters.customer_type)
    if filters.external_customer_id:
        fees = fees.filter(customer__external_id=filters.external_customer_id, customer__deleted_at__isnull=True)
    if filters.customer_country:
        fees = fees.filter(customer__country=filters.customer_country)
    if filters.external_subscription_id:
        fees = fees.filter(subscription__external_id=filters.external_subscription_id)
    if filters.is_billable_metric_recurring is not None:
        fees = fees.filter(charge__billable_metric__recurring=filters.is_billable_metric_recurring)
    if filters.plan_code:  # a subscription's overridden plan counts as the plan it overrides
        fees = fees.filter(
            Q(subscription__plan__code=filters.plan_code) | Q(subscription__plan__parent__code=filters.plan_code)
        )
    if filters.billable_metric_code:
        fees = fees.filter(charge__billable_metric__code=filters.billable_metric_code)
    trunc = _TRUNC[filters.time_granularity]
    rows = (
        fees.annotate(
            period=trunc("invoice__issuing_date"),
            code=F("charge__billable_metric__code"),
            metric_deleted_at=F("charge__billable_metric__deleted_at"),
        )
        .values("period", "currency", "code", "metric_deleted_at")
        .annotate(amount=Sum("amount_cents"), units=Sum("units"))
        .order_by("period", "currency", "code", "metric_deleted_at")
    )
    return [
        {
            "organization_id": str(organization.id),
            "start_of_period_dt": _day(row["period"]).isoformat(),
            "end_of_period_dt": _period_end(_day(row["period"]), filters.time_granularity).isoformat(),
            "amount_currency": row["currency"],
            "amount_cents": int(row["amount"] or 0),
            "billable_metric_code": row["code"],
            "units": decimal_string(row["units"]),
            "is_billable_metric_deleted": row["metric_deleted_at"] is not None,
        }
        for row in rows
    ]
