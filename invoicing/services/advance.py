"""Pay-in-advance charges (docs/invoicing.md §7 "Pay-in-advance charges"): an instant fee per event.

    pay_in_advance_fees(organization, external_subscription_ids=..., now=None, since=None) -> [Fee]
    pay_in_advance_reconcile_due(at, lookback=None, organization=None) -> {organization_id: [external ids]}

For each subscription named (active, or terminated in the lookback), each pay-in-advance charge of
its plan and each of its events that has no fee yet, in timestamp order within its usage window:
`fee = price(usage with the event) − price(usage before it)` (`catalog.pricing.price_in_advance`),
rounded once. An invoiceable charge gets its own finalized invoice per event
(`invoicing_reason = in_advance_charge`, no coupons); a non-invoiceable one a fee without invoice
and `fee.created` (its payment status is then set with `PUT /fees/{id}`). A unique constraint on
(subscription, charge, event transaction id) bills each event once, whoever runs the task and
however often.

Each event is billed in its own savepoint: a fee that cannot be computed (a pricing error, a
metric bxb cannot bill per event) is recorded on the event (`EventError`
`pay_in_advance_fee_failed` with the reason) and the later events are billed as usual. Nothing
here is ever raised into the request that ingested the events.

Which events are looked at: after ingestion, the current usage window and the last day (the end
of the previous window just after a period boundary); the reconciliation sweep
(`invoicing.pay_in_advance_reconcile_sweep`, `manage.py reconcile_pay_in_advance_fees`) looks
`PAY_IN_ADVANCE_RECONCILE_LOOKBACK_DAYS` back (35 by default) and bills any event that has no
fee: nothing an outage, a lost task or a stale cache skipped stays unbilled.

Buckets (`metering.running.RunningUsage`): an event is priced against the usage of the earlier
events of its own bucket in the window: the charge filter it matches (the most specific, the
period-end rule; no match: the default bucket), then its values of the charge's pricing group
keys. The fee uses that filter's properties (the charge's in the default bucket) and carries
`charge_filter`, the filter's values and `grouped_by`. A unique count bills its bucket's peak
(the most distinct values present at once, a recurring metric's carried values included): an
event raising it costs `price(peak) − price(peak − 1)`, any other gets a zero fee. An event
without a value of the metric's field (sum, unique count) is due no fee (`_counted`), as in Lago.

Supported: count, sum and unique count metrics (what the catalog accepts in advance). An event of
an in-advance charge on any other metric is recorded as failed with that reason (it is not
billed in advance, and the period-end invoice never bills pay-in-advance charges).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import DateTimeField, Exists, OuterRef, Q, Value
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Coalesce
from django.utils import timezone

from billing_project.core.money import exponent, to_cents
from catalog.models import Charge, ChargeFilter, RegroupPaidFees
from catalog.pricing import price_in_advance
from customers.models import Customer, Organization
from invoicing.billing.pricing import is_prorated, plain, precise_cents, prorated_period_days, usage_started_at
from invoicing.billing.snapshot import live_charge_filters
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
from invoicing.services.taxes import TaxResolver
from invoicing.services.totals import snapshots
from metering import computations
from metering.aggregation import normalize_filters
from metering.models import Event, EventError, EventErrorCode
from metering.prorated import ProrationDays
from metering.running import SUPPORTED, RunningUsage, Step, keys_of
from metering.selectors import event_rows
from metering.services import EventFailure, event_failures_clear, event_failures_record
from subscriptions import periods
from subscriptions.models import Subscription, SubscriptionStatus
from subscriptions.selectors import ChainStarts, schedule_for
from webhooks.services import webhook_send

logger = logging.getLogger(__name__)

FAILED = EventErrorCode.PAY_IN_ADVANCE_FEE_FAILED
# After ingestion: the current window and this last stretch of time (an event sent just after a
# period boundary may still belong to the previous window).
INGEST_LOOKBACK = dt.timedelta(days=1)
DEFAULT_RECONCILE_LOOKBACK_DAYS = 35


def reconcile_lookback() -> dt.timedelta:
    days = getattr(settings, "PAY_IN_ADVANCE_RECONCILE_LOOKBACK_DAYS", DEFAULT_RECONCILE_LOOKBACK_DAYS)
    return dt.timedelta(days=int(days if days is not None else DEFAULT_RECONCILE_LOOKBACK_DAYS))


def organization_has_advance_charges(organization_id: UUID | str) -> bool:
    """One indexed query; asked on every ingestion request that names a known subscription (no
    cache: an answer cached in one process could skip the fees of a charge created in another)."""
    return Charge.objects.filter(organization_id=organization_id, pay_in_advance=True, deleted_at__isnull=True).exists()


def _unsupported(charge: Charge) -> str | None:
    """Why bxb cannot bill this in-advance charge per event (None: it can)."""
    aggregation = charge.billable_metric.aggregation_type
    if aggregation not in SUPPORTED:
        return f"pay-in-advance fees of {aggregation} metrics are not supported"
    return None


def _counted(events: Any, aggregation_type: str, field_name: str | None) -> Any:
    """The events due a fee: those that carry the metric's field (Lago creates no fee for the
    others). A sum's event without a numeric value (recorded at ingestion as
    `missing_aggregation_property` or `invalid_aggregation_property`) and a unique count's event
    without a value of its field change no usage; a count's every event is due one."""
    if aggregation_type == "sum_agg":
        return events.filter(value__isnull=False)
    if aggregation_type != "unique_count_agg":
        return events
    return (
        events.annotate(_unique_value=KeyTextTransform(field_name or "", "properties"))
        .filter(_unique_value__isnull=False)
        .exclude(_unique_value="")
    )


