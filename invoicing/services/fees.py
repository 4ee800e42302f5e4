"""Fees of a subscription period: base fee, charge fees per filter/group, true-ups.

Fees are built as unsaved `Fee` rows (their UUIDs exist before saving) so the totals can be
computed by `invoicing.calculation` and everything written with bulk inserts. The same charge
pricing serves the billing run and current usage, so the two cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any

from billing_project.core.money import exponent, to_cents
from catalog.models import Charge, ChargeFilter
from catalog.pricing import Usage, price, spending_minimum_true_up_cents
from customers.models import Organization
from invoicing.calculation import prorate_by_fraction
from invoicing.models import Fee, FeeType
from metering.aggregation import AggregationResult, BucketUsage, MetricSpec, aggregate, aggregate_prorated
from subscriptions import periods
from subscriptions.models import Subscription
from subscriptions.selectors import initial_started_at, schedule_for

PRECISE_QUANTUM = Decimal("0.00001")


def plain(value: Any) -> Any:
    """JSON-able copy of a pricing breakdown: Decimals become strings, never floats."""
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral() else format(value, "f")
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def decimal_string(value: Decimal | int | None) -> str:
    if value is None:
        return "0.0"
    value = Decimal(value)
    text = format(value.normalize(), "f") if value != 0 else "0"
    return text if "." in text else f"{text}.0"


@dataclass
class ChargeBucket:
    """One priced bucket of a charge: the whole charge, a filter (or the default bucket), a group."""

    charge: Charge
    charge_filter: ChargeFilter | None
    filter_values: dict[str, list[str]] | None
    grouped_by: dict[str, Any]
    units: Decimal
    total_aggregated_units: Decimal
    events_count: int
    amount: Decimal  # major units, unrounded
    amount_cents: int
    unit_amount: Decimal
    breakdown: list[Any] = field(default_factory=list)
    is_default_bucket: bool = False
    # Prorated charges: the unprorated units (current usage shows them, as Lago does); else None.
    full_units: Decimal | None = None

    @property
    def current_usage_units(self) -> Decimal:
        return self.full_units if self.full_units is not None else self.units


_metric_specs: dict[Any, tuple[Any, MetricSpec]] = {}


def metric_spec_for(charge: Charge) -> MetricSpec:
    """The aggregation's view of a charge's metric; filter keys from the prefetched filters."""
    metric = charge.billable_metric
    keys: tuple[str, ...] = ()
    filters = getattr(metric, "_live_filter_keys", None)
    if filters is None:
        filters = tuple(sorted(metric.filters.filter(deleted_at__isnull=True).values_list("key", flat=True)))
        metric._live_filter_keys = filters  # cached on the instance for this run
    keys = filters
    return MetricSpec(
        code=metric.code,
        aggregation_type=metric.aggregation_type,
        field_name=metric.field_name or None,
        recurring=bool(metric.recurring),
        rounding_function=metric.rounding_function or None,
        rounding_precision=metric.rounding_precision,
        filter_keys=keys,
    )


def live_charge_filters(charge: Charge) -> list[ChargeFilter]:
    cached = getattr(charge, "_live_filters", None)
    if cached is None:
        cached = [f for f in charge.filters.all() if f.deleted_at is None]
        cached.sort(key=lambda f: (f.created_at, str(f.id)))
        charge._live_filters = cached
    return cached


def _priced(
    charge: Charge,
    properties: dict,
    usage: BucketUsage | AggregationResult,
    currency: str,
    *,
    charge_filter: ChargeFilter | None,
    filter_values: dict[str, list[str]] | None,
    grouped_by: dict[str, Any],
    is_default: bool = False,
) -> ChargeBucket:
    pricing_usage: Usage = usage.as_usage()
    prorated = pricing_usage.full_units is not None
    result = price(charge.charge_model, properties, pricing_usage, currency=currency, prorated=prorated)
    return ChargeBucket(
        charge=charge,
        charge_filter=charge_filter,
        filter_values=filter_values,
        grouped_by=grouped_by,
        units=result.units,
        # Lago's: the units, except a weighted sum's level at the window's end.
        total_aggregated_units=usage.units if usage.total_aggregated_units is None else usage.total_aggregated_units,
        events_count=usage.events_count,
        amount=result.amount,
        amount_cents=to_cents(result.amount, currency),
        unit_amount=result.unit_amount,
        breakdown=list(result.breakdown),
        is_default_bucket=is_default,
        full_units=pricing_usage.full_units if prorated else None,
    )


PRORATED_MODELS = ("standard", "volume", "graduated")


def is_prorated(charge: Charge) -> bool:
    """A charge priced with prorated units (§5.4): the flag, on a recurring sum/unique-count metric,
    with a model that can be prorated (the catalog refuses the flag elsewhere; old rows are priced
    unprorated rather than failing)."""
    metric = charge.billable_metric
    return (
        bool(charge.prorated)
        and bool(metric.recurring)
        and metric.aggregation_type in ("sum_agg", "unique_count_agg")
        and charge.charge_model in PRORATED_MODELS
    )


def usage_started_at(subscription: Any, charge: Charge) -> datetime | None:
    """No event dated before this counts in a charge's usage: for a recurring metric the subscription
    chain's initial start (`subscriptions.selectors.initial_started_at`: its value carries across
    plan changes, as Lago's), else the row's own start (metered windows start at or after it)."""
    if charge.billable_metric.recurring:
        return initial_started_at(subscription)
    return subscription.started_at


def _schedule_of(organization: Organization, external_subscription_id: str, started_at: datetime | None) -> Any:
    """The schedule of the latest row of the subscription (`started_at` is the chain's initial
    start) when a caller did not pass it (one query, prorated charges only)."""
    rows = Subscription.objects.filter(
        organization=organization, external_id=external_subscription_id, started_at__isnull=False
    )
    if started_at is not None:
        rows = rows.filter(started_at__gte=started_at)
    sub = (
        rows.select_related("plan", "customer__organization", "organization")
        .order_by("-started_at", "-created_at")
        .first()
    )
    return schedule_for(sub) if sub is not None else None


def _carried_days(schedule: periods.Schedule, window: periods.Window) -> int | None:
    """A window closed by a plan change (upgrade): the carried units leave out the change's day, as
    the base fee does (`Schedule.service_end`); None otherwise (the window's days)."""
    ended = schedule.terminated_at
    if not schedule.replaced or ended is None or window.end != ended:
        return None
    return periods.days_between(window.start, periods.start_of_day(ended, schedule.tz_name), schedule.tz_name)


def prorated_period_days(schedule: periods.Schedule, window: periods.Window) -> int:
    """Local days of the full charges period holding `window`: the proration denominator, and a
    weighted sum's period (days × 86,400 seconds) even when `window` is only part of it."""
    full = schedule.charges_cadence.window_at(window.start)
    return periods.days_between(full.start, full.end, schedule.tz_name)


def price_charge(
    organization: Organization,
    *,
    external_subscription_id: str,
    charge: Charge,
    window: periods.Window,
    started_at: datetime | None,
    currency: str,
    schedule: periods.Schedule | None = None,
    usage: AggregationResult | None = None,
    prorate: bool = True,
) -> list[ChargeBucket]:
    """Aggregate a charge's usage over `window` and price every bucket (filters, groups).

    `started_at`: no event dated before it counts (`usage_started_at`: the subscription chain's
    initial start for recurring metrics, so their value carries across plan changes).

    A prorated charge (`is_prorated`) is aggregated with `aggregate_prorated` over the days of the
    full charges period of `schedule` (looked up when not given) and priced with `prorated=True`;
    `prorate=False` prices it in full (a recurring pay-in-advance charge at its period's start).
    A weighted sum divides by the days of that full charges period too (`aggregate`'s
    `charges_period_days`), however much of it `window` covers.
    """
    filters = live_charge_filters(charge)
    grouped_by = tuple(charge.pricing_group_keys or ())
    prorated = prorate and is_prorated(charge)
    weighted = charge.billable_metric.aggregation_type == "weighted_sum_agg"
    if prorated or weighted:
        schedule = schedule or _schedule_of(organization, external_subscription_id, started_at)
    if prorated and schedule is not None:
        result = aggregate_prorated(
            organization,
            external_subscription_id=external_subscription_id,
            metric=metric_spec_for(charge),
            from_datetime=window.start,
            to_datetime=window.end,
            period_days=prorated_period_days(schedule, window),
            tz_name=schedule.tz_name,
            filters=[(f.id, f.values) for f in filters],
            grouped_by=grouped_by,
            subscription_started_at=started_at,
            carried_days=_carried_days(schedule, window),
        )
    else:  # `usage`: already read in bulk by a billing batch (metering.bulk, same answer as aggregate)
        result = (
            usage
            if usage is not None
            else aggregate(
                organization,
                external_subscription_id=external_subscription_id,
                metric=metric_spec_for(charge),
                from_datetime=window.start,
                to_datetime=window.end,
                filters=[(f.id, f.values) for f in filters],
                grouped_by=grouped_by,
                subscription_started_at=started_at,
                with_event_values=charge.charge_model == "percentage",
                # A weighted sum divides by the whole charges period, also for a partial window.
                charges_period_days=(
                    prorated_period_days(schedule, window) if weighted and schedule is not None else None
                ),
            )
        )
    properties = charge.properties or {}
    if not filters:
        if grouped_by and result.groups:
            return [
                _priced(
                    charge,
                    properties,
                    g,
                    currency,
                    charge_filter=None,
                    filter_values=None,
                    grouped_by=dict(g.grouped_by),
                )
                for g in result.groups
            ]
        return [_priced(charge, properties, result, currency, charge_filter=None, filter_values=None, grouped_by={})]
    by_id = {f.id: f for f in filters}
    buckets: list[ChargeBucket] = []
    for bucket in result.filters:
        charge_filter = by_id.get(bucket.filter_id)
        props = (charge_filter.properties if charge_filter is not None else properties) or {}
        values = {k: list(v) for k, v in bucket.values.items()} if charge_filter is not None else None
        if grouped_by and bucket.groups:
            for group in bucket.groups:
                buckets.append(
                    _priced(
                        charge, props, group, currency, charge_filter=charge_filter, filter_values=values,
                        grouped_by=dict(group.grouped_by), is_default=charge_filter is None,
                    )
                )  # fmt: skip
        else:
            buckets.append(
                _priced(
                    charge, props, bucket.usage, currency, charge_filter=charge_filter, filter_values=values,
                    grouped_by={}, is_default=charge_filter is None,
                )
            )  # fmt: skip
    return buckets


def precise_cents(amount: Decimal, currency: str) -> Decimal:
    return (amount.scaleb(exponent(currency))).quantize(PRECISE_QUANTUM)


def charge_fee(
    bucket: ChargeBucket,
    *,
    subscription: Any,
    currency: str,
    window: periods.Window,
) -> Fee:
    charge = bucket.charge
    name = charge.invoice_display_name or charge.billable_metric.name
    if bucket.charge_filter is not None and bucket.charge_filter.invoice_display_name:
        name = bucket.charge_filter.invoice_display_name
    unit_amount_cents = to_cents(bucket.unit_amount, currency) if bucket.units else 0
    return Fee(
        organization_id=subscription.organization_id,
        customer_id=subscription.customer_id,
        subscription=subscription,
        charge=charge,
        charge_filter=bucket.charge_filter,
        fee_type=FeeType.CHARGE,
        invoice_display_name=name,
        currency=currency,
        units=bucket.units,
        total_aggregated_units=bucket.total_aggregated_units,
        events_count=bucket.events_count,
        unit_amount_cents=unit_amount_cents,
        precise_unit_amount=bucket.unit_amount.quantize(Decimal("0.0000000001")),
        amount_cents=bucket.amount_cents,
        precise_amount_cents=precise_cents(bucket.amount, currency),
        grouped_by=plain(bucket.grouped_by),
        properties={
            "charges_from_datetime": window.start.isoformat(),
            "charges_to_datetime": window.end.isoformat(),
            "filter_values": bucket.filter_values,
        },
        amount_details=_charge_amount_details(bucket),
        pay_in_advance=charge.pay_in_advance,
        invoiceable=charge.invoiceable,
    )


def _charge_amount_details(bucket: ChargeBucket) -> dict[str, Any]:
    details: dict[str, Any] = {"charge_model": bucket.charge.charge_model, "breakdown": plain(bucket.breakdown)}
    if bucket.full_units is not None:
        details["prorated"] = True
        details["full_units"] = plain(bucket.full_units)
    return details


def true_up_fee(
    parent: Fee, *, charge: Charge, amount_cents: int, subscription: Any, currency: str, window: periods.Window
) -> Fee:
    return Fee(
        organization_id=subscription.organization_id,
        customer_id=subscription.customer_id,
        subscription=subscription,
        charge=charge,
        true_up_parent_fee=parent,
        fee_type=FeeType.CHARGE,
        invoice_display_name=f"{charge.invoice_display_name or charge.billable_metric.name} - true-up",
        currency=currency,
        units=Decimal(1),
        total_aggregated_units=Decimal(1),
        unit_amount_cents=amount_cents,
        precise_unit_amount=Decimal(amount_cents).scaleb(-exponent(currency)),
        amount_cents=amount_cents,
        precise_amount_cents=Decimal(amount_cents),
        properties={
            "charges_from_datetime": window.start.isoformat(),
            "charges_to_datetime": window.end.isoformat(),
            "true_up": True,
        },
        amount_details={"spending_minimum_cents": charge.min_amount_cents},
    )


def charge_true_up_cents(charge: Charge, fees: list[Fee], schedule: periods.Schedule, window: periods.Window) -> int:
    """Spending minimum (docs/billing-semantics.md §2.10): prorated by days when the charges window is cut short."""
    if not charge.min_amount_cents or charge.pay_in_advance:
        return 0
    full = schedule.charges_cadence.window_at(window.start)
    period_days = periods.days_between(full.start, full.end, schedule.tz_name)
    days = periods.days_between(window.start, window.end, schedule.tz_name)
    return spending_minimum_true_up_cents(
        min_amount_cents=int(charge.min_amount_cents),
        used_amount_cents=sum(f.amount_cents for f in fees),
        period_days=period_days,
        days_used=min(days, period_days),
    )


def subscription_fee(
    subscription: Any,
    *,
    plan: Any,
    fraction: Fraction,
    service: periods.Window,
    full: periods.Window,
    currency: str,
) -> Fee:
    """The base fee of a (possibly partial) period: round(days × amount / period days), once."""
    prorated = prorate_by_fraction(int(plan.amount_cents), fraction)
    amount_cents = prorated.amount_cents
    precise = prorated.precise_amount_cents
    return Fee(
        organization_id=subscription.organization_id,
        customer_id=subscription.customer_id,
        subscription=subscription,
        fee_type=FeeType.SUBSCRIPTION,
        invoice_display_name=plan.invoice_display_name or plan.name,
        currency=currency,
        units=Decimal(1),
        total_aggregated_units=Decimal(1),
        unit_amount_cents=amount_cents,
        precise_unit_amount=Decimal(amount_cents).scaleb(-exponent(currency)),
        amount_cents=amount_cents,
        precise_amount_cents=Decimal(precise).quantize(PRECISE_QUANTUM),
        properties={
            "from_datetime": service.start.isoformat(),
            "to_datetime": service.end.isoformat(),
            "period_from_datetime": full.start.isoformat(),
            "period_to_datetime": full.end.isoformat(),
            "proration": f"{fraction.numerator}/{fraction.denominator}",
        },
        amount_details={"plan_amount_cents": int(plan.amount_cents)},
        pay_in_advance=bool(plan.pay_in_advance),
    )


def commitment_fee(
    subscription: Any, *, commitment: Any, amount_cents: int, currency: str, service: periods.Window
) -> Fee:
    return Fee(
        organization_id=subscription.organization_id,
        customer_id=subscription.customer_id,
        subscription=subscription,
        commitment=commitment,
        fee_type=FeeType.COMMITMENT,
        invoice_display_name=commitment.invoice_display_name or "Minimum commitment - true-up",
        currency=currency,
        units=Decimal(1),
        total_aggregated_units=Decimal(1),
        unit_amount_cents=amount_cents,
        precise_unit_amount=Decimal(amount_cents).scaleb(-exponent(currency)),
        amount_cents=amount_cents,
        precise_amount_cents=Decimal(amount_cents),
        properties={"from_datetime": service.start.isoformat(), "to_datetime": service.end.isoformat()},
        amount_details={"commitment_amount_cents": int(commitment.amount_cents)},
    )


def period_charge_fees_cents(subscription: Any, period: periods.Window) -> int:
    """Charge fees of `subscription` already saved for usage inside `period` (minimum commitment, §5.8).

    Lago measures the commitment on every charge fee of the commitment period, not only those of the
    invoice that closes it: with `bill_charges_monthly` the earlier monthly invoices' charge fees,
    and the pay-in-advance fees of the period (with or without invoice). Fees of voided invoices do
    not count. The caller adds the fees it is building (not saved yet).
    """
    from invoicing.models import InvoiceStatus

    rows = (
        Fee.objects.filter(subscription=subscription, fee_type=FeeType.CHARGE, created_at__gte=period.start)
        .exclude(invoice__status__in=[InvoiceStatus.VOIDED, InvoiceStatus.CLOSED])
        .values_list("amount_cents", "properties")
    )
    total = 0
    for amount_cents, properties in rows:
        start = (properties or {}).get("charges_from_datetime")
        end = (properties or {}).get("charges_to_datetime")
        if not start or not end:
            continue
        if datetime.fromisoformat(start) >= period.start and datetime.fromisoformat(end) <= period.end:
            total += int(amount_cents)
    return total


def advance_recurring_fees(subscription: Any, *, charge: Charge, opening: periods.Window, currency: str) -> list[Fee]:
    """A recurring pay-in-advance charge at the start of a period (Lago): the units carried into the
    period opening now, billed in full and in advance on the periodic invoice (its events in the
    period are then billed one by one, `advance.py`). Buckets with nothing carried give no fee."""
    buckets = price_charge(
        subscription.organization,
        external_subscription_id=subscription.external_id,
        charge=charge,
        window=periods.Window(opening.start, opening.start),  # nothing of the new period yet: the carried units
        started_at=usage_started_at(subscription, charge),
        currency=currency,
        prorate=False,
    )
    fees = []
    for bucket in buckets:
        if bucket.units == 0:
            continue
        fee = charge_fee(bucket, subscription=subscription, currency=currency, window=opening)
        fee.pay_in_advance = False  # billed with the period, not by an event (Lago's fee flag)
        fee.properties["in_advance_periodic"] = True
        fees.append(fee)
    return fees
