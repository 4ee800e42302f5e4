"""The fees of a due item, as unsaved `Fee` rows (their UUIDs exist before saving, so the totals
are computed by `invoicing.calculation` and everything is written with bulk inserts).

    item_fees(item, *, plan: PlanSnapshot, schedule, currency, starts, usage=None) -> [Fee]
    fee_taxes(fees, resolver) -> (tax snapshots by fee id, plan id by fee id)

Base fee (prorated once), charge fees per bucket (`pricing.price_charge`), fixed charge fees
(`fixed_charges.item_fixed_charge_fees`), spending-minimum true-ups, recurring pay-in-advance charges carried into the opening period, and the minimum
commitment true-up (docs/billing-semantics.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any

from django.db.models import Q

from billing_project.core.money import exponent, to_cents
from catalog.models import Charge, Commitment
from catalog.pricing import spending_minimum_true_up_cents
from invoicing.billing.due import DueItem
from invoicing.billing.fixed_charges import UnitsChange, item_fixed_charge_fees, units_changes
from invoicing.billing.pricing import (
    PRECISE_QUANTUM,
    ChargeBucket,
    plain,
    precise_cents,
    price_charge,
    usage_started_at,
)
from invoicing.billing.snapshot import ChargeSnapshot, PlanSnapshot
from invoicing.calculation import prorate_by_fraction
from invoicing.models import HIDDEN_STATUSES, Fee, FeeType, InvoiceStatus, InvoicingReason
from invoicing.services.taxes import TaxResolver
from invoicing.services.totals import snapshots
from subscriptions import periods
from subscriptions.selectors import ChainStarts


def usage_key(item: DueItem, charge: ChargeSnapshot) -> tuple:
    """Key of a charge's usage over an item's window in a batch's bulk-read usage."""
    usage = item.usage_window
    return (item.subscription.id, charge.id, usage.start, usage.end)


def item_fees(
    item: DueItem,
    *,
    plan: PlanSnapshot,
    schedule: periods.Schedule,
    currency: str,
    starts: ChainStarts,
    usage: dict[tuple, Any] | None = None,
    fixed_units: Mapping[tuple[Any, Any], list[UnitsChange]] | None = None,
) -> list[Fee]:
    """The fees of one billing item. `starts`: the subscription chains' initial starts of the batch
    (recurring metrics count from there). `usage`: charges' usage already read in bulk (`usage_key`);
    a charge missing from it is aggregated here, as without it. `fixed_units`: the subscriptions'
    fixed charge quantities read in bulk (`units_changes`); read here when not given."""
    sub = item.subscription
    fees: list[Fee] = []
    fixed_fees: list[Fee] = []
    if plan.fixed_charges:
        if fixed_units is None:
            fixed_units = units_changes([sub.id])
        fixed_fees = item_fixed_charge_fees(item, plan=plan, schedule=schedule, currency=currency, changes=fixed_units)
    if item.base_fee:
        fees.append(
            subscription_fee(
                sub, plan=plan.plan, fraction=item.fraction, service=item.service, full=item.full, currency=currency
            )
        )
    charge_fees: list[Fee] = []
    usage_window = item.usage_window
    if usage_window.end > usage_window.start:
        for charge in plan.charges:
            if charge.charge.pay_in_advance:
                continue  # billed by the event (§5.3), not again at the period end
            buckets = price_charge(
                sub.organization,
                external_subscription_id=sub.external_id,
                charge=charge,
                window=usage_window,
                started_at=usage_started_at(sub, charge.charge, starts),
                currency=currency,
                schedule=schedule,
                usage=usage.get(usage_key(item, charge)) if usage else None,
            )
            these = [charge_fee(b, subscription=sub, currency=currency, window=usage_window) for b in buckets]
            charge_fees.extend(these)
            true_up = charge_true_up_cents(charge.charge, these, schedule, usage_window)
            if true_up > 0 and these:
                charge_fees.append(
                    true_up_fee(
                        these[0], charge=charge.charge, amount_cents=true_up, subscription=sub, currency=currency,
                        window=usage_window,
                    )
                )  # fmt: skip
    fees.extend(charge_fees)
    fees.extend(fixed_fees)
    if item.reason == InvoicingReason.SUBSCRIPTION_PERIODIC and usage_window.end > usage_window.start:
        fees.extend(_advance_recurring_fees(item, plan, schedule, currency, starts))
    if plan.commitment is not None and item.charges.end > item.charges.start:
        arrears = [f for f in fixed_fees if not f.pay_in_advance]
        fees.extend(_commitment_true_up(item, plan, schedule, plan.commitment, [*charge_fees, *arrears], currency))
    return fees


