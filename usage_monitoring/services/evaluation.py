"""Evaluation: what ingestion touched is recomputed once per subscription, alerts fire, thresholds bill.

    usage_activity_mark(organization, external_ids)      ingestion's receiver (one upsert)
    subscription_evaluate(organization, *, external_subscription_id, now=None, force=False)
    activities_due(now) -> [(organization_id, external_subscription_id)]   the sweeper's list

A subscription is evaluated under a row lock on its `UsageActivity`, so two workers never evaluate
the same subscription at once; `AlertCrossing` and `AppliedUsageThreshold` are unique, so even a
database without row locks can never alert twice or bill a threshold twice.
"""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.db import IntegrityError, transaction
from django.utils import timezone

from customers.models import Customer, Organization
from invoicing.billing.fees import charge_fee, fee_taxes
from invoicing.credits.models import Wallet
from invoicing.models import Fee, Invoice, InvoiceSubscription, InvoiceType, InvoicingReason
from invoicing.services import lifecycle
from invoicing.services.progressive import previous_progressive_amount_cents
from invoicing.services.taxes import TaxResolver
from subscriptions.models import Subscription
from usage_monitoring import selectors
from usage_monitoring.models import (
    PERIODIC_TYPES,
    WALLET_TYPES,
    Alert,
    AlertCrossing,
    AlertThreshold,
    AlertType,
    AppliedUsageThreshold,
    LifetimeUsage,
    TriggeredAlert,
    UsageActivity,
)
from usage_monitoring.representation import decimal_string, triggered_alert_payload
from webhooks.services import webhook_send

logger = logging.getLogger(__name__)


# --- marks --------------------------------------------------------------------------------------


def monitored_among(organization: Organization, external_subscription_ids: Any) -> list[str]:
    """Those of these subscriptions something watches: a live alert, or usage thresholds on the plan
    of the active subscription (two queries whatever the batch size)."""
    ids = set(external_subscription_ids)
    with_alerts = set(
        Alert.objects.filter(
            organization=organization,
            external_subscription_id__in=ids,
            wallet__isnull=True,
            deleted_at__isnull=True,
        ).values_list("external_subscription_id", flat=True)
    )
    rest = ids - with_alerts
    with_thresholds: set[str] = set()
    if rest:
        with_thresholds = set(
            Subscription.objects.filter(
                organization=organization,
                external_id__in=rest,
                status="active",
                plan__usage_thresholds__isnull=False,
                plan__usage_thresholds__deleted_at__isnull=True,
            ).values_list("external_id", flat=True)
        )
    return sorted(with_alerts | with_thresholds)


def usage_activity_mark(
    organization: Organization, external_subscription_ids: Any, *, now: dt.datetime | None = None
) -> list[str]:
    """Note that these subscriptions received usage (one upsert); returns them, each to get a task.

    Every batch enqueues a task per watched subscription it touched; the task does the work only
    when something was marked since the last evaluation started, so a burst costs one evaluation
    per subscription while it runs, not one per batch.
    """
    now = now or timezone.now()
    ids = sorted(set(external_subscription_ids))
    if not ids:
        return []
    UsageActivity.objects.bulk_create(
        [UsageActivity(organization=organization, external_subscription_id=ext, marked_at=now) for ext in ids],
        update_conflicts=True,
        unique_fields=["organization", "external_subscription_id"],
        update_fields=["marked_at", "updated_at"],
    )
    return ids


def activities_due(limit: int = 1000) -> list[tuple[Any, str]]:
    """Marked subscriptions not evaluated since (what the sweeper re-enqueues)."""
    from django.db.models import F, Q

    qs = UsageActivity.objects.filter(Q(processed_at__isnull=True) | Q(processed_at__lt=F("marked_at")))
    return [(r.organization_id, r.external_subscription_id) for r in qs.order_by("marked_at")[:limit]]


# --- evaluation ---------------------------------------------------------------------------------


