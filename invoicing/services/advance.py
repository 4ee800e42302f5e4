"""Pay-in-advance charges (lago-semantics.md §5.3): an instant fee per event.

    pay_in_advance_fees(organization, external_subscription_ids=..., now=None) -> [Fee]

For each active subscription named, each pay-in-advance charge of its plan and each event of the
current usage window not billed yet (in timestamp order): `fee = price(usage with the event) −
price(usage before it)` (`catalog.pricing.price_in_advance`), rounded once. An invoiceable charge
gets its own finalized invoice per event (`invoicing_reason = in_advance_charge`, no coupons);
a non-invoiceable one a fee without invoice and `fee.created` (its payment status is then set with
`PUT /fees/{id}`). A unique constraint on (subscription, charge, event transaction id) bills each
event once, whoever runs the task and however often.

Supported: count and sum metrics on charges without filters (the others are left to the period-end
invoice's rules and are not billed in advance yet).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from billing_project.core.money import exponent, to_cents
from catalog.models import Charge, RegroupPaidFees
from catalog.pricing import Usage, price_in_advance
from customers.models import Customer
from invoicing.models import (
    Fee,
    FeeType,
    Invoice,
    InvoiceSubscription,
    InvoiceType,
    InvoicingReason,
    PaymentStatus,
)
from invoicing.services import lifecycle
from invoicing.services.fees import is_prorated, live_charge_filters, plain, precise_cents, prorated_period_days
from invoicing.services.taxes import TaxResolver
from invoicing.services.totals import snapshots
from metering.models import Event
from metering.prorated import ProrationDays, ceil_units
from subscriptions import periods
from subscriptions.models import Subscription, SubscriptionStatus
from subscriptions.selectors import schedule_for
from webhooks.services import webhook_send

SUPPORTED = {"count_agg", "sum_agg"}


def organization_has_advance_charges(organization_id: Any) -> bool:
    return Charge.objects.filter(organization_id=organization_id, pay_in_advance=True, deleted_at__isnull=True).exists()


def pay_in_advance_fees(
    organization: Any, *, external_subscription_ids: list[str], now: dt.datetime | None = None
) -> list[Fee]:
    now = now or timezone.now()
    created: list[Fee] = []
    subs = list(
        Subscription.objects.filter(
            organization=organization, external_id__in=list(external_subscription_ids), status=SubscriptionStatus.ACTIVE
        ).select_related("plan", "customer__organization")
    )
    for sub in subs:
        charges = [
            c
            for c in Charge.objects.filter(plan=sub.plan, pay_in_advance=True, deleted_at__isnull=True)
            .select_related("billable_metric")
            .prefetch_related("filters", "taxes")
            .order_by("created_at", "id")
            if c.billable_metric.aggregation_type in SUPPORTED and not live_charge_filters(c)
        ]
        if not charges:
            continue
        with transaction.atomic():
            Customer.objects.select_for_update(of=("self",)).filter(id=sub.customer_id).first()
            created += _subscription_fees(sub, charges, now)
    return created


def _subscription_fees(sub: Subscription, charges: list[Charge], now: dt.datetime) -> list[Fee]:
    schedule = schedule_for(sub)
    if schedule is None:
        return []
    window = periods.charges_window_at(schedule, now)
    customer = sub.customer
    currency = customer.currency or sub.plan.amount_currency
    resolver = TaxResolver(sub.organization, customer)
    created: list[Fee] = []
    for charge in charges:
        metric = charge.billable_metric
        events = list(
            Event.objects.filter(
                organization_id=sub.organization_id,
                external_subscription_id=sub.external_id,
                code=metric.code,
                timestamp__gte=max(window.start, sub.started_at),
                timestamp__lt=window.end,
            )
            .order_by("timestamp", "transaction_id")
            .values_list("transaction_id", "value", "timestamp")
        )
        billed = set(
            Fee.objects.filter(
                subscription=sub, charge=charge, event_transaction_id__in=[e[0] for e in events]
            ).values_list("event_transaction_id", flat=True)
        )
        units = Decimal(0)
        count = 0
        # A prorated charge (standard on a recurring sum, §5.4) bills each event for the days left
        # in the period: value × days from its local day to the period end / period days (ceil 5).
        days = (
            ProrationDays.of(
                window.start,
                window.end,
                period_days=prorated_period_days(schedule, window),
                tz_name=schedule.tz_name,
            )
            if is_prorated(charge)
            else None
        )
        for transaction_id, value, timestamp in events:
            before = Usage(units=units, events_count=count)
            event_units = Decimal(1) if metric.aggregation_type == "count_agg" else Decimal(value or 0)
            if days is not None:
                share = days.ratio(days.days_from(periods.local_date(timestamp, schedule.tz_name)))
                event_units = ceil_units(event_units * share)
            units += event_units
            count += 1
            if transaction_id in billed:
                continue
            after = Usage(units=units, events_count=count)
            result = price_in_advance(
                charge.charge_model, charge.properties or {}, before=before, after=after, currency=currency
            )
            fee = Fee(
                organization_id=sub.organization_id,
                customer_id=sub.customer_id,
                subscription=sub,
                charge=charge,
                fee_type=FeeType.CHARGE,
                invoice_display_name=charge.invoice_display_name or metric.name,
                currency=currency,
                units=result.units,
                total_aggregated_units=result.units,
                events_count=1,
                unit_amount_cents=to_cents(result.unit_amount, currency) if result.units else 0,
                precise_unit_amount=result.unit_amount.quantize(Decimal("0.0000000001")),
                amount_cents=to_cents(result.amount, currency),
                precise_amount_cents=precise_cents(result.amount, currency),
                properties={
                    "charges_from_datetime": window.start.isoformat(),
                    "charges_to_datetime": window.end.isoformat(),
                    "timestamp": timestamp.isoformat(),
                },
                amount_details={"charge_model": charge.charge_model, "breakdown": plain(list(result.breakdown))},
                pay_in_advance=True,
                invoiceable=charge.invoiceable,
                event_transaction_id=transaction_id,
            )
            taxes = {fee.id: snapshots(resolver.fee_taxes(fee, plan=sub.plan))}
            if charge.invoiceable:
                _instant_invoice(sub, fee, taxes, now=now)
            else:
                fee.save()
                from invoicing.representation import fee_payload

                webhook_send(
                    sub.organization,
                    webhook_type="fee.created",
                    object_type="fee",
                    payload=lambda f=fee: fee_payload(f),
                )
            created.append(fee)
    return created


def _instant_invoice(sub: Subscription, fee: Fee, taxes: dict, *, now: dt.datetime) -> Invoice:
    customer = sub.customer
    net_term = customer.applicable_net_payment_term
    today = lifecycle.local_today(customer, now)
    invoice = Invoice(
        organization=sub.organization,
        customer=customer,
        invoice_type=InvoiceType.SUBSCRIPTION,
        currency=fee.currency,
        issuing_date=today,
        payment_due_date=today + dt.timedelta(days=net_term),
        net_payment_term=net_term,
    )
    fee.precise_unit_amount = fee.precise_unit_amount or Decimal(fee.unit_amount_cents).scaleb(-exponent(fee.currency))
    lifecycle.finalize_in_place(
        invoice, [fee], taxes, now=now, plan_ids={fee.id: str(sub.plan.parent_id or sub.plan_id)}
    )
    return invoice


# --- regroup_paid_fees: "invoice" (lago-semantics.md §5.3) -----------------------------------------


def _instant(value: Any) -> dt.datetime | None:
    if not value:
        return None
    moment = dt.datetime.fromisoformat(str(value))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def _regroup_window(fee: Fee, schedule: periods.Schedule) -> periods.Window | None:
    """The charges window at whose end a paid fee is regrouped: the one its own window closes, or
    the window in which it was paid when that came later (a fee paid after its period's invoice
    goes on the next one, as Lago's `succeeded_at <= billing_at` does)."""
    sub = fee.subscription
    window_end = _instant((fee.properties or {}).get("charges_to_datetime"))
    if window_end is None or fee.succeeded_at is None:
        return None
    due = window_end if sub.terminated_at is None else min(window_end, sub.terminated_at)
    instant = max(due - periods.ONE_SECOND, fee.succeeded_at)
    return periods.charges_window_at(schedule, instant)


def paid_fees_regroup(
    customer_id: Any, *, at: dt.datetime | None = None, now: dt.datetime | None = None
) -> list[Invoice]:
    """Group a customer's paid, uninvoiced pay-in-advance fees of `regroup_paid_fees: "invoice"`
    charges on an `advance_charges` invoice at the end of their period (one invoice per local
    billing day and currency). The invoice is finalized and already paid (`succeeded`); its taxes
    follow §6.2, no coupon or credit applies.

    Idempotent: the customer row and the fees are locked, only fees without invoice are taken, and
    the `InvoiceSubscription` unique constraint (subscription, `in_advance_charge_periodic`,
    window) makes a period regrouped twice impossible.
    """
    at = at or timezone.now()
    now = now or timezone.now()
    with transaction.atomic():
        customer = (
            Customer.objects.select_for_update(of=("self",))
            .select_related("organization")
            .filter(id=customer_id)
            .first()
        )
        if customer is None:
            return []
        fees = list(
            Fee.objects.select_for_update(of=("self",))
            .filter(
                customer_id=customer.id,
                invoice__isnull=True,
                pay_in_advance=True,
                payment_status=PaymentStatus.SUCCEEDED,
                succeeded_at__lte=at,
                subscription__isnull=False,
                charge__regroup_paid_fees=RegroupPaidFees.INVOICE,
            )
            .select_related("subscription__plan", "charge__billable_metric")
            .order_by("created_at", "id")
        )
        groups: dict[tuple[dt.date, str], dict[Any, tuple[Subscription, periods.Window, list[Fee]]]] = {}
        schedules: dict[Any, periods.Schedule | None] = {}
        for fee in fees:
            sub = fee.subscription
            if sub.id not in schedules:
                schedules[sub.id] = schedule_for(sub)
            schedule = schedules[sub.id]
            window = _regroup_window(fee, schedule) if schedule is not None else None
            if window is None or window.end > at:
                continue
            day = periods.local_date(window.end, customer.applicable_timezone)
            by_sub = groups.setdefault((day, fee.currency), {})
            key = (sub.id, window.start, window.end)
            by_sub.setdefault(key, (sub, window, []))[2].append(fee)
        invoices = [
            _regroup_invoice(customer, day, currency, list(by_sub.values()), now=now)
            for (day, currency), by_sub in sorted(groups.items())
        ]
    return invoices


def _regroup_invoice(
    customer: Customer,
    day: dt.date,
    currency: str,
    items: list[tuple[Subscription, periods.Window, list[Fee]]],
    *,
    now: dt.datetime,
) -> Invoice:
    net_term = customer.applicable_net_payment_term
    invoice = Invoice(
        organization=customer.organization,
        customer=customer,
        invoice_type=InvoiceType.ADVANCE_CHARGES,
        currency=currency,
        issuing_date=day,
        payment_due_date=day + dt.timedelta(days=net_term),
        net_payment_term=net_term,
        number=lifecycle.draft_number(customer.organization),
    )
    invoice.save()
    resolver = TaxResolver(customer.organization, customer)
    fees: list[Fee] = []
    taxes: dict[Any, list] = {}
    plan_ids: dict[Any, str] = {}
    for sub, window, sub_fees in items:
        row = InvoiceSubscription.objects.create(
            organization=customer.organization,
            invoice=invoice,
            subscription=sub,
            invoicing_reason=InvoicingReason.IN_ADVANCE_CHARGE_PERIODIC,
            timestamp=window.end,
            from_datetime=window.start,
            to_datetime=window.end,
            charges_from_datetime=window.start,
            charges_to_datetime=window.end,
        )
        Fee.objects.filter(id__in=[f.id for f in sub_fees]).update(invoice=invoice, invoice_subscription=row)
        for fee in sub_fees:
            fee.invoice, fee.invoice_subscription = invoice, row
            taxes[fee.id] = snapshots(resolver.fee_taxes(fee, plan=sub.plan))
            plan_ids[fee.id] = str(sub.plan.parent_id or sub.plan_id)
            fees.append(fee)
    lifecycle.finalize_in_place(invoice, fees, taxes, now=now, plan_ids=plan_ids, paid=True)
    return invoice


def paid_fees_regroup_due(at: dt.datetime | None = None) -> list[Any]:
    """Customers with paid, uninvoiced fees of regrouping charges (the sweep's candidates)."""
    at = at or timezone.now()
    return list(
        Fee.objects.filter(
            invoice__isnull=True,
            pay_in_advance=True,
            payment_status=PaymentStatus.SUCCEEDED,
            succeeded_at__lte=at,
            subscription__isnull=False,
            charge__regroup_paid_fees=RegroupPaidFees.INVOICE,
        )
        .values_list("customer_id", flat=True)
        .distinct()
        .order_by()
    )
