"""The billing run: what is due for a subscription, and one invoice per customer and billing day.

    due_items(subscription, schedule, at, cursor=, starting_billed=) -> [DueItem]   (pure)
    billing_due_customers(at, organization=None) -> {customer_id: due subscriptions}
    billing_due(at, organization=None, customer_ids=None) -> {customer_id: CustomerDue}
    customer_bill(customer_id, *, at) -> [Invoice]                                  (one transaction)

A `DueItem` is one (subscription, period, invoicing_reason). Its key is the unique constraint of
`InvoiceSubscription`, so a period is invoiced once whatever happens: the customer row is locked
while the items are computed and written, and a duplicate that slipped through anyway (a rerun
after a crash, two workers on a database without row locks) violates the constraint and rolls
the whole invoice back.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from fractions import Fraction
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from catalog.models import Charge, Tax
from customers.models import Customer, Organization
from invoicing.models import Fee, Invoice, InvoiceStatus, InvoiceSubscription, InvoiceType, InvoicingReason
from invoicing.services import fees as fee_builder
from invoicing.services import lifecycle
from invoicing.services.taxes import TaxResolver
from invoicing.services.totals import snapshots
from subscriptions import periods
from subscriptions.models import OnTerminationInvoice, Subscription, SubscriptionStatus
from subscriptions.selectors import schedule_for

# Terminated subscriptions are looked at for this long after their termination (closing invoice).
TERMINATION_LOOKBACK = dt.timedelta(days=31)
SWEEP_CHUNK = 5000
Window = periods.Window


@dataclass(frozen=True)
class DueItem:
    subscription: Subscription
    reason: str
    timestamp: dt.datetime  # when it became due
    service: Window  # base-fee period (service part) — billing_periods' subscription from/to
    full: Window  # the whole base period (proration denominator)
    charges: Window  # usage window; empty for a starting in-advance invoice
    base_fee: bool
    fraction: Fraction

    @property
    def key(self) -> tuple:
        return (
            self.reason,
            self.service.start,
            self.service.end,
            self.charges.start,
            self.charges.end,
        )


def _starting_due_at(sub: Subscription, schedule: periods.Schedule) -> dt.datetime:
    start = sub.started_at
    if sub.trial_ends_at is not None and sub.trial_ends_at > start:
        return sub.trial_ends_at
    return start


def due_items(
    sub: Subscription,
    schedule: periods.Schedule,
    at: dt.datetime,
    *,
    cursor: dt.datetime | None,
    starting_billed: bool,
    limit: int | None = None,
) -> list[DueItem]:
    """Every billing item of `sub` due at `at` that was not billed yet (cursor = last charges end).

    At most `limit` items: the sweep asks for 1 (is anything due?); billing gets at most
    `BILLING_MAX_PERIODS_PER_RUN` per subscription and run, the next runs bill the rest. A
    back-dated subscription (`billing_from`) is billed from the usage window holding that instant
    on (docs/subscriptions.md, "Back-dated subscriptions")."""
    plan = sub.plan
    items: list[DueItem] = []
    terminated_at = sub.terminated_at
    cap = limit if limit is not None else max(1, int(settings.BILLING_MAX_PERIODS_PER_RUN))
    origin = schedule.started_at
    if sub.billing_from is not None and sub.billing_from > origin:
        origin = periods.charges_window_at(schedule, sub.billing_from).start
    if plan.pay_in_advance and not starting_billed:
        due_at = max(_starting_due_at(sub, schedule), sub.billing_from or schedule.started_at)
        first = periods.period_at(schedule, origin)
        if due_at <= at and (terminated_at is None or due_at <= terminated_at) and due_at < first.service.end:
            items.append(
                DueItem(
                    subscription=sub,
                    reason=InvoicingReason.SUBSCRIPTION_STARTING,
                    timestamp=due_at,
                    service=first.service,
                    full=first.full,
                    charges=Window(origin, origin),
                    base_fee=True,
                    fraction=periods.base_fee_fraction(schedule, first),
                )
            )
    if len(items) >= cap:
        return items
    position = max(cursor or origin, origin)
    # With on_termination_invoice=skip the periods before the termination are still billed, the closing one is not.
    skip_closing = terminated_at is not None and sub.on_termination_invoice == OnTerminationInvoice.SKIP
    guard = 0
    while guard < 1000:
        guard += 1
        if terminated_at is not None and position >= terminated_at:
            break
        window = periods.charges_window_at(schedule, position)
        if window.end <= position or window.end > at:
            break
        terminating = terminated_at is not None and window.end >= terminated_at
        if terminating and skip_closing:
            break
        base_period = periods.period_at(schedule, window.start)
        if terminating:
            reason = InvoicingReason.SUBSCRIPTION_TERMINATING
            bill_base = not plan.pay_in_advance
            service, full = base_period.service, base_period.full
            fraction = periods.base_fee_fraction(schedule, base_period) if bill_base else Fraction(0)
        else:
            reason = InvoicingReason.SUBSCRIPTION_PERIODIC
            if plan.pay_in_advance:
                next_base = periods.period_at(schedule, window.end)
                bill_base = next_base.full.start == window.end and next_base.service.start < next_base.service.end
                if bill_base:
                    service, full = next_base.service, next_base.full
                    fraction = periods.base_fee_fraction(schedule, next_base)
                else:
                    service, full, fraction = base_period.service, base_period.full, Fraction(0)
            else:
                bill_base = base_period.full.end == window.end
                service, full = base_period.service, base_period.full
                fraction = periods.base_fee_fraction(schedule, base_period) if bill_base else Fraction(0)
        items.append(
            DueItem(
                subscription=sub,
                reason=reason,
                timestamp=window.end,
                service=service,
                full=full,
                charges=window,
                base_fee=bill_base,
                fraction=fraction,
            )
        )
        position = window.end
        if terminating or len(items) >= cap:
            break
    return items


# --- fees of one item ---------------------------------------------------------------------------


def _live_charges(plan: Any) -> list[Charge]:
    cached = getattr(plan, "_live_charges", None)
    if cached is None:
        cached = list(
            Charge.objects.filter(plan=plan, deleted_at__isnull=True)
            .select_related("billable_metric")
            .prefetch_related("filters", "taxes")
            .order_by("created_at", "id")
        )
        plan._live_charges = cached
    return cached


def usage_key(item: DueItem, charge: Charge) -> tuple:
    """Key of a charge's usage over an item's window in a batch's bulk-read usage."""
    return (item.subscription.id, charge.id, item.charges.start, item.charges.end)


