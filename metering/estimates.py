"""`POST /events/estimate_fees`: the instant fee a hypothetical event would cost (persists nothing).

For each pay-in-advance charge of the subscription's plan on the event's metric, the fee is
`price(period usage with the event) − price(period usage without it)` (lago-semantics.md §5.3,
`catalog.pricing.price_in_advance`). The event is written inside a savepoint to aggregate exactly
as billing would, then rolled back.

Taxes are applied as on the instant fee's invoice (lago-semantics.md §6.2, the precedence of
`catalog.selectors.fee_taxes`): the charge's taxes, else the plan's, else the customer's, else the
organization's defaults. Each tax row is `amount_cents × rate / 100`; the fee's
`taxes_amount_cents` is their unrounded sum rounded once (half-up), as invoicing does.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction

from billing_project.core.errors import NotFoundFailure, ValidationFailure
from billing_project.core.money import round_cents, to_cents
from catalog.models import BillableMetric, Charge, Tax
from catalog.pricing import Usage, price_in_advance
from catalog.selectors import fee_taxes, organization_taxes
from customers.models import Customer, Organization
from metering import computations, ingestion
from metering.aggregation import aggregate
from metering.extensions import charges_period, lookup_subscriptions


class _Rollback(Exception):
    pass


@dataclass(frozen=True)
class TaxLine:
    tax: Tax
    amount_cents: int  # this tax alone, rounded half-up (display); the fee total rounds the sum once


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
    taxes: tuple[TaxLine, ...] = ()
    taxes_amount_cents: int = 0
    taxes_rate: Decimal = Decimal(0)

    @property
    def total_amount_cents(self) -> int:
        return self.amount_cents + self.taxes_amount_cents


HUNDRED = Decimal(100)


def _charge_taxes(organization: Organization, customer: Customer | None, charge: Any) -> list[Tax]:
    """The taxes an instant fee of this charge takes (lago-semantics.md §6.2)."""
    if customer is not None:
        return fee_taxes(organization, customer=customer, plan=charge.plan, charge=charge)
    # A subscription whose customer is not in this organization's customers (a registered lookup
    # that knows subscriptions only): charge, plan, then the organization's defaults.
    for owner in (charge, charge.plan):
        taxes = list(owner.taxes.all().order_by("code"))
        if taxes:
            return taxes
    return organization_taxes(organization)


def _with_taxes(amount_cents: int, taxes: list[Tax]) -> tuple[tuple[TaxLine, ...], int, Decimal]:
    unrounded = Decimal(0)
    lines = []
    for tax in taxes:
        amount = Decimal(amount_cents) * tax.rate / HUNDRED
        unrounded += amount
        lines.append(TaxLine(tax=tax, amount_cents=round_cents(amount)))
    return tuple(lines), round_cents(unrounded), sum((t.rate for t in taxes), Decimal(0))


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
                subscription_started_at=ref.initial_started_at or ref.started_at,
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
    customer = Customer.objects.filter(organization=organization, id=ref.customer_id).first()
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
        amount_cents = to_cents(result.amount, currency)
        tax_lines, taxes_amount_cents, taxes_rate = _with_taxes(
            amount_cents, _charge_taxes(organization, customer, charge)
        )
        estimates.append(
            FeeEstimate(
                charge=charge,
                charge_filter=charge_filter,
                units=result.units,
                amount_cents=amount_cents,
                currency=currency,
                precise_amount=result.amount,
                event=event,
                from_datetime=period_from,
                to_datetime=period_to,
                taxes=tax_lines,
                taxes_amount_cents=taxes_amount_cents,
                taxes_rate=taxes_rate,
            )
        )
    return estimates