def _advance_charges(plan: Any) -> list[Charge]:
    return list(
        Charge.objects.filter(plan=plan, pay_in_advance=True, deleted_at__isnull=True)
        .select_related("billable_metric")
        .prefetch_related("filters", "taxes")
        .order_by("created_at", "id")
    )


def _subscriptions(organization: Organization, external_ids: list[str], floor: dt.datetime) -> list[Subscription]:
    """The subscriptions behind these external ids whose events may still need a fee: the active
    ones, and those terminated since `floor` (a plan change leaves the old one terminated, and the
    events before the change are its own)."""
    return list(
        Subscription.objects.filter(organization=organization, external_id__in=list(external_ids))
        .filter(Q(status=SubscriptionStatus.ACTIVE) | Q(status=SubscriptionStatus.TERMINATED, terminated_at__gte=floor))
        .exclude(started_at__isnull=True)
        .select_related("plan", "customer__organization", "organization")
        .order_by("started_at", "id")
    )


def pay_in_advance_fees(
    organization: Organization,
    *,
    external_subscription_ids: list[str],
    now: dt.datetime | None = None,
    since: dt.datetime | None = None,
    retry_failed: bool = False,
) -> list[Fee]:
    """Bill the events of these subscriptions that have no in-advance fee yet: those of the usage
    window holding `now`, and those since `since` (default: a day before `now`) before it.

    Events already recorded as failed are left alone (they are visible on the event, and pricing
    them again would fail again) unless `retry_failed` (`manage.py reconcile_pay_in_advance_fees
    --retry-failed`, after fixing the charge)."""
    now = now or timezone.now()
    since = since or now - INGEST_LOOKBACK
    created: list[Fee] = []
    for sub in _subscriptions(organization, external_subscription_ids, since):
        charges = _advance_charges(sub.plan)
        if not charges:
            continue
        with transaction.atomic():
            Customer.objects.select_for_update(of=("self",)).filter(id=sub.customer_id).first()
            created += _subscription_fees(sub, charges, now=now, since=since, retry_failed=retry_failed)
    return created


@dataclass(frozen=True)
class _Row:
    id: Any
    transaction_id: str
    value: Decimal | None
    timestamp: dt.datetime
    properties: Mapping[str, str | None] | None = None  # the keys the running usage reads, as text