def item_fees(
    item: DueItem, *, schedule: periods.Schedule, currency: str, usage: dict[tuple, Any] | None = None
) -> list[Fee]:
    """The fees of one billing item. `usage`: charges' usage already read in bulk (`usage_key`);
    a charge missing from it is aggregated here, as without it."""
    sub = item.subscription
    plan = sub.plan
    fees: list[Fee] = []
    base_fee: Fee | None = None
    if item.base_fee:
        base_fee = fee_builder.subscription_fee(
            sub, plan=plan, fraction=item.fraction, service=item.service, full=item.full, currency=currency
        )
        fees.append(base_fee)
    charge_fees: list[Fee] = []
    if item.charges.end > item.charges.start:
        for charge in _live_charges(plan):
            if charge.pay_in_advance:
                continue  # billed by the event (§5.3), not again at the period end
            buckets = fee_builder.price_charge(
                sub.organization,
                external_subscription_id=sub.external_id,
                charge=charge,
                window=item.charges,
                started_at=fee_builder.usage_started_at(sub, charge),
                currency=currency,
                schedule=schedule,
                usage=usage.get(usage_key(item, charge)) if usage else None,
            )
            these = [
                fee_builder.charge_fee(b, subscription=sub, currency=currency, window=item.charges) for b in buckets
            ]
            charge_fees.extend(these)
            true_up = fee_builder.charge_true_up_cents(charge, these, schedule, item.charges)
            if true_up > 0 and these:
                charge_fees.append(
                    fee_builder.true_up_fee(
                        these[0], charge=charge, amount_cents=true_up, subscription=sub, currency=currency,
                        window=item.charges,
                    )
                )  # fmt: skip
    fees.extend(charge_fees)
    if item.reason == InvoicingReason.SUBSCRIPTION_PERIODIC and item.charges.end > item.charges.start:
        fees.extend(_advance_recurring_fees(item, schedule, currency))
    commitment = _minimum_commitment(plan)
    if commitment is not None and item.charges.end > item.charges.start:
        fees.extend(_commitment_true_up(item, schedule, commitment, charge_fees, currency))
    return fees


