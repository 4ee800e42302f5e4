"""Pricing a charge over a window: its usage (aggregated here, or read in bulk by the batch) priced
bucket by bucket (the whole charge, each filter and the default bucket, each group).

    price_charge(organization, *, external_subscription_id, charge: ChargeSnapshot, window, ...) -> [ChargeBucket]

The same pricing serves the billing run, current usage and progressive billing, so they cannot
disagree. What it reads of the catalog comes in the `ChargeSnapshot` (`snapshot.py`); nothing is
cached anywhere else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from billing_project.core.money import exponent, to_cents
from catalog.models import Charge, ChargeFilter
from catalog.pricing import Usage, price
from customers.models import Organization
from invoicing.billing.snapshot import ChargeSnapshot
from metering.aggregation import AggregationResult, BucketUsage, aggregate, aggregate_prorated
from metering.bulk import UsageRequest, handled_in_bulk
from subscriptions import periods
from subscriptions.models import Subscription
from subscriptions.selectors import ChainStarts, schedule_for

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
    checked: bool = False,
) -> ChargeBucket:
    pricing_usage: Usage = usage.as_usage()
    prorated = pricing_usage.full_units is not None
    result = price(
        charge.charge_model, properties, pricing_usage, currency=currency, prorated=prorated, checked=checked
    )
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


def usage_started_at(subscription: Any, charge: Charge, starts: ChainStarts) -> datetime | None:
    """No event dated before this counts in a charge's usage: for a recurring metric the subscription
    chain's initial start (`starts`, `subscriptions.selectors.ChainStarts`: its value carries across
    plan changes, as Lago's), else the row's own start (metered windows start at or after it)."""
    if charge.billable_metric.recurring:
        return starts.of(subscription)
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
    charge: ChargeSnapshot,
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
    snapshot = charge
    row: Charge = snapshot.charge
    filters = snapshot.filters
    grouped_by = tuple(row.pricing_group_keys or ())
    prorated = prorate and is_prorated(row)
    weighted = row.billable_metric.aggregation_type == "weighted_sum_agg"
    if prorated or weighted:
        schedule = schedule or _schedule_of(organization, external_subscription_id, started_at)
    if prorated and schedule is not None:
        result = aggregate_prorated(
            organization,
            external_subscription_id=external_subscription_id,
            metric=snapshot.metric,
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
                metric=snapshot.metric,
                from_datetime=window.start,
                to_datetime=window.end,
                filters=[(f.id, f.values) for f in filters],
                grouped_by=grouped_by,
                subscription_started_at=started_at,
                with_event_values=row.charge_model == "percentage",
                # A weighted sum divides by the whole charges period, also for a partial window.
                charges_period_days=(
                    prorated_period_days(schedule, window) if weighted and schedule is not None else None
                ),
            )
        )
    properties = row.properties or {}
    if not filters:
        if grouped_by and result.groups:
            return [
                _priced(
                    row,
                    properties,
                    g,
                    currency,
                    charge_filter=None,
                    filter_values=None,
                    checked=snapshot.checked,
                    grouped_by=dict(g.grouped_by),
                )
                for g in result.groups
            ]
        return [
            _priced(
                row, properties, result, currency, charge_filter=None, filter_values=None, grouped_by={},
                checked=snapshot.checked,
            )
        ]  # fmt: skip
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
                        row, props, group, currency, charge_filter=charge_filter, filter_values=values,
                        grouped_by=dict(group.grouped_by), is_default=charge_filter is None,
                        checked=snapshot.checked,
                    )
                )  # fmt: skip
        else:
            buckets.append(
                _priced(
                    row, props, bucket.usage, currency, charge_filter=charge_filter, filter_values=values,
                    grouped_by={}, is_default=charge_filter is None, checked=snapshot.checked,
                )
            )  # fmt: skip
    return buckets


def usage_request(
    subscription: Any, charge: ChargeSnapshot, window: periods.Window, starts: ChainStarts
) -> UsageRequest | None:
    """What `price_charge` would aggregate for `charge` over `window`, as a request `metering.bulk`
    answers for many at once; None when the bulk read does not answer it (a prorated charge, a
    metric it does not handle): `price_charge` aggregates it itself."""
    if is_prorated(charge.charge):
        return None
    request = UsageRequest(
        external_subscription_id=subscription.external_id,
        metric=charge.metric,
        from_datetime=window.start,
        to_datetime=window.end,
        subscription_started_at=usage_started_at(subscription, charge.charge, starts),
        filters=tuple((f.id, f.values) for f in charge.filters),
        grouped_by=tuple(charge.charge.pricing_group_keys or ()),
        with_event_values=charge.charge.charge_model == "percentage",
    )
    return request if handled_in_bulk(request) else None


def precise_cents(amount: Decimal, currency: str) -> Decimal:
    return (amount.scaleb(exponent(currency))).quantize(PRECISE_QUANTUM)