def _subscription_fees(
    sub: Subscription, charges: list[Charge], *, now: dt.datetime, since: dt.datetime, retry_failed: bool
) -> list[Fee]:
    schedule = schedule_for(sub)
    if schedule is None:
        return []
    starts = ChainStarts()  # the subscription chain's initial start, read once if a recurring metric asks
    current = periods.charges_window_at(schedule, now)
    # The whole current window (a late event of it may be old), and from `since` before that; each
    # event found is priced against the usage of its own window.
    start = min(current.start, max(since, sub.started_at))
    end = current.end if sub.terminated_at is None else min(current.end, sub.terminated_at)
    if end <= start:
        return []
    created: list[Fee] = []
    failures: list[EventFailure] = []
    billed_ids: list[Any] = []
    for charge in charges:
        metric = charge.billable_metric
        unbilled = _unbilled_events(sub, charge, start, end, retry_failed=retry_failed)
        if not unbilled:
            continue
        reason = _unsupported(charge)
        if reason is not None:
            failures += [_failure(sub, charge, row, reason) for row in unbilled]
            continue
        todo = {row.transaction_id for row in unbilled}
        windows = sorted(
            {periods.charges_window_at(schedule, row.timestamp) for row in unbilled}, key=lambda w: w.start
        )
        for window in windows:
            window_start = max(window.start, sub.started_at or window.start)
            rows = _window_events(sub, metric.code, window_start, window.end, _keys(charge))
            for row, fee_or_error in _window_fees(sub, charge, schedule, window, rows, todo, now=now, starts=starts):
                if isinstance(fee_or_error, Fee):
                    created.append(fee_or_error)
                    billed_ids.append(row.id)
                elif fee_or_error is not None:
                    failures.append(_failure(sub, charge, row, fee_or_error))
    event_failures_record(sub.organization_id, failures, error_code=FAILED)
    event_failures_clear(sub.organization_id, billed_ids, error_code=FAILED)
    return created


def _without_fee(subscription: Any, charge_id: UUID | str) -> Exists:
    """`~` of this: the outer event has no fee of this charge for this subscription (the
    partial unique index on (subscription, charge, event transaction id) answers it)."""
    return Exists(
        Fee.objects.filter(
            subscription_id=subscription, charge_id=charge_id, event_transaction_id=OuterRef("transaction_id")
        ).exclude(event_transaction_id="")
    )


def _failed() -> Exists:
    return Exists(EventError.objects.filter(event_id=OuterRef("id"), error_code=FAILED))


def _unbilled_events(
    sub: Subscription, charge: Charge, start: dt.datetime, end: dt.datetime, *, retry_failed: bool
) -> list[_Row]:
    """The charge's events in [start, end) without a fee of this charge (one anti-join).

    Only events received once the charge existed: an event ingested before it was never due an
    instant fee (as in Lago), and a plan override's copied charge must not bill again the events
    its original already billed."""
    metric = charge.billable_metric
    events = Event.objects.filter(
        organization_id=sub.organization_id,
        external_subscription_id=sub.external_id,
        code=metric.code,
        timestamp__gte=max(start, sub.started_at),
        timestamp__lt=end,
        created_at__gte=charge.created_at,
    ).filter(~_without_fee(sub.id, charge.id))
    events = _counted(events, metric.aggregation_type, metric.field_name)
    if not retry_failed:
        events = events.filter(~_failed())
    rows = events.order_by("timestamp", "transaction_id").values_list("id", "transaction_id", "value", "timestamp")
    return [_Row(*row) for row in rows]


def _filters(charge: Charge) -> list[tuple[Any, dict[str, list[str]]]]:
    return normalize_filters([(f.id, f.values) for f in live_charge_filters(charge)])


def _keys(charge: Charge) -> tuple[str, ...]:
    metric = charge.billable_metric
    return keys_of(
        metric.aggregation_type,
        field_name=metric.field_name,
        filters=_filters(charge),
        grouped_by=tuple(charge.pricing_group_keys or ()),
    )