def _advance_recurring_fees(
    item: DueItem, plan: PlanSnapshot, schedule: periods.Schedule, currency: str, starts: ChainStarts
) -> list[Fee]:
    """Recurring pay-in-advance charges (invoiceable): the units carried into the period that opens,
    in full, on this invoice (`advance_recurring_fees`)."""
    charges = [
        c for c in plan.charges
        if c.charge.pay_in_advance and c.charge.invoiceable and c.metric.recurring
    ]  # fmt: skip
    if not charges:
        return []
    closing = item.usage_window
    opening = periods.charges_window_at(schedule, closing.end)
    if opening.start != closing.end or opening.end <= opening.start:
        return []  # the subscription ends with this window
    fees: list[Fee] = []
    for charge in charges:
        fees.extend(
            advance_recurring_fees(item.subscription, charge=charge, opening=opening, currency=currency, starts=starts)
        )
    return fees


def _commitment_true_up(
    item: DueItem,
    plan: PlanSnapshot,
    schedule: periods.Schedule,
    commitment: Commitment,
    charge_fees: list[Fee],
    currency: str,
) -> list[Fee]:
    """§5.8 for the base period the charges window closes (charges billed with the base period)."""
    sub = item.subscription
    closed = periods.period_at(schedule, item.charges.start)
    if closed.full.end != item.charges.end and item.reason != InvoicingReason.SUBSCRIPTION_TERMINATING:
        return []  # bill_charges_monthly: the commitment is checked when the base period closes
    fraction = periods.base_fee_fraction(schedule, closed)
    base_cents = prorate_by_fraction(int(plan.plan.amount_cents), fraction).amount_cents
    minimum = prorate_by_fraction(int(commitment.amount_cents), fraction).amount_cents
    # Every charge fee of the commitment period counts (Lago): the earlier monthly invoices' with
    # bill_charges_monthly and the period's pay-in-advance fees, plus this invoice's.
    used = base_cents + sum(f.amount_cents for f in charge_fees) + period_charge_fees_cents(sub, closed.full)
    if used >= minimum:
        return []
    return [
        commitment_fee(
            sub, commitment=commitment, amount_cents=minimum - used, currency=currency, service=closed.service
        )
    ]


def fee_taxes(fees: list[Fee], resolver: TaxResolver) -> tuple[dict, dict]:
    """The taxes of each fee (snapshots) and the plan each fee counts for (coupons limited to plans)."""
    taxes = {}
    plan_ids = {}
    for fee in fees:
        plan = fee.subscription.plan if fee.subscription_id else None
        taxes[fee.id] = snapshots(resolver.fee_taxes(fee, plan=plan))
        plan_ids[fee.id] = str(plan.parent_id or plan.id) if plan is not None else None
    return taxes, plan_ids


