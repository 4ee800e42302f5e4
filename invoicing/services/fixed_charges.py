"""An increase of a fixed charge paid in advance, billed at once (docs/billing-semantics.md §5.9).

    fixed_charge_increase_bill(subscription_id, fixed_charge_id, *, at, now=None) -> Invoice | None

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

from catalog.models import FixedCharge
from invoicing.billing.fixed_charges import fixed_charge_fee, held_units, increase_units, units_changes
from invoicing.models import Fee, FeeType, Invoice, InvoiceStatus
from invoicing.services.advance import _instant_invoice
from invoicing.services.taxes import TaxResolver
from invoicing.services.totals import snapshots
from subscriptions import periods
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
        period = periods.fixed_charges_period_at(schedule, at)
        root = fixed.parent_id or fixed.id
        units = held_units(units_changes([sub.id]).get((sub.id, root), []), fixed.units, at)
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
        currency = sub.customer.currency or sub.plan.amount_currency
        fee = fixed_charge_fee(
            sub,
            fixed_charge=fixed,
            units=increase,
            priced_units=priced,
            window=window,
            full=period.full,
            currency=currency,
            extra={"timestamp": at.isoformat()},
        )
        resolver = TaxResolver(sub.organization, sub.customer)
        taxes = {fee.id: snapshots(resolver.fee_taxes(fee, plan=sub.plan))}
        return _instant_invoice(sub, fee, taxes, now=now)
