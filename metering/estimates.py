"""Fee estimates of hypothetical events (persist nothing; docs/metering.md, "Fee estimates").

* `POST /events/estimate_fees` (`events_estimate_fees`): for each pay-in-advance charge of the
  subscription's plan on the event's metric, the instant fee the event would get now:
  `price(usage with the event) − price(usage before it)` (docs/billing-semantics.md §2.8,
  `catalog.pricing.price_in_advance`) against the usage of its own bucket (charge filter, pricing
  group) from the events of the subscription's real charges period up to its timestamp (the
  subscriptions app's `subscriptions.selectors.charges_period_of_ref`: interval, calendar or
  anniversary billing, the customer's timezone), with the running usage billing uses
  (`metering.running`: a unique count's peak, docs/invoicing.md §7). Nothing is written. Not
  prorated (a prorated charge's estimate is its full price).
* `POST /events/estimate_instant_fees` and `/events/batch_estimate_instant_fees`
  (`events_estimate_instant_fees`, `events_batch_estimate_instant_fees`): Lago's quick estimate of
  one event on its own, for pay-in-advance `standard` and `percentage` charges, without reading
  the period's usage (`catalog.pricing.price_instant`).

A missing `transaction_id` is generated (a UUID), as Lago does. Taxes are applied as on the instant
fee's invoice (docs/billing-semantics.md §6.2, `catalog.selectors.fee_taxes`): the charge's
taxes, else the plan's, else the customer's, else the organization's defaults. Each tax row is
`amount_cents × rate / 100`; the fee's `taxes_amount_cents` is their unrounded sum rounded once
(half-up), as invoicing does.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from billing_project.core.errors import NotFoundFailure, ValidationFailure
from billing_project.core.found import found
from billing_project.core.money import round_cents, to_cents
from catalog.models import BillableMetric, Charge, Tax
from catalog.pricing import INSTANT_MODELS, PricingResult, apply_metric_rounding, price_in_advance, price_instant
from catalog.selectors import fee_taxes, organization_taxes
from customers.models import Customer, Organization
from metering import computations, ingestion
from metering.aggregation import normalize_filters
from metering.models import EventErrorCode
from metering.running import RunningUsage, Step, keys_of
from metering.selectors import event_rows
from subscriptions import selectors as subscription_selectors
from subscriptions.selectors import SubscriptionRef

# Events of one batch estimate, at most (as many as `POST /events/batch` takes).
BATCH_ESTIMATE_LIMIT = 100

_INVALID_VALUE = {EventErrorCode.INVALID_AGGREGATION_PROPERTY, EventErrorCode.EXPRESSION_FAILED}


@dataclass(frozen=True)
class TaxLine:
    tax: Tax
    amount_cents: int  # this tax alone, rounded half-up (display); the fee total rounds the sum once


@dataclass(frozen=True)
class FeeEstimate:
    """An unsaved pay-in-advance fee (rendered in Lago's fee shape, `lago_id` null)."""

    charge: Charge
    charge_filter: Any
    subscription: SubscriptionRef
    external_customer_id: str | None
    transaction_id: str
    units: Decimal  # the event's units
    total_aggregated_units: Decimal  # the period's units with the event (the event's own, instant)
    unit_amount: Decimal  # major units per unit, unrounded
    amount_cents: int
    precise_amount: Decimal  # major units, unrounded
    currency: str
    from_datetime: datetime | None  # the charges period (None for instant estimates)
    to_datetime: datetime | None
    taxes: tuple[TaxLine, ...] = ()
    taxes_amount_cents: int = 0
    taxes_precise_amount_cents: Decimal = Decimal(0)
    taxes_rate: Decimal = Decimal(0)
    grouped_by: dict[str, Any] = field(default_factory=dict)  # the event's pricing group values

    @property
    def total_amount_cents(self) -> int:
        return self.amount_cents + self.taxes_amount_cents


HUNDRED = Decimal(100)


def _charge_taxes(organization: Organization, customer: Customer | None, charge: Any) -> list[Tax]:
    """The taxes an instant fee of this charge takes (docs/billing-semantics.md §6.2)."""
    if customer is not None:
        return fee_taxes(organization, customer=customer, plan=charge.plan, charge=charge)
    # A subscription whose customer is not in this organization's customers (a registered lookup
    # that knows subscriptions only): charge, plan, then the organization's defaults.
    for owner in (charge, charge.plan):
        taxes = list(owner.taxes.all().order_by("code"))
        if taxes:
            return taxes
    return organization_taxes(organization)


def _with_taxes(amount_cents: int, taxes: list[Tax]) -> tuple[tuple[TaxLine, ...], int, Decimal, Decimal]:
    """(lines, taxes_amount_cents, unrounded taxes in cents, summed rate)."""
    unrounded = Decimal(0)
    lines = []
    for tax in taxes:
        amount = Decimal(amount_cents) * tax.rate / HUNDRED
        unrounded += amount
        lines.append(TaxLine(tax=tax, amount_cents=round_cents(amount)))
    return tuple(lines), round_cents(unrounded), unrounded, sum((t.rate for t in taxes), Decimal(0))


def _parse(index: int, payload: Any) -> ingestion.ParsedEvent:
    """One event of an estimate: validated like an ingested one, `transaction_id` generated when
    absent (Lago)."""
    if isinstance(payload, Mapping) and payload.get("transaction_id") in (None, ""):
        payload = {**payload, "transaction_id": str(uuid.uuid4())}
    event, errors = ingestion.parse_event(index, payload, ingestion.now_utc())
    if errors:
        raise ValidationFailure(errors)
    assert event is not None
    return event


def _subscription(organization: Organization, external_subscription_id: str) -> SubscriptionRef:
    return found(
        subscription_selectors.subscription_refs(organization, [external_subscription_id]).get(
            external_subscription_id
        ),
        "subscription",
    )


def _customer(organization: Organization, ref: SubscriptionRef) -> Customer | None:
    return Customer.objects.filter(organization=organization, id=ref.customer_id).first()


def _filter_of(filters: Sequence[Any], event: ingestion.ParsedEvent) -> Any:
    if not filters:
        return None
    props = {k: computations.text_of(v) for k, v in event.properties.items()}
    bucket = computations.assign_filter([(f.id, f.values) for f in filters], props)
    return next((f for f in filters if f.id == bucket), None)


def _live_filters(charge: Charge) -> list[Any]:
    return list(charge.filters.filter(deleted_at__isnull=True).order_by("created_at", "id"))


@dataclass(frozen=True)
class _Estimator:
    """What the fee estimates of one subscription share: its organization, itself and its customer."""

    organization: Organization
    ref: SubscriptionRef
    customer: Customer | None

    def fee(
        self,
        charge: Charge,
        charge_filter: Any,
        event: ingestion.ParsedEvent,
        result: PricingResult,
        *,
        units: Decimal,
        total_aggregated_units: Decimal,
        period: tuple[datetime, datetime] | None,
        grouped_by: dict[str, Any] | None = None,
    ) -> FeeEstimate:
        """The estimate of `event`'s fee on `charge` (and `charge_filter`), priced as `result`."""
        currency = charge.plan.amount_currency
        amount_cents = to_cents(result.amount, currency)
        tax_lines, taxes_cents, taxes_precise, rate = _with_taxes(
            amount_cents, _charge_taxes(self.organization, self.customer, charge)
        )
        return FeeEstimate(
            charge=charge,
            charge_filter=charge_filter,
            subscription=self.ref,
            external_customer_id=self.customer.external_id if self.customer is not None else None,
            transaction_id=event.transaction_id,
            units=units,
            total_aggregated_units=total_aggregated_units,
            unit_amount=result.unit_amount,
            amount_cents=amount_cents,
            precise_amount=result.amount,
            currency=currency,
            from_datetime=period[0] if period else None,
            to_datetime=period[1] if period else None,
            taxes=tax_lines,
            taxes_amount_cents=taxes_cents,
            taxes_precise_amount_cents=taxes_precise,
            taxes_rate=rate,
            grouped_by=dict(grouped_by or {}),
        )


# --- estimate_fees: the exact fee over the period's usage -------------------------------------------


def events_estimate_fees(organization: Organization, payload: Any) -> list[FeeEstimate]:
    from metering import services

    event = _parse(0, payload)
    ref = _subscription(organization, event.external_subscription_id)
    metric = found(BillableMetric.live.filter(organization=organization, code=event.code).first(), "billable_metric")
    charges = list(
        Charge.live.filter(plan_id=ref.plan_id, billable_metric=metric, pay_in_advance=True).select_related("plan")
    )
    if not charges:
        raise ValidationFailure.single("code", "does_not_match_an_instant_charge")
    info = services.metrics_by_code(organization, [metric.code]).get(metric.code)
    services.enrich(event, info)
    period = subscription_selectors.charges_period_of_ref(organization, ref, event.timestamp)
    estimator = _Estimator(organization, ref, _customer(organization, ref))
    estimates: list[FeeEstimate] = []
    for charge in charges:
        filters = _live_filters(charge)
        step = _running_step(organization, ref, metric, charge, filters, event, period)
        charge_filter = next((f for f in filters if f.id == step.bucket[0]), None)
        properties = charge_filter.properties if charge_filter is not None else charge.properties
        result = price_in_advance(
            charge.charge_model,
            properties or {},
            before=step.before,
            after=step.after,
            currency=charge.plan.amount_currency,
        )
        grouped_by = dict(zip(charge.pricing_group_keys or (), step.bucket[1], strict=True))
        estimates.append(
            estimator.fee(
                charge,
                charge_filter,
                event,
                result,
                units=step.units,
                total_aggregated_units=step.after.units,
                period=period,
                grouped_by=grouped_by,
            )
        )
    return estimates


def _running_step(
    organization: Organization,
    ref: SubscriptionRef,
    metric: BillableMetric,
    charge: Charge,
    filters: Sequence[Any],
    event: ingestion.ParsedEvent,
    period: tuple[datetime, datetime],
) -> Step:
    """The event's step in the running usage of its bucket, as the instant fee would price it
    (`metering.running`, docs/invoicing.md §7): the period's events up to its timestamp, a
    recurring metric's values carried in from the subscription's start (a sum's total, a unique
    count's values present)."""
    charge_filters = normalize_filters([(f.id, f.values) for f in filters])
    grouped_by = tuple(charge.pricing_group_keys or ())
    keys = keys_of(metric.aggregation_type, field_name=metric.field_name, filters=charge_filters, grouped_by=grouped_by)

    def rows(start: datetime, end: datetime, *, include_end: bool = False) -> list[computations.Row]:
        found = event_rows(
            organization.id,
            external_subscription_id=ref.external_id,
            code=metric.code,
            start=start,
            end=end,
            keys=keys,
            include_end=include_end,
        )
        return [row for _, row in found]

    start = max(period[0], ref.started_at)
    initial = ref.initial_started_at or ref.started_at
    carried = (
        rows(initial, start)
        if metric.recurring and metric.aggregation_type in ("unique_count_agg", "sum_agg") and initial < start
        else []
    )
    running = RunningUsage(
        metric.aggregation_type,
        field_name=metric.field_name,
        filters=charge_filters,
        grouped_by=grouped_by,
        carried=carried,
        with_values=charge.charge_model == "percentage",
    )
    for row in rows(start, event.timestamp, include_end=True):
        running.skip(row)
    props = event.properties or {}
    return running.add(
        computations.Row(
            timestamp=event.timestamp,
            value=event.value,
            properties={key: computations.text_of(props.get(key)) for key in keys},
            transaction_id=event.transaction_id,
        )
    )


# --- estimate_instant_fees: one event on its own ------------------------------------------------


def events_estimate_instant_fees(organization: Organization, payload: Any) -> list[FeeEstimate]:
    """Lago's `estimate_instant_fees`: the event's fee on each pay-in-advance standard or
    percentage charge of its metric, priced on its own (`price_instant`)."""
    event = _parse(0, payload)
    return _instant_fees(organization, event.external_subscription_id, [event], by_code=True)


def events_batch_estimate_instant_fees(organization: Organization, payloads: Any) -> list[FeeEstimate]:
    """Lago's `batch_estimate_instant_fees`: every event's instant fees, events grouped by
    subscription in the order they come; an event whose metric has no such charge gives none,
    a subscription whose plan has no such charge at all is refused (422)."""
    if not isinstance(payloads, list) or not payloads:
        raise ValidationFailure.single("events", "value_is_invalid")
    if len(payloads) > BATCH_ESTIMATE_LIMIT:
        raise ValidationFailure.single("events", "too_many_events")
    events: list[ingestion.ParsedEvent] = []
    errors: dict[str, object] = {}
    for index, payload in enumerate(payloads):
        try:
            events.append(_parse(index, payload))
        except ValidationFailure as failure:
            for field, codes in failure.details.items():
                errors[f"events.{index}.{field}"] = codes
    if errors:
        raise ValidationFailure(errors)
    groups: dict[str, list[ingestion.ParsedEvent]] = {}
    for event in events:
        groups.setdefault(event.external_subscription_id, []).append(event)
    fees: list[FeeEstimate] = []
    for external_subscription_id, group in groups.items():
        fees.extend(_instant_fees(organization, external_subscription_id, group, by_code=False))
    return fees


def _instant_fees(
    organization: Organization, external_subscription_id: str, events: list[ingestion.ParsedEvent], *, by_code: bool
) -> list[FeeEstimate]:
    from metering import services

    ref = _subscription(organization, external_subscription_id)
    now = ingestion.now_utc()
    if ref.started_at > now or (ref.terminated_at is not None and ref.terminated_at < now):
        raise NotFoundFailure("subscription")  # Lago: the subscription active now
    charges = Charge.live.filter(
        plan_id=ref.plan_id, pay_in_advance=True, charge_model__in=sorted(INSTANT_MODELS)
    ).select_related("plan", "billable_metric")
    if by_code:
        charges = charges.filter(billable_metric__code__in={e.code for e in events})
    by_metric: dict[str, list[tuple[Charge, list[Any]]]] = {}
    for charge in charges.order_by("created_at", "id"):
        by_metric.setdefault(charge.billable_metric.code, []).append((charge, _live_filters(charge)))
    if not by_metric:
        raise ValidationFailure.single("code", "does_not_match_an_instant_charge")
    metrics = services.metrics_by_code(organization, list(by_metric))
    estimator = _Estimator(organization, ref, _customer(organization, ref))
    fees: list[FeeEstimate] = []
    for event in events:
        plans = by_metric.get(event.code)
        if not plans:
            continue
        metric = plans[0][0].billable_metric
        services.enrich(event, metrics.get(event.code))
        units = _event_units(metric, event)
        for charge, filters in plans:
            charge_filter = _filter_of(filters, event)
            properties = charge_filter.properties if charge_filter is not None else charge.properties
            result = price_instant(charge.charge_model, properties, units)
            fees.append(
                estimator.fee(
                    charge,
                    charge_filter,
                    event,
                    result,
                    units=result.units,
                    total_aggregated_units=result.units,
                    period=None,
                )
            )
    return fees


def _event_units(metric: BillableMetric, event: ingestion.ParsedEvent) -> Decimal:
    """The units one event brings on its own: 1 for a count; for a unique count 1 when it adds a
    value (0 when it removes one or has none); else its value (after the metric's expression),
    0 when absent; rounded as the metric says. A value that is not a number is refused (422)."""
    if metric.aggregation_type == "count_agg":
        units = Decimal(1)
    elif metric.aggregation_type == "unique_count_agg":
        present = event.properties.get(metric.field_name or "") not in (None, "")
        removes = event.properties.get("operation_type") == "remove"
        units = Decimal(1) if present and not removes else Decimal(0)
    else:
        if _INVALID_VALUE & set(event.errors):
            raise ValidationFailure.single(f"properties.{metric.field_name}", "value_is_invalid")
        units = event.value if event.value is not None else Decimal(0)
    return apply_metric_rounding(units, metric.rounding_function, metric.rounding_precision)