def charge_fee(
    bucket: ChargeBucket,
    *,
    subscription: Any,
    currency: str,
    window: periods.Window,
) -> Fee:
    charge = bucket.charge
    unit_amount_cents = to_cents(bucket.unit_amount, currency) if bucket.units else 0
    return Fee.of_subscription(
        subscription,
        charge=charge,
        charge_filter=bucket.charge_filter,
        fee_type=FeeType.CHARGE,
        invoice_display_name=Fee.charge_name(charge, bucket.charge_filter),
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


def _one_unit_fee(
    subscription: Any,
    *,
    currency: str,
    amount_cents: int,
    precise_amount_cents: Decimal | None = None,
    **fields: Any,
) -> Fee:
    """A fee of one unit at `amount_cents` (a true-up, a subscription fee, a commitment fee); its
    precise amount is `amount_cents` unless given."""
    return Fee.of_subscription(
        subscription,
        currency=currency,
        units=Decimal(1),
        total_aggregated_units=Decimal(1),
        unit_amount_cents=amount_cents,
        precise_unit_amount=Decimal(amount_cents).scaleb(-exponent(currency)),
        amount_cents=amount_cents,
        precise_amount_cents=Decimal(amount_cents) if precise_amount_cents is None else precise_amount_cents,
        **fields,
    )


def true_up_fee(
    parent: Fee, *, charge: Charge, amount_cents: int, subscription: Any, currency: str, window: periods.Window
) -> Fee:
    return _one_unit_fee(
        subscription,
        currency=currency,
        amount_cents=amount_cents,
        charge=charge,
        true_up_parent_fee=parent,
        fee_type=FeeType.CHARGE,
        invoice_display_name=f"{Fee.charge_name(charge)} - true-up",
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
    return _one_unit_fee(
        subscription,
        currency=currency,
        amount_cents=amount_cents,
        precise_amount_cents=Decimal(precise).quantize(PRECISE_QUANTUM),
        fee_type=FeeType.SUBSCRIPTION,
        invoice_display_name=plan.invoice_display_name or plan.name,
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
    return _one_unit_fee(
        subscription,
        currency=currency,
        amount_cents=amount_cents,
        commitment=commitment,
        fee_type=FeeType.COMMITMENT,
        invoice_display_name=commitment.invoice_display_name or "Minimum commitment - true-up",
        properties={"from_datetime": service.start.isoformat(), "to_datetime": service.end.isoformat()},
        amount_details={"commitment_amount_cents": int(commitment.amount_cents)},
    )


def period_charge_fees_cents(subscription: Any, period: periods.Window) -> int:
    """Charge fees of `subscription` already saved for usage inside `period` (minimum commitment, §5.8).

    Lago measures the commitment on every charge fee of the commitment period, not only those of the
    invoice that closes it: with `bill_charges_monthly` the earlier monthly invoices' charge fees,
    and the pay-in-advance fees of the period (with or without invoice). Fees of voided invoices do
    not count. The in-arrears fixed charge fees of the earlier months count too
    (`bill_fixed_charges_monthly`). The caller adds the fees it is building (not saved yet).
    """
    rows = (
        Fee.objects.filter(
            Q(fee_type=FeeType.CHARGE) | Q(fee_type=FeeType.FIXED_CHARGE, pay_in_advance=False),
            subscription=subscription,
            created_at__gte=period.start,
            deleted_at__isnull=True,
        )
        .exclude(invoice__status__in=[InvoiceStatus.VOIDED, *HIDDEN_STATUSES])
        .values_list("fee_type", "amount_cents", "properties")
    )
    total = 0
    for fee_type, amount_cents, properties in rows:
        prefix = "fixed_charges" if fee_type == FeeType.FIXED_CHARGE else "charges"
        start = (properties or {}).get(f"{prefix}_from_datetime")
        end = (properties or {}).get(f"{prefix}_to_datetime")
        if not start or not end:
            continue
        if datetime.fromisoformat(start) >= period.start and datetime.fromisoformat(end) <= period.end:
            total += int(amount_cents)
    return total


def advance_recurring_fees(
    subscription: Any, *, charge: ChargeSnapshot, opening: periods.Window, currency: str, starts: ChainStarts
) -> list[Fee]:
    """A recurring pay-in-advance charge at the start of a period (Lago): the units carried into the
    period opening now, billed in full and in advance on the periodic invoice (its events in the
    period are then billed one by one, `advance.py`). Buckets with nothing carried give no fee."""
    buckets = price_charge(
        subscription.organization,
        external_subscription_id=subscription.external_id,
        charge=charge,
        window=periods.Window(opening.start, opening.start),  # nothing of the new period yet: the carried units
        started_at=usage_started_at(subscription, charge.charge, starts),
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
