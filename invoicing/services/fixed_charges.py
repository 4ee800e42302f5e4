"""An increase of a fixed charge paid in advance, billed at once (docs/billing-semantics.md §5.9).

    fixed_charge_increase_bill(subscription_id, fixed_charge_id, *, at, now=None) -> Invoice | None
    fixed_charge_units_change_preview(subscription, fixed_charge, *, units, at) -> UnitsChangePreview

The preview (the console shows it before a change of units is confirmed) builds the fees the same
functions would build, without writing: for a fixed charge paid in advance the increase billed at
once (the same `_increase_fee`), for one paid in arrears the fee of the period as it stands and as
it would be with the change.

The units already billed for the base period holding `at` (the fee of the period's start and the
increases billed since) are subtracted from the units now held; a positive difference is billed
on its own invoice — prorated over the days left, the change's day included, when the fixed
charge is prorated. A decrease bills and credits nothing (the next period bills the new count).
Safe to run twice: under the subscription's row lock, a second run finds the units billed.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone

from billing_project.core.money import to_cents
from catalog.models import FixedCharge
from invoicing.billing.fixed_charges import (
    UnitsChange,
    fixed_charge_fee,
    fixed_charge_price,
    held_units,
    increase_units,
    prorated_units,
    units_changes,
)
from invoicing.models import Fee, FeeType, Invoice, InvoiceStatus
from invoicing.services.advance import _instant_invoice
from invoicing.services.taxes import TaxResolver
from invoicing.services.totals import snapshots
from subscriptions import periods
from subscriptions.hooks import UnitsChangePreview
from subscriptions.models import Subscription
from subscriptions.selectors import schedule_for


def fixed_charge_increase_bill(
    subscription_id: Any, fixed_charge_id: Any, *, at: dt.datetime, now: dt.datetime | None = None
) -> Invoice | None:
    now = now or timezone.now()
    with transaction.atomic():
        sub = (
            Subscription.objects.select_for_update(of=("self",))
            .select_related("plan", "customer__organization", "organization")
            .filter(pk=subscription_id)
            .first()
        )
        fixed = FixedCharge.objects.select_related("add_on").filter(pk=fixed_charge_id).first()
        if sub is None or fixed is None or not fixed.pay_in_advance or fixed.plan_id != sub.plan_id:
            return None
        schedule = schedule_for(sub)
        if schedule is None:
            return None
        root = fixed.parent_id or fixed.id
        units = held_units(units_changes([sub.id]).get((sub.id, root), []), fixed.units, at)
        fee = _increase_fee(sub, fixed, schedule, units=units, at=at)
        if fee is None:
            return None
        resolver = TaxResolver(sub.organization, sub.customer)
        taxes = {fee.id: snapshots(resolver.fee_taxes(fee, plan=sub.plan))}
        return _instant_invoice(sub, fee, taxes, now=now)


def _currency(sub: Subscription) -> str:
    return sub.plan.amount_currency


def _increase_fee(
    sub: Subscription, fixed: FixedCharge, schedule: periods.Schedule, *, units: Decimal, at: dt.datetime
) -> Fee | None:
    """The fee billing at once what `units` held from `at` add to the units already billed for the
    fixed charges' period holding `at` (unsaved); None when they add nothing."""
    period = periods.fixed_charges_period_at(schedule, at)
    root = fixed.parent_id or fixed.id
    billed = (
        Fee.objects.filter(subscription=sub, fee_type=FeeType.FIXED_CHARGE)
        .filter(Q(fixed_charge_id=root) | Q(fixed_charge__parent_id=root))
        .filter(properties__fixed_charges_from_datetime=period.full.start.isoformat())
        .exclude(invoice__status=InvoiceStatus.VOIDED)
        .aggregate(total=Sum("units"))["total"]
    ) or Decimal(0)
    due = increase_units(
        held=units, billed=billed, at=at, full=period.full, tz_name=schedule.tz_name, prorated=fixed.prorated
    )
    if due is None:
        return None
    increase, priced, window = due
    return fixed_charge_fee(
        sub,
        fixed_charge=fixed,
        units=increase,
        priced_units=priced,
        window=window,
        full=period.full,
        currency=_currency(sub),
        extra={"timestamp": at.isoformat()},
    )


def fixed_charge_units_change_preview(
    subscription: Subscription, fixed_charge: FixedCharge, *, units: Decimal, at: dt.datetime
) -> UnitsChangePreview:
    """What changing the subscription's units of `fixed_charge` to `units` at `at` (at once) bills:
    paid in advance, the increase billed now (0 for a decrease: nothing is credited); paid in
    arrears, the fee of the current period before and after the change (billed at its end). Reads
    only; amounts before taxes, rounded as the fees are."""
    schedule = schedule_for(subscription)
    currency = _currency(subscription)
    root = fixed_charge.parent_id or fixed_charge.id
    changes = units_changes([subscription.id]).get((subscription.id, root), [])
    held = held_units(changes, fixed_charge.units, at)
    if schedule is None:
        return UnitsChangePreview(currency=currency, held_units=held, units=units)
    if fixed_charge.pay_in_advance:
        fee = _increase_fee(subscription, fixed_charge, schedule, units=units, at=at)
        return UnitsChangePreview(
            currency=currency,
            held_units=held,
            units=units,
            billed_now_cents=fee.amount_cents if fee is not None else 0,
            billed_now_units=fee.units if fee is not None else Decimal(0),
        )
    period = periods.fixed_charges_period_at(schedule, at)
    after = [*[c for c in changes if c.timestamp < at], UnitsChange(at, units)]
    before_cents = _arrears_cents(fixed_charge, changes, period, schedule, currency)
    after_cents = _arrears_cents(fixed_charge, after, period, schedule, currency)
    return UnitsChangePreview(
        currency=currency,
        held_units=held,
        units=units,
        period_fee_before_cents=before_cents,
        period_fee_after_cents=after_cents,
        period_end=period.full.end,
    )


def _arrears_cents(
    fixed: FixedCharge,
    changes: list[UnitsChange],
    period: periods.BillingPeriod,
    schedule: periods.Schedule,
    currency: str,
) -> int:
    window = period.service
    if fixed.prorated:
        priced = prorated_units(changes, fixed.units, window=window, full=period.full, tz_name=schedule.tz_name)
    else:
        priced = held_units(changes, fixed.units, max(window.start, window.end - periods.ONE_SECOND))
    return to_cents(fixed_charge_price(fixed, priced).amount, currency)