def subscription_evaluate(
    organization: Organization,
    *,
    external_subscription_id: str,
    now: dt.datetime | None = None,
    force: bool = False,
) -> dict[str, Any] | None:
    """Recompute one subscription's usage, fire its alerts and bill crossed usage thresholds.

    Skipped (None) when nothing was ingested since the last evaluation, unless `force`.
    """
    now = now or timezone.now()
    with transaction.atomic():
        UsageActivity.objects.get_or_create(
            organization=organization,
            external_subscription_id=external_subscription_id,
            defaults={"marked_at": now},
        )
        activity = UsageActivity.objects.select_for_update().get(
            organization=organization, external_subscription_id=external_subscription_id
        )
        if not force and activity.processed_at is not None and activity.processed_at >= activity.marked_at:
            return None
        activity.processed_at = max(now, activity.marked_at)
        activity.save(update_fields=["processed_at", "updated_at"])
        sub = (
            Subscription.objects.filter(
                organization=organization, external_id=external_subscription_id, status="active"
            )
            .select_related("plan", "customer__organization", "organization")
            .first()
        )
        if sub is None:
            return None
        monitored = Alert.objects.filter(
            organization=organization,
            external_subscription_id=external_subscription_id,
            wallet__isnull=True,
            deleted_at__isnull=True,
        ).exists() or bool(selectors.applicable_usage_thresholds(sub))
        if not monitored:  # nothing watches this subscription: do not price its usage at all
            return {"triggered_alerts": [], "progressive_invoice": None, "lifetime_usage": None}
        usage = selectors.period_usage(sub, now)
        if usage is None:
            return None
        lifetime, chain = lifetime_refresh(sub, usage, now=now)
        triggered = _evaluate_alerts(sub, usage, lifetime, chain, now)
        invoice = _progressive_billing(sub, usage, lifetime, now)
    return {"triggered_alerts": triggered, "progressive_invoice": invoice, "lifetime_usage": lifetime}


def lifetime_row(subscription: Subscription, *, lock: bool = True) -> LifetimeUsage:
    root = selectors.chain(subscription)[0]
    row, _ = LifetimeUsage.objects.get_or_create(
        subscription=root,
        defaults={
            "organization_id": subscription.organization_id,
            "external_subscription_id": subscription.external_id,
        },
    )
    if lock:
        row = LifetimeUsage.objects.select_for_update().get(id=row.id)
    return row


def lifetime_refresh(
    subscription: Subscription, usage: selectors.PeriodUsage, *, now: dt.datetime
) -> tuple[LifetimeUsage, list[Subscription]]:
    """The subscription's lifetime usage row, recalculated; with the chain of subscriptions it covers."""
    row = lifetime_row(subscription)
    subs = selectors.chain(subscription)
    row.invoiced_usage_amount_cents = selectors.invoiced_usage_amount_cents(subs)
    row.current_usage_amount_cents = usage.in_arrears_amount_cents
    row.recalculated_at = now
    row.save(
        update_fields=["invoiced_usage_amount_cents", "current_usage_amount_cents", "recalculated_at", "updated_at"]
    )
    return row, subs


def _alert_value(
    alert: Alert, usage: selectors.PeriodUsage, lifetime: LifetimeUsage, chain: list[Subscription]
) -> Decimal:
    kind = alert.alert_type
    if kind == AlertType.CURRENT_USAGE_AMOUNT:
        return Decimal(usage.amount_cents)
    if kind == AlertType.BILLABLE_METRIC_CURRENT_USAGE_AMOUNT:
        return Decimal(usage.metric_amount_cents(alert.billable_metric_id))
    if kind == AlertType.BILLABLE_METRIC_CURRENT_USAGE_UNITS:
        return usage.metric_units(alert.billable_metric_id)
    if kind == AlertType.LIFETIME_USAGE_AMOUNT:
        return Decimal(lifetime.total_amount_cents)
    if kind == AlertType.BILLABLE_METRIC_LIFETIME_USAGE_UNITS:
        invoiced = selectors.invoiced_units(chain)
        return invoiced.get(alert.billable_metric_id, Decimal(0)) + usage.metric_units(alert.billable_metric_id)
    raise ValueError(f"unknown alert type {kind}")