def _advance_recurring_fees(item: DueItem, schedule: periods.Schedule, currency: str) -> list[Fee]:
    """Recurring pay-in-advance charges (invoiceable): the units carried into the period that opens,
    in full, on this invoice (`fees.advance_recurring_fees`)."""
    charges = [
        c for c in _live_charges(item.subscription.plan)
        if c.pay_in_advance and c.invoiceable and c.billable_metric.recurring
    ]  # fmt: skip
    if not charges:
        return []
    opening = periods.charges_window_at(schedule, item.charges.end)
    if opening.start != item.charges.end or opening.end <= opening.start:
        return []  # the subscription ends with this window
    fees: list[Fee] = []
    for charge in charges:
        fees.extend(
            fee_builder.advance_recurring_fees(item.subscription, charge=charge, opening=opening, currency=currency)
        )
    return fees


def _minimum_commitment(plan: Any) -> Any:
    cached = getattr(plan, "_commitment", "unset")
    if cached == "unset":
        cached = plan.commitments.filter(commitment_type="minimum_commitment").first()
        plan._commitment = cached
    return cached


def _commitment_true_up(
    item: DueItem, schedule: periods.Schedule, commitment: Any, charge_fees: list[Fee], currency: str
) -> list[Fee]:
    """§5.8 for the base period the charges window closes (charges billed with the base period)."""
    sub = item.subscription
    plan = sub.plan
    closed = periods.period_at(schedule, item.charges.start)
    if closed.full.end != item.charges.end and item.reason != InvoicingReason.SUBSCRIPTION_TERMINATING:
        return []  # bill_charges_monthly: the commitment is checked when the base period closes
    fraction = periods.base_fee_fraction(schedule, closed)
    from invoicing.calculation import prorate_by_fraction

    base_cents = prorate_by_fraction(int(plan.amount_cents), fraction).amount_cents
    minimum = prorate_by_fraction(int(commitment.amount_cents), fraction).amount_cents
    # Every charge fee of the commitment period counts (Lago): the earlier monthly invoices' with
    # bill_charges_monthly and the period's pay-in-advance fees, plus this invoice's.
    used = (
        base_cents + sum(f.amount_cents for f in charge_fees) + fee_builder.period_charge_fees_cents(sub, closed.full)
    )
    if used >= minimum:
        return []
    return [
        fee_builder.commitment_fee(
            sub, commitment=commitment, amount_cents=minimum - used, currency=currency, service=closed.service
        )
    ]


# --- per customer -------------------------------------------------------------------------------


def _candidates(customer: Customer, at: dt.datetime, subscription_ids: list[Any] | None = None) -> list[Subscription]:
    qs = Subscription.objects.filter(customer=customer)
    if subscription_ids is not None:
        qs = qs.filter(id__in=list(subscription_ids))
    return list(
        qs.filter(
            Q(status=SubscriptionStatus.ACTIVE)
            | Q(
                status=SubscriptionStatus.TERMINATED,
                terminated_at__gte=at - TERMINATION_LOOKBACK,
                terminated_at__lte=at,
            )
        )
        .exclude(started_at__isnull=True)
        .select_related("plan", "customer__organization", "organization")
        .order_by("started_at", "id")
    )


def _cursors(
    subscription_ids: list[Any], progressive: set[Any] | None = None
) -> tuple[dict[Any, dt.datetime], set[Any]]:
    """Per subscription: the end of the last billed usage window, and whether it had its starting invoice.

    `progressive`, when given, receives the subscriptions that have any progressive-billing period."""
    rows = (
        InvoiceSubscription.objects.filter(subscription_id__in=subscription_ids)
        .values("subscription_id", "invoicing_reason")
        .annotate(last=Max("charges_to_datetime"))
    )
    cursors: dict[Any, dt.datetime] = {}
    starting: set[Any] = set()
    for row in rows:
        sid = row["subscription_id"]
        if progressive is not None and row["invoicing_reason"] == InvoicingReason.PROGRESSIVE_BILLING:
            progressive.add(sid)
        if row["invoicing_reason"] == InvoicingReason.SUBSCRIPTION_STARTING:
            starting.add(sid)
        elif sid not in cursors or row["last"] > cursors[sid]:
            cursors[sid] = row["last"]
    return cursors, starting