def _window_events(
    sub: Subscription, code: str, start: dt.datetime, end: dt.datetime, keys: tuple[str, ...]
) -> list[_Row]:
    """The events of [start, end) in billing order, with the `keys` of their properties as text
    (`metering.selectors.event_rows`, as the period-end aggregation reads them)."""
    rows = event_rows(
        sub.organization_id, external_subscription_id=sub.external_id, code=code, start=start, end=end, keys=keys
    )
    return [_Row(event_id, row.transaction_id, row.value, row.timestamp, row.properties) for event_id, row in rows]


def _carries(metric: Any, *, prorated: bool) -> bool:
    """A recurring metric's earlier values count in the usage an event is priced against (Lago
    aggregates them from the subscription's start): a unique count's values present, an
    unprorated sum's total. (A prorated sum's carried value is billed at the period's start and
    left out of its events' prices.)"""
    if not metric.recurring:
        return False
    return metric.aggregation_type == "unique_count_agg" or (metric.aggregation_type == "sum_agg" and not prorated)


def _running_usage(
    sub: Subscription, charge: Charge, schedule: periods.Schedule, window: periods.Window, starts: ChainStarts
) -> RunningUsage:
    """The running usage of the charge's buckets in `window` (`metering.running`): its filters as
    the period end matches them, its pricing group keys, a recurring metric's values carried in
    (`_carries`), the proration of a prorated charge (§5.4: value × days from the event's local day to the
    period end / period days)."""
    metric = charge.billable_metric
    days = (
        ProrationDays.of(
            window.start, window.end, period_days=prorated_period_days(schedule, window), tz_name=schedule.tz_name
        )
        if is_prorated(charge)
        else None
    )
    carried: list[computations.Row] = []
    window_start = max(window.start, sub.started_at or window.start)
    if _carries(metric, prorated=days is not None):
        started: dt.datetime = usage_started_at(sub, charge, starts) or window_start
        if started < window_start:
            carried = [
                _aggregation_row(row) for row in _window_events(sub, metric.code, started, window_start, _keys(charge))
            ]
    return RunningUsage(
        metric.aggregation_type,
        field_name=metric.field_name,
        filters=_filters(charge),
        grouped_by=tuple(charge.pricing_group_keys or ()),
        carried=carried,
        share=(
            (lambda row: days.ratio(days.days_from(periods.local_date(row.timestamp, schedule.tz_name))))
            if days is not None
            else None
        ),
        # Percentage with free units or per-transaction bounds needs each event's units (§2.5).
        with_values=charge.charge_model == "percentage",
    )


def _aggregation_row(row: _Row) -> computations.Row:
    return computations.Row(
        timestamp=row.timestamp, value=row.value, properties=row.properties, transaction_id=row.transaction_id
    )


def _failure(sub: Subscription, charge: Charge, row: _Row, reason: str) -> EventFailure:
    return EventFailure(
        event_id=row.id,
        transaction_id=row.transaction_id,
        external_subscription_id=sub.external_id,
        code=charge.billable_metric.code,
        message=f"charge {charge.code or charge.id}: {reason}",
    )


def _window_fees(
    sub: Subscription,
    charge: Charge,
    schedule: periods.Schedule,
    window: periods.Window,
    rows: list[_Row],
    todo: set[str],
    *,
    now: dt.datetime,
    starts: ChainStarts,
):
    """Yield (event, Fee | failure reason | None) for the events of `todo` in this window, each
    priced against the usage of the earlier events of its bucket (filter, group), each billed in
    its own savepoint."""
    customer = sub.customer
    currency = sub.plan.amount_currency
    resolver = TaxResolver(sub.organization, customer)
    filters = {f.id: f for f in live_charge_filters(charge)}
    running = _running_usage(sub, charge, schedule, window, starts)
    for row in rows:
        if row.transaction_id not in todo:
            running.skip(_aggregation_row(row))  # billed already: only its usage counts
            continue
        step = running.add(_aggregation_row(row))
        try:
            with transaction.atomic():  # a savepoint: this event's failure leaves the others' fees
                fee = _event_fee(
                    sub, charge, window, row, step, filters, running.grouped_by, currency, resolver, now=now
                )
        except IntegrityError:
            yield row, None  # billed meanwhile by another run: nothing to do
        except Exception as exc:  # recorded on the event; the next events go on
            logger.exception("pay-in-advance fee of event %s (charge %s) failed", row.transaction_id, charge.id)
            yield row, f"{type(exc).__name__}: {exc}"
        else:
            yield row, fee


