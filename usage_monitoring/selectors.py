"""Reads: alerts, and the usage figures alerts and progressive billing compare with thresholds.

`period_usage` prices the subscription's current charges window with invoicing's own fee builder,
so what an alert or a threshold sees is exactly what the invoice will bill. Lifetime figures add
what finalized (or draft) subscription invoices of the whole plan-change chain billed.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet, Sum

from billing_project.core.errors import NotFoundFailure
from billing_project.core.found import found
from catalog.models import Charge, UsageThreshold
from customers.models import Organization
from invoicing.billing import pricing
from invoicing.billing.snapshot import plan_snapshot
from invoicing.credits.models import Wallet
from invoicing.models import Fee, FeeType, Invoice, InvoiceStatus, InvoiceType
from subscriptions import periods
from subscriptions.models import Subscription, SubscriptionStatus
from subscriptions.selectors import ChainStarts, schedule_for
from usage_monitoring.models import Alert, LifetimeUsage


def alert_list(organization: Organization, external_subscription_id: str) -> QuerySet[Alert]:
    return (
        Alert.objects.filter(
            organization=organization,
            external_subscription_id=external_subscription_id,
            wallet__isnull=True,
            deleted_at__isnull=True,
        )
        .select_related("billable_metric")
        .prefetch_related("thresholds")
        .order_by("created_at", "id")
    )


def alert_get(organization: Organization, external_subscription_id: str, code: str) -> Alert:
    return found(alert_list(organization, external_subscription_id).filter(code=code).first(), "alert")


def wallet_alert_list(organization: Organization, wallet: Any) -> QuerySet[Alert]:
    return (
        Alert.objects.filter(organization=organization, wallet=wallet, deleted_at__isnull=True)
        .select_related("billable_metric", "wallet")
        .prefetch_related("thresholds")
        .order_by("created_at", "id")
    )


def wallet_alert_get(organization: Organization, wallet: Any, code: str) -> Alert:
    return found(wallet_alert_list(organization, wallet).filter(code=code).first(), "alert")


def wallet_for(organization: Organization, external_customer_id: str, wallet_code: str) -> Any:
    """The wallet a wallet-alert route names: by code, or by lago_id (404 `wallet_not_found`)."""
    from invoicing.credits.selectors import wallet_get_by_code

    try:
        return wallet_get_by_code(organization, external_customer_id, wallet_code)
    except NotFoundFailure:
        wallet = (
            Wallet.objects.filter(
                organization=organization, customer__external_id=external_customer_id, id=_uuid_or_none(wallet_code)
            ).first()
            if _uuid_or_none(wallet_code)
            else None
        )
        if wallet is None:
            raise
        return wallet


def _uuid_or_none(value: str) -> Any:
    import uuid

    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def subscription_for(organization: Organization, external_id: str, *, status: str | None = None) -> Subscription:
    """The subscription an alert or lifetime-usage route names (active unless `status` says otherwise)."""
    status = status or SubscriptionStatus.ACTIVE
    if status not in SubscriptionStatus.values:
        raise NotFoundFailure("subscription")
    return found(
        Subscription.objects.filter(organization=organization, external_id=external_id, status=status)
        .select_related("plan", "customer__organization", "organization")
        .order_by("-created_at")
        .first(),
        "subscription",
    )


def chain(subscription: Subscription) -> list[Subscription]:
    """The plan-change chain ending at `subscription`, oldest first (upgrades and downgrades)."""
    result = [subscription]
    current = subscription
    seen = {subscription.id}
    while current.previous_subscription_id is not None and current.previous_subscription_id not in seen:
        current = Subscription.objects.get(id=current.previous_subscription_id)
        seen.add(current.id)
        result.append(current)
    result.reverse()
    return result


@dataclass
class PeriodUsage:
    """The current charges window of a subscription, priced as the invoice would be (before tax)."""

    window: periods.Window
    currency: str
    buckets: list[tuple[Charge, list[pricing.ChargeBucket]]] = field(default_factory=list)
    # The taxes of the plan and its charges, read with them (`TaxResolver(owner_taxes=...)`).
    owner_taxes: dict[tuple[str, Any], list[Any]] = field(default_factory=dict)

    @property
    def period_key(self) -> str:
        return self.window.start.astimezone(dt.UTC).isoformat()

    @property
    def amount_cents(self) -> int:
        """All charges (Lago's current usage `amount_cents`)."""
        return sum(b.amount_cents for _, buckets in self.buckets for b in buckets)

    @property
    def in_arrears_amount_cents(self) -> int:
        """Charges billed at the period end: what lifetime usage and progressive billing count."""
        return sum(b.amount_cents for c, buckets in self.buckets if not c.pay_in_advance for b in buckets)

    def metric_amount_cents(self, metric_id: Any) -> int:
        return sum(b.amount_cents for c, bs in self.buckets if c.billable_metric_id == metric_id for b in bs)

    def metric_units(self, metric_id: Any) -> Decimal:
        return sum((b.units for c, bs in self.buckets if c.billable_metric_id == metric_id for b in bs), Decimal(0))


def period_usage(subscription: Subscription, at: dt.datetime) -> PeriodUsage | None:
    schedule = schedule_for(subscription)
    if schedule is None:
        return None
    window = periods.charges_window_at(schedule, at)
    currency = subscription.plan.amount_currency
    plan = plan_snapshot(subscription.plan)
    usage = PeriodUsage(window=window, currency=currency, owner_taxes=plan.owner_taxes())
    starts = ChainStarts()
    for charge in plan.charges:
        buckets = pricing.price_charge(
            subscription.organization,
            external_subscription_id=subscription.external_id,
            charge=charge,
            window=window,
            started_at=pricing.usage_started_at(subscription, charge.charge, starts),
            currency=currency,
            schedule=schedule,
        )
        usage.buckets.append((charge.charge, buckets))
    return usage


def _invoiced_fees(subscriptions: list[Subscription]) -> QuerySet[Fee]:
    return Fee.objects.filter(
        subscription__in=[s.id for s in subscriptions],
        fee_type=FeeType.CHARGE,
        pay_in_advance=False,
        invoice__invoice_type=InvoiceType.SUBSCRIPTION,
        invoice__status__in=[InvoiceStatus.DRAFT, InvoiceStatus.FINALIZED],
    )


def invoiced_usage_amount_cents(subscriptions: list[Subscription]) -> int:
    """In-arrears charges of closed periods (subscription invoices) over the chain."""
    return int(_invoiced_fees(subscriptions).aggregate(total=Sum("amount_cents"))["total"] or 0)


def invoiced_units(subscriptions: list[Subscription]) -> dict[Any, Decimal]:
    rows = _invoiced_fees(subscriptions).values("charge__billable_metric_id").annotate(units=Sum("units"))
    result: dict[Any, Decimal] = defaultdict(Decimal)
    for row in rows:
        result[row["charge__billable_metric_id"]] += Decimal(row["units"] or 0)
    return result


def lifetime_usage_row(subscription: Subscription) -> LifetimeUsage | None:
    root = chain(subscription)[0]
    return LifetimeUsage.objects.filter(subscription=root).first()


def applicable_usage_thresholds(subscription: Subscription) -> list[UsageThreshold]:
    return list(UsageThreshold.live.filter(plan=subscription.plan).order_by("amount_cents", "created_at"))


def deducted_on(progressive_invoice: Any) -> Any:
    """The invoice (next progressive or period-end) whose progressive credit names this invoice."""
    candidates = Invoice.objects.filter(
        customer_id=progressive_invoice.customer_id,
        progressive_billing_credit_amount_cents__gt=0,
        created_at__gte=progressive_invoice.created_at,
    ).exclude(id=progressive_invoice.id)
    key = str(progressive_invoice.id)
    for invoice in candidates.order_by("-invoice_type", "created_at"):
        if any(c.get("item_type") == "invoice" and c.get("item_id") == key for c in invoice.credits or []):
            return invoice
    return None


def monitored_subscriptions(organization: Organization | None = None) -> list[tuple[Any, str]]:
    """Active subscriptions with alerts or usage thresholds on their plan: (organization id, external id)."""
    alerts = Alert.objects.filter(deleted_at__isnull=True)
    subs = Subscription.objects.filter(status=SubscriptionStatus.ACTIVE)
    if organization is not None:
        alerts = alerts.filter(organization=organization)
        subs = subs.filter(organization=organization)
    with_alerts = set(alerts.values_list("organization_id", "external_subscription_id"))
    active = set(subs.values_list("organization_id", "external_id"))
    thresholds = set(
        subs.filter(plan__usage_thresholds__deleted_at__isnull=True, plan__usage_thresholds__isnull=False).values_list(
            "organization_id", "external_id"
        )
    )
    return sorted((with_alerts & active) | thresholds, key=lambda t: (str(t[0]), t[1]))