# --- the catalog as of a billing run ---------------------------------------------------------------
# A billing run prices every customer with the catalog as it was when the run's process first read
# it (charges, filters, taxes, commitments): one read per plan and process instead of one per
# invoice. Keyed by the run id; calls without a run (API, admin, tests) always read fresh rows.

_run_cache: dict[str, Any] = {"key": None, "plans": {}, "org_taxes": {}}


def _cache_for(key: str | None) -> dict[str, Any] | None:
    if key is None:
        return None
    if _run_cache["key"] != key:
        _run_cache.update(key=key, plans={}, org_taxes={})
    return _run_cache


def _organization_taxes(organization: Organization, cache: dict[str, Any] | None) -> list[Any] | None:
    """The organization's default taxes as of the run (None without a run: the resolver reads them)."""
    if cache is None:
        return None
    taxes = cache["org_taxes"].get(organization.id)
    if taxes is None:
        taxes = list(Tax.objects.filter(organization=organization, applied_to_organization=True).order_by("code"))
        cache["org_taxes"][organization.id] = taxes
    return taxes


def _attach_plan_data(plan: Any, cache: dict[str, Any] | None) -> None:
    if cache is None:
        return
    data = cache["plans"].get(plan.id)
    if data is None:
        charges = _live_charges(plan)
        for charge in charges:
            fee_builder.metric_spec_for(charge)  # loads the metric's filter keys once
            fee_builder.live_charge_filters(charge)
        data = {
            "charges": charges,
            "commitment": _minimum_commitment(plan),
            "taxes": sorted(plan.taxes.all(), key=lambda t: t.code),
        }
        cache["plans"][plan.id] = data
    plan._live_charges = data["charges"]
    plan._commitment = data["commitment"]
    plan._cached_taxes = data["taxes"]


def customer_due_items(
    customer: Customer,
    at: dt.datetime,
    *,
    cache: dict[str, Any] | None = None,
    subscription_ids: list[Any] | None = None,
) -> list[tuple[DueItem, periods.Schedule]]:
    subs = _candidates(customer, at, subscription_ids)
    if not subs:
        return []
    progressive: set[Any] = set()
    cursors, starting = _cursors([s.id for s in subs], progressive)
    result = []
    for sub in subs:
        # Read under the customer lock, which progressive invoicing takes too: without such a period
        # there is no progressive credit to look up for this subscription (one query less).
        sub._progressive_billed = sub.id in progressive
        _attach_plan_data(sub.plan, cache)
        schedule = schedule_for(sub)
        if schedule is None:
            continue
        for item in due_items(sub, schedule, at, cursor=cursors.get(sub.id), starting_billed=sub.id in starting):
            result.append((item, schedule))
    return result


def customer_bill(
    customer_id: UUID | str,
    *,
    at: dt.datetime | None = None,
    now: dt.datetime | None = None,
    run_key: str | None = None,
    subscription_ids: list[Any] | None = None,
) -> list[Invoice]:
    """Bill everything due for one customer up to `at`: one invoice per local billing day.

    One transaction; the customer row is locked so two workers bill one after the other and the
    second finds nothing left to do. `subscription_ids`: bill only these subscriptions of the
    customer (a termination, plan change or start billed at once, `subscriptions_bill_now`); the
    others wait for the sweep.
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
        cache = _cache_for(run_key)
        due = customer_due_items(customer, at, cache=cache, subscription_ids=subscription_ids)
        if not due:
            return []
        tz_name = customer.applicable_timezone
        by_day: dict[dt.date, list[tuple[DueItem, periods.Schedule]]] = defaultdict(list)
        for item, schedule in due:
            by_day[periods.local_date(item.timestamp, tz_name)].append((item, schedule))
        org_taxes = _organization_taxes(customer.organization, cache)
        return [
            _create_subscription_invoice(customer, day, by_day[day], now=now, org_taxes=org_taxes)
            for day in sorted(by_day)
        ]


def _currency(customer: Customer, items: list[tuple[DueItem, periods.Schedule]]) -> str:
    return customer.currency or items[0][0].subscription.plan.amount_currency


def period_row(organization: Organization, invoice: Invoice, item: DueItem) -> InvoiceSubscription:
    """The invoice's billing-period row of one due item (unsaved)."""
    return InvoiceSubscription(
        organization=organization,
        invoice=invoice,
        subscription=item.subscription,
        invoicing_reason=item.reason,
        timestamp=item.timestamp,
        from_datetime=item.service.start,
        to_datetime=item.service.end,
        charges_from_datetime=item.charges.start,
        charges_to_datetime=item.charges.end,
    )