def _event_fee(
    sub: Subscription,
    charge: Charge,
    window: periods.Window,
    row: _Row,
    step: Step,
    filters: dict[Any, ChargeFilter],
    grouped_by: tuple[str, ...],
    currency: str,
    resolver: TaxResolver,
    *,
    now: dt.datetime,
) -> Fee:
    """The fee of one event: priced with its filter's properties (the charge's in the default
    bucket), carrying the filter and the event's pricing group values, as Lago's."""
    filter_id, group = step.bucket
    charge_filter = filters.get(filter_id) if filter_id is not None else None
    properties = (charge_filter.properties if charge_filter is not None else charge.properties) or {}
    result = price_in_advance(charge.charge_model, properties, before=step.before, after=step.after, currency=currency)
    fee_properties: dict[str, Any] = {
        "charges_from_datetime": window.start.isoformat(),
        "charges_to_datetime": window.end.isoformat(),
        "timestamp": row.timestamp.isoformat(),
    }
    if filters:
        fee_properties["filter_values"] = (
            {k: list(v) for k, v in (charge_filter.values or {}).items()} if charge_filter is not None else None
        )
    fee = Fee.of_subscription(
        sub,
        charge=charge,
        charge_filter=charge_filter,
        fee_type=FeeType.CHARGE,
        invoice_display_name=Fee.charge_name(charge, charge_filter),
        currency=currency,
        units=step.units,
        total_aggregated_units=step.units,
        events_count=1,
        unit_amount_cents=to_cents(result.unit_amount, currency) if result.units else 0,
        precise_unit_amount=result.unit_amount.quantize(Decimal("0.0000000001")),
        amount_cents=to_cents(result.amount, currency),
        precise_amount_cents=precise_cents(result.amount, currency),
        grouped_by=dict(zip(grouped_by, group, strict=True)),
        properties=fee_properties,
        amount_details={"charge_model": charge.charge_model, "breakdown": plain(list(result.breakdown))},
        pay_in_advance=True,
        invoiceable=charge.invoiceable,
        event_transaction_id=row.transaction_id,
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
    return fee


# --- the reconciliation sweep ----------------------------------------------------------------------


def pay_in_advance_reconcile_due(
    at: dt.datetime | None = None,
    *,
    lookback: dt.timedelta | None = None,
    organization: Any = None,
    retry_failed: bool = False,
) -> dict[Any, list[str]]:
    """Subscriptions (external ids by organization) with an event since `at − lookback` that has
    neither a fee of a live pay-in-advance charge of their plan nor a recorded failure: what the
    sweep fans out. One query per live in-advance charge (its plan's subscriptions, each checked
    by an anti-join of its recent events against the charge's fees); the task finds the same
    events again under the customer lock."""
    at = at or timezone.now()
    floor = at - (lookback if lookback is not None else reconcile_lookback())
    charges = Charge.objects.filter(pay_in_advance=True, deleted_at__isnull=True)
    if organization is not None:
        charges = charges.filter(organization=organization)
    due: dict[Any, set[str]] = defaultdict(set)
    rows_of_charges = charges.values_list(
        "id",
        "plan_id",
        "billable_metric__code",
        "created_at",
        "billable_metric__aggregation_type",
        "billable_metric__field_name",
    ).order_by("id")
    for charge_id, plan_id, code, charge_created_at, aggregation_type, field_name in rows_of_charges:
        events = (
            Event.objects.filter(
                organization_id=OuterRef("organization_id"),
                external_subscription_id=OuterRef("external_id"),
                code=code,
                created_at__gte=charge_created_at,
                timestamp__gte=floor,
                timestamp__lt=Coalesce(OuterRef("terminated_at"), Value(at, output_field=DateTimeField())),
            )
            .filter(timestamp__gte=OuterRef("started_at"))
            .filter(~_without_fee(OuterRef(OuterRef("id")), charge_id))
        )
        events = _counted(events, aggregation_type, field_name)
        if not retry_failed:
            events = events.filter(~_failed())
        rows = (
            Subscription.objects.filter(plan_id=plan_id)
            .filter(
                Q(status=SubscriptionStatus.ACTIVE) | Q(status=SubscriptionStatus.TERMINATED, terminated_at__gte=floor)
            )
            .exclude(started_at__isnull=True)
            .filter(Exists(events))
            .order_by()
            .values_list("organization_id", "external_id")
        )
        for organization_id, external_id in rows:
            due[organization_id].add(external_id)
    return {organization_id: sorted(ids) for organization_id, ids in due.items()}


def pay_in_advance_reconcile_run(
    at: dt.datetime | None = None,
    *,
    lookback: dt.timedelta | None = None,
    organization: Any = None,
    dry_run: bool = False,
    retry_failed: bool = False,
) -> dict[Any, list[str]]:
    """The reconciliation sweep: one `invoicing.pay_in_advance_fees` task per organization with
    subscriptions to catch up (none with `dry_run`); returns what was found."""
    at = at or timezone.now()
    lookback = lookback if lookback is not None else reconcile_lookback()
    due = pay_in_advance_reconcile_due(at, lookback=lookback, organization=organization, retry_failed=retry_failed)
    if due and not dry_run:
        from invoicing import tasks

        since = (at - lookback).isoformat()
        for organization_id, external_ids in due.items():
            tasks.pay_in_advance_fees.delay(str(organization_id), external_ids, since, retry_failed)
    if due:
        logger.warning(
            "pay-in-advance reconciliation: %d subscription(s) had events without a fee%s",
            sum(len(ids) for ids in due.values()),
            " (dry run)" if dry_run else "",
        )
    return due


def _instant_invoice(sub: Subscription, fee: Fee, taxes: dict, *, now: dt.datetime) -> Invoice:
    customer = sub.customer
    today = lifecycle.local_today(customer, now)
    invoice = lifecycle.invoice_new(sub.organization, customer, InvoiceType.SUBSCRIPTION, fee.currency, today)
    fee.precise_unit_amount = fee.precise_unit_amount or Decimal(fee.unit_amount_cents).scaleb(-exponent(fee.currency))
    lifecycle.finalize_in_place(
        invoice, [fee], taxes, now=now, plan_ids={fee.id: str(sub.plan.parent_id or sub.plan_id)}
    )
    return invoice


# --- regroup_paid_fees: "invoice" (docs/billing-semantics.md §5.3) -----------------------------------------


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
    customer_id: UUID | str, *, at: dt.datetime | None = None, now: dt.datetime | None = None
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
            .filter(_paid_to_regroup(at), customer_id=customer.id)
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
    invoice = lifecycle.invoice_new(
        customer.organization,
        customer,
        InvoiceType.ADVANCE_CHARGES,
        currency,
        day,
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


def _paid_to_regroup(at: dt.datetime) -> Q:
    """Fees paid in advance by `at` and not invoiced yet, of subscription charges that regroup
    their paid fees on an invoice (`regroup_paid_fees: invoice`)."""
    return Q(
        invoice__isnull=True,
        deleted_at__isnull=True,
        pay_in_advance=True,
        payment_status=PaymentStatus.SUCCEEDED,
        succeeded_at__lte=at,
        subscription__isnull=False,
        charge__regroup_paid_fees=RegroupPaidFees.INVOICE,
    )


def paid_fees_regroup_due(at: dt.datetime | None = None) -> list[Any]:
    """Customers with paid, uninvoiced fees of regrouping charges (the sweep's candidates)."""
    at = at or timezone.now()
    return list(Fee.objects.filter(_paid_to_regroup(at)).values_list("customer_id", flat=True).distinct().order_by())