def crossed_points(
    thresholds: list[Any], value: Decimal, recorded: set[Decimal], *, value_of: Any = lambda t: t.value
) -> list[tuple[Any, Decimal]]:
    """Threshold points reached by `value` and not recorded yet.

    Step thresholds are their own point. A recurring threshold R after the highest step S is reached
    at S + k·R (k ≥ 1); only the highest such point is returned, and only when it is above every
    recurring point already recorded.
    """
    steps = [t for t in thresholds if not t.recurring]
    result = [(t, Decimal(value_of(t))) for t in steps if Decimal(value_of(t)) <= value]
    result = [(t, p) for t, p in result if p not in recorded]
    recurring = next((t for t in thresholds if t.recurring), None)
    if recurring is not None:
        step = Decimal(value_of(recurring))
        base = max((Decimal(value_of(t)) for t in steps), default=Decimal(0))
        if step > 0 and value >= base + step:
            point = base + ((value - base) // step) * step
            highest = max((p for p in recorded if p > base), default=base)
            if point > highest:
                result.append((recurring, point))
    return sorted(result, key=lambda tp: tp[1])


def _evaluate_alerts(
    sub: Subscription,
    usage: selectors.PeriodUsage,
    lifetime: LifetimeUsage,
    chain: list[Subscription],
    now: dt.datetime,
) -> list[TriggeredAlert]:
    alerts = list(
        Alert.objects.select_for_update()
        .filter(
            organization_id=sub.organization_id,
            external_subscription_id=sub.external_id,
            wallet__isnull=True,
            deleted_at__isnull=True,
        )
        .order_by("id")
    )
    triggered: list[TriggeredAlert] = []
    for alert in alerts:
        alert = Alert.objects.select_related("billable_metric").get(id=alert.id)
        thresholds = list(AlertThreshold.objects.filter(alert=alert))
        value = _alert_value(alert, usage, lifetime, chain)
        period_key = usage.period_key if alert.alert_type in PERIODIC_TYPES else ""
        previous = alert.previous_value if alert.period_key == period_key else Decimal(0)
        recorded = set(AlertCrossing.objects.filter(alert=alert, period_key=period_key).values_list("point", flat=True))
        crossed = crossed_points(thresholds, value, recorded)
        if crossed:
            try:
                with transaction.atomic():
                    owner = {"subscription": sub, "external_subscription_id": sub.external_id}
                    row = _trigger(alert, sub.organization_id, period_key, value, previous, crossed, now, **owner)
            except IntegrityError:  # another evaluation recorded these points first: never alert twice
                logger.info("alert %s: crossing already recorded", alert.id)
            else:
                triggered.append(_announce(alert, row, [t for t, _ in crossed], sub.organization, now))
        alert.previous_value = value
        alert.period_key = period_key
        alert.last_processed_at = now
        alert.save(
            update_fields=["previous_value", "period_key", "last_processed_at", "last_triggered_at", "updated_at"]
        )
    return triggered


def _trigger(
    alert: Alert,
    organization_id: Any,
    period_key: str,
    value: Decimal,
    previous: Decimal,
    crossed: list[tuple[AlertThreshold, Decimal]],
    now: dt.datetime,
    **owner: Any,
) -> TriggeredAlert:
    """The triggered alert of the `crossed` (threshold, point) pairs of `owner` (a subscription or a
    wallet), and one crossing row per point (unique per alert, period and point)."""
    row = TriggeredAlert.objects.create(
        organization_id=organization_id,
        alert=alert,
        **owner,
        period_key=period_key,
        current_value=value,
        previous_value=previous,
        crossed_thresholds=[
            {"code": t.code or None, "value": decimal_string(t.value), "recurring": t.recurring} for t, _ in crossed
        ],
        triggered_at=now,
    )
    AlertCrossing.objects.bulk_create(
        [
            AlertCrossing(
                organization_id=organization_id, alert=alert, triggered_alert=row, period_key=period_key, point=point
            )
            for _, point in crossed
        ]
    )
    return row


def _announce(
    alert: Alert, row: TriggeredAlert, thresholds: list[AlertThreshold], organization: Any, now: dt.datetime
) -> TriggeredAlert:
    """The alert and its `thresholds` were triggered now; `alert.triggered` is sent. Returns `row`."""
    AlertThreshold.objects.filter(id__in=[t.id for t in thresholds]).update(last_triggered_at=now)
    alert.last_triggered_at = now
    webhook_send(
        organization,
        webhook_type="alert.triggered",
        object_type="triggered_alert",
        payload=lambda: triggered_alert_payload(row),
    )
    return row


# --- wallet alerts ------------------------------------------------------------------------------

WALLET_VALUES = {
    AlertType.WALLET_BALANCE_AMOUNT: lambda w: Decimal(w.balance_cents),
    AlertType.WALLET_CREDITS_BALANCE: lambda w: Decimal(w.credits_balance),
    AlertType.WALLET_ONGOING_BALANCE_AMOUNT: lambda w: Decimal(w.ongoing_balance_cents),
    AlertType.WALLET_CREDITS_ONGOING_BALANCE: lambda w: Decimal(w.credits_ongoing_balance),
}


def wallets_with_alerts() -> list[Any]:
    return list(
        Alert.objects.filter(wallet__isnull=False, deleted_at__isnull=True, alert_type__in=list(WALLET_TYPES))
        .values_list("wallet_id", flat=True)
        .distinct()
    )


def wallet_alerts_evaluate(wallet_id: UUID | str, *, now: dt.datetime | None = None) -> list[TriggeredAlert]:
    """A wallet alert fires when the balance falls to a threshold or below it, after having been
    above it (or on the alert's first evaluation when it is already there); it fires again only
    after the balance went back above. Evaluated under the alert row locks."""
    now = now or timezone.now()
    triggered: list[TriggeredAlert] = []
    with transaction.atomic():
        alerts = list(
            Alert.objects.select_for_update()
            .filter(wallet_id=wallet_id, deleted_at__isnull=True, alert_type__in=list(WALLET_TYPES))
            .order_by("id")
        )
        if not alerts:
            return []
        wallet = Wallet.objects.select_related("organization").get(id=wallet_id)
        for alert in alerts:
            value = WALLET_VALUES[alert.alert_type](wallet)
            first = alert.last_processed_at is None
            thresholds = list(AlertThreshold.objects.filter(alert=alert))
            crossed = sorted(
                (t for t in thresholds if value <= t.value and (first or alert.previous_value > t.value)),
                key=lambda t: -t.value,
            )
            if crossed:
                period_key = f"wallet:{now.isoformat()}"
                points = [(t, t.value) for t in crossed]
                row = _trigger(
                    alert, wallet.organization_id, period_key, value, alert.previous_value, points, now, wallet=wallet
                )
                triggered.append(_announce(alert, row, crossed, wallet.organization, now))
            alert.previous_value = value
            alert.last_processed_at = now
            alert.save(update_fields=["previous_value", "last_processed_at", "last_triggered_at", "updated_at"])
    return triggered


# --- progressive billing --------------------------------------------------------------------------


def _progressive_billing(
    sub: Subscription, usage: selectors.PeriodUsage, lifetime: LifetimeUsage, now: dt.datetime
) -> Invoice | None:
    thresholds = selectors.applicable_usage_thresholds(sub)
    if not thresholds:
        return None
    total = Decimal(lifetime.total_amount_cents)
    recorded = {Decimal(a) for a in lifetime.applied_thresholds.values_list("amount_cents", flat=True)}
    crossed = crossed_points(thresholds, total, recorded, value_of=lambda t: t.amount_cents)
    if not crossed:
        return None
    invoice = _progressive_invoice(sub, usage, now)
    # Unique per (chain, amount): a concurrent evaluation that got here first makes this one fail
    # and roll back with its invoice, so a threshold is never billed twice.
    AppliedUsageThreshold.objects.bulk_create(
        [
            AppliedUsageThreshold(
                organization_id=sub.organization_id,
                lifetime_usage=lifetime,
                subscription=sub,
                usage_threshold=threshold,
                amount_cents=int(point),
                recurring=threshold.recurring,
                lifetime_usage_amount_cents=lifetime.total_amount_cents,
                invoice=invoice,
            )
            for threshold, point in crossed
        ]
    )
    return invoice


def _period_closed(sub: Subscription, window: Any) -> bool:
    return (
        InvoiceSubscription.objects.filter(subscription=sub, charges_to_datetime__gte=window.end)
        .exclude(invoicing_reason__in=[InvoicingReason.PROGRESSIVE_BILLING, InvoicingReason.SUBSCRIPTION_STARTING])
        .exists()
    )


def _progressive_invoice(sub: Subscription, usage: selectors.PeriodUsage, now: dt.datetime) -> Invoice | None:
    """A `progressive_billing` invoice for the period's usage not billed yet (None if nothing is left)."""
    customer = Customer.objects.select_for_update(of=("self",)).select_related("organization").get(id=sub.customer_id)
    window = usage.window
    if _period_closed(sub, window) or now >= window.end:
        return None  # the billing run has closed (or is about to close) the period: it bills it all
    currency = usage.currency
    organization = customer.organization
    row = InvoiceSubscription(
        organization=organization,
        subscription=sub,
        invoicing_reason=InvoicingReason.PROGRESSIVE_BILLING,
        timestamp=now,
        from_datetime=window.start,
        to_datetime=window.end,
        charges_from_datetime=window.start,
        charges_to_datetime=now,
    )
    fees: list[Fee] = []
    for charge, buckets in usage.buckets:
        if charge.pay_in_advance or not charge.invoiceable:
            continue
        for bucket in buckets:
            if bucket.amount_cents <= 0 and not bucket.units:
                continue
            fee = charge_fee(bucket, subscription=sub, currency=currency, window=window)
            fee.invoice_subscription = row
            fees.append(fee)
    billed = sum(f.amount_cents for f in fees)
    if billed - previous_progressive_amount_cents(sub, window.start, now) <= 0:
        return None
    day = lifecycle.local_today(customer, now)
    invoice = lifecycle.invoice_new(organization, customer, InvoiceType.PROGRESSIVE_BILLING, currency, day)
    taxes, plan_ids = fee_taxes(fees, TaxResolver(organization, customer, owner_taxes=usage.owner_taxes))
    invoice.save()
    row.invoice = invoice
    row.save()
    lifecycle.finalize_in_place(invoice, fees, taxes, now=now, plan_ids=plan_ids)
    return invoice