def _create_subscription_invoice(
    customer: Customer,
    day: dt.date,
    items: list[tuple[DueItem, periods.Schedule]],
    *,
    now: dt.datetime,
    org_taxes: list[Any] | None = None,
) -> Invoice:
    organization = customer.organization
    customer.organization = organization
    currency = _currency(customer, items)
    net_term = customer.applicable_net_payment_term
    grace = customer.applicable_invoice_grace_period
    timestamp = max(item.timestamp for item, _ in items)
    invoice = Invoice(
        organization=organization,
        customer=customer,
        invoice_type=InvoiceType.SUBSCRIPTION,
        currency=currency,
        issuing_date=day,
        payment_due_date=day + dt.timedelta(days=net_term),
        net_payment_term=net_term,
    )
    resolver = TaxResolver(organization, customer, organization_taxes=org_taxes)
    fees: list[Fee] = []
    period_rows: list[InvoiceSubscription] = []
    for item, schedule in items:
        row = period_row(organization, invoice, item)
        period_rows.append(row)
        for fee in item_fees(item, schedule=schedule, currency=currency):
            fee.invoice_subscription = row
            fees.append(fee)
    taxes, plan_ids = _taxes_for(fees, resolver)
    if grace > 0:
        invoice.finalize_at = timestamp + dt.timedelta(days=grace)
        lifecycle.save_draft(invoice, fees, taxes, plan_ids=plan_ids, periods=period_rows)
        lifecycle.send_invoice_webhook(invoice, "invoice.drafted")
    else:
        lifecycle.finalize_in_place(invoice, fees, taxes, now=now, plan_ids=plan_ids, periods=period_rows)
    return invoice


def _taxes_for(fees: list[Fee], resolver: TaxResolver) -> tuple[dict, dict]:
    taxes = {}
    plan_ids = {}
    for fee in fees:
        plan = fee.subscription.plan if fee.subscription_id else None
        taxes[fee.id] = snapshots(resolver.fee_taxes(fee, plan=plan))
        plan_ids[fee.id] = str(plan.parent_id or plan.id) if plan is not None else None
    return taxes, plan_ids


def rebuild_invoice_fees(invoice: Invoice) -> None:
    """A draft's fees again from its billing periods (refresh, and before finalization)."""
    if invoice.invoice_type != InvoiceType.SUBSCRIPTION or invoice.status != InvoiceStatus.DRAFT:
        return
    rows = list(invoice.invoice_subscriptions.select_related("subscription__plan", "subscription__organization"))
    if not rows:
        return
    Fee.objects.filter(invoice=invoice).delete()
    resolver = TaxResolver(invoice.organization, invoice.customer)
    fees: list[Fee] = []
    for row in rows:
        sub = row.subscription
        schedule = schedule_for(sub)
        if schedule is None:
            continue
        item = _item_from_row(row, schedule)
        for fee in item_fees(item, schedule=schedule, currency=invoice.currency):
            fee.invoice = invoice
            fee.invoice_subscription = row
            fees.append(fee)
    taxes, _ = _taxes_for(fees, resolver)
    Fee.objects.bulk_create(fees)
    from invoicing.models import FeeAppliedTax

    FeeAppliedTax.objects.bulk_create(
        [
            FeeAppliedTax(
                organization_id=invoice.organization_id,
                fee=fee,
                tax_id=snap.tax_id,
                tax_code=snap.rate.code,
                tax_name=snap.rate.name,
                tax_rate=snap.rate.rate,
                tax_description=snap.rate.description,
                currency=invoice.currency,
            )
            for fee in fees
            for snap in taxes[fee.id]
        ]
    )


