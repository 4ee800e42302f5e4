"""`POST /events/estimate_fees`: the instant fee a hypothetical event would cost (persists nothing).

For each pay-in-advance charge of the subscription's plan on the event's metric, the fee is
`price(period usage with the event) − price(period usage without it)` (lago-semantics.md §5.3,
`catalog.pricing.price_in_advance`). The event is written inside a savepoint to aggregate exactly
as billing would, then rolled back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction

from billing_project.core.errors import NotFoundFailure, ValidationFailure
from billing_project.core.money import to_cents
from catalog.models import BillableMetric, Charge
from catalog.pricing import Usage, price_in_advance
from customers.models import Organization
from metering import computations, ingestion
from metering.aggregation import aggregate
from metering.extensions import charges_period, lookup_subscriptions


class _Rollback(Exception):
    pass


@dataclass(frozen=True)
class FeeEstimate:
    charge: Any
    charge_filter: Any
    units: Any
    amount_cents: int
    currency: str
    precise_amount: Any
    event: Any
    from_datetime: Any
    to_datetime: Any


def _bucket_usage(result: Any, filter_id: Any) -> Usage:
    if filter_id is None and not result.filters:
        return result.as_usage()
    for bucket in result.filters:
        if bucket.filter_id == filter_id:
            return bucket.usage.as_usage()
    return Usage(units=computations.ZERO)


def events_estimate_fees(organization: Organization, payload: Any) -> list[FeeEstimate]:
    from metering import services

    event, errors = ingestion.parse_event(0, payload, ingestion.now_utc())
    if errors:
        raise ValidationFailure(errors)
    assert event is not None
    ref = lookup_subscriptions(organization, [event.external_subscription_id]).get(event.external_subscription_id)
    if ref is None:
        raise NotFoundFailure("subscription")
    metric = BillableMetric.live.filter(organization=organization, code=event.code).first()
    if metric is None:
        raise NotFoundFailure("billable_metric")
    charges = list(
        Charge.live.filter(plan_id=ref.plan_id, billable_metric=metric, pay_in_advance=True).select_related("plan")
    )
    if not charges:
        raise ValidationFailure.single("code", "does_not_match_an_instant_charge")
    info = services.metrics_by_code(organization, [metric.code]).get(metric.code)
    services.enrich(event, info)
    period_from, period_to = charges_period(organization, ref, event.timestamp)
    event.transaction_id = f"__estimate__{event.transaction_id}"

    estimates: list[FeeEstimate] = []
    plans = []
    for charge in charges:
        filters = list(charge.filters.filter(deleted_at__isnull=True).order_by("created_at", "id"))
        plans.append((charge, filters))

    def usage_now() -> list[Any]:
        return [
            aggregate(
                organization,
                external_subscription_id=event.external_subscription_id,
                metric=metric,
                from_datetime=period_from,
                to_datetime=period_to,
                filters=filters,
                subscription_started_at=ref.started_at,
                with_event_values=True,
                store="postgres",
            )
            for _, filters in plans
        ]

    before = usage_now()
    try:
        with transaction.atomic():
            ingestion.insert_events(organization.id, [event], ingestion.now_utc())
            after = usage_now()
            raise _Rollback
    except _Rollback:
        pass
    props = {k: computations.text_of(v) for k, v in event.properties.items()}
    for (charge, filters), was, now in zip(plans, before, after, strict=True):
        bucket = computations.assign_filter([(f.id, f.values) for f in filters], props) if filters else None
        charge_filter = next((f for f in filters if f.id == bucket), None)
        properties = charge_filter.properties if charge_filter is not None else charge.properties
        currency = charge.plan.amount_currency
        result = price_in_advance(
            charge.charge_model,
            properties,
            before=_bucket_usage(was, bucket),
            after=_bucket_usage(now, bucket),
            currency=currency,
        )
        estimates.append(
            FeeEstimate(
                charge=charge,
                charge_filter=charge_filter,
                units=result.units,
                amount_cents=to_cents(result.amount, currency),
                currency=currency,
                precise_amount=result.amount,
                event=event,
                from_datetime=period_from,
                to_datetime=period_to,
            )
        )
    return estimates