def _item_from_row(row: InvoiceSubscription, schedule: periods.Schedule) -> DueItem:
    sub = row.subscription
    plan = sub.plan
    base = periods.period_at(schedule, row.from_datetime)
    if row.invoicing_reason == InvoicingReason.SUBSCRIPTION_STARTING:
        bill_base = True
    elif row.invoicing_reason == InvoicingReason.SUBSCRIPTION_TERMINATING:
        bill_base = not plan.pay_in_advance
    elif plan.pay_in_advance:
        bill_base = base.full.start == row.charges_to_datetime
    else:
        bill_base = base.full.end == row.charges_to_datetime
    return DueItem(
        subscription=sub,
        reason=row.invoicing_reason,
        timestamp=row.timestamp,
        service=Window(row.from_datetime, row.to_datetime),
        full=base.full,
        charges=Window(row.charges_from_datetime, row.charges_to_datetime),
        base_fee=bill_base,
        fraction=periods.base_fee_fraction(schedule, base) if bill_base else Fraction(0),
    )


# --- the sweep ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CustomerDue:
    """What the sweep found due for one customer: how many subscriptions, and since when the oldest
    of their uninvoiced billings has been due (the billing-run lag is measured from it)."""

    subscriptions: int
    oldest: dt.datetime


def billing_due_customers(at: dt.datetime, *, organization: Any = None) -> dict[Any, int]:
    """Customers with something due at `at` (in their timezone), with how many subscriptions."""
    return {customer_id: due.subscriptions for customer_id, due in billing_due(at, organization=organization).items()}


def billing_due(
    at: dt.datetime, *, organization: Any = None, customer_ids: list[Any] | None = None
) -> dict[Any, CustomerDue]:
    """Customers with something due at `at` (in their timezone): subscriptions due and the oldest
    due instant. `customer_ids` narrows the look to those customers (a run's failures)."""
    qs = (
        Subscription.objects.filter(
            Q(status=SubscriptionStatus.ACTIVE)
            | Q(
                status=SubscriptionStatus.TERMINATED,
                terminated_at__gte=at - TERMINATION_LOOKBACK,
                terminated_at__lte=at,
            )
        )
        .exclude(started_at__isnull=True)
        .select_related("customer")
    )
    if organization is not None:
        qs = qs.filter(organization=organization)
    if customer_ids is not None:
        qs = qs.filter(customer_id__in=list(customer_ids))
    counts: dict[Any, int] = defaultdict(int)
    oldest: dict[Any, dt.datetime] = {}
    chunk: list[Subscription] = []
    # Plans and organizations are few: read once and shared, not joined into every row.
    plans: dict[Any, Any] = {}
    organizations: dict[Any, Any] = {}

    def check(subs: list[Subscription]) -> None:
        from catalog.models import Plan
        from customers.models import Organization

        missing_plans = {s.plan_id for s in subs} - plans.keys()
        plans.update({p.id: p for p in Plan.objects.filter(id__in=missing_plans)} if missing_plans else {})
        missing_orgs = {s.customer.organization_id for s in subs} - organizations.keys()
        if missing_orgs:
            organizations.update({o.id: o for o in Organization.objects.filter(id__in=missing_orgs)})
        cursors, starting = _cursors([s.id for s in subs])
        for sub in subs:
            sub.plan = plans[sub.plan_id]
            sub.customer.organization = organizations[sub.customer.organization_id]
            schedule = schedule_for(sub)
            if schedule is None:
                continue
            # The first due item answers "is anything due?" and is the oldest (items come in time
            # order); the task computes them all again.
            first = due_items(
                sub, schedule, at, cursor=cursors.get(sub.id), starting_billed=sub.id in starting, limit=1
            )
            if first:
                counts[sub.customer_id] += 1
                known = oldest.get(sub.customer_id)
                if known is None or first[0].timestamp < known:
                    oldest[sub.customer_id] = first[0].timestamp

    # In chunks: memory stays bounded by the chunk (plus the due customers' ids), whatever the base.
    for sub in qs.order_by().iterator(chunk_size=SWEEP_CHUNK):
        chunk.append(sub)
        if len(chunk) >= SWEEP_CHUNK:
            check(chunk)
            chunk = []
    if chunk:
        check(chunk)
    return {customer_id: CustomerDue(count, oldest[customer_id]) for customer_id, count in counts.items()}
