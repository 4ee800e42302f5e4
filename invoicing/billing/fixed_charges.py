"""Fixed charge fees (docs/billing-semantics.md §5.9): a plan's add-on quantities, billed every period.

    held_units(changes, default, at) -> Decimal                       (pure)
    prorated_units(changes, default, window=, full=, tz_name=) -> Decimal   (pure)
    fixed_charge_price(fixed_charge, units) -> PricingResult           (pure)
    item_fixed_charge_fees(item, plan=, schedule=, currency=, changes=) -> [Fee]
    units_changes(subscription_ids) -> {(subscription id, fixed charge id): [UnitsChange]}  (one query)
    unused_share(window, terminated_at, tz_name, plan_change=) -> Fraction  (pure: a termination's credit)
    previous_paid_cents(subscription, fixed_charge, window) -> int     (an upgrade's deduction)
    deducted_by_next_plan(subscription, fee) -> bool                    (so not credited on termination)

A subscription's quantity of a fixed charge is a list of changes (`subscriptions.FixedChargeUnits`),
each holding from its timestamp until the next, recorded under the plan's fixed charge (the parent
of an override's copy); before the first, or without any, the fixed charge's own `units`. In arrears, the period that closes is billed: prorated, on the unit-days held
(each local day counts for the quantity held that day, over the days of the whole period);
otherwise on the quantity held at its end. In advance, the period that opens is billed on the
quantity held when it opens, prorated over the days left when the subscription starts inside it.
The model (standard, graduated, volume) prices those units; the amount is rounded once, by
`billing_project.core.money.to_cents`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

from billing_project.core.money import to_cents
from catalog import pricing
from catalog.models import FixedCharge
from invoicing.billing.due import DueItem
from invoicing.billing.pricing import plain, precise_cents
from invoicing.billing.snapshot import FixedChargeSnapshot, PlanSnapshot
from invoicing.models import Fee, FeeType, InvoiceStatus, InvoicingReason
from subscriptions import periods
from subscriptions.models import FixedChargeUnits, Subscription

ZERO = Decimal(0)
UNIT_QUANTUM = Decimal("0.0000000001")


@dataclass(frozen=True)
class UnitsChange:
    timestamp: datetime
    units: Decimal


def held_units(changes: Sequence[UnitsChange], default: Decimal, at: datetime) -> Decimal:
    """The quantity held at `at`: the last change at or before it (`changes` in time order)."""
    units = default
    for change in changes:
        if change.timestamp > at:
            break
        units = change.units
    return units


def prorated_units(
    changes: Sequence[UnitsChange], default: Decimal, *, window: periods.Window, full: periods.Window, tz_name: str
) -> Decimal:
    """Σ units × local days held inside `window` / local days of `full` (exact, not rounded).

    A change counts from the local day it happens on (that day is billed at the new quantity); the
    days of `window` are those of `full` the subscription was live for."""
    total_days = periods.days_between(full.start, full.end, tz_name)
    if total_days <= 0 or window.end <= window.start:
        return ZERO
    start_day = periods.local_date(window.start, tz_name)
    end_day = periods.local_date(window.end - periods.ONE_SECOND, tz_name)
    # The quantity of each local day of the window: the last change made on or before that day.
    points: list[tuple[Any, Decimal]] = [(start_day, held_units(changes, default, window.start))]
    for change in changes:
        day = periods.local_date(change.timestamp, tz_name)
        if start_day < day <= end_day:
            if points[-1][0] == day:
                points[-1] = (day, change.units)
            else:
                points.append((day, change.units))
    weighted = ZERO
    for index, (day, units) in enumerate(points):
        until = points[index + 1][0] if index + 1 < len(points) else end_day.fromordinal(end_day.toordinal() + 1)
        weighted += units * (until - day).days
    return weighted / total_days


def increase_units(
    *, held: Decimal, billed: Decimal, at: datetime, full: periods.Window, tz_name: str, prorated: bool
) -> tuple[Decimal, Decimal, periods.Window] | None:
    """An in-advance fixed charge whose units changed at `at` inside the period `full`: the units to
    bill now (`held − billed`), the units to price (prorated over the days left, `at`'s day included)
    and the days billed; None when nothing is to bill (no increase)."""
    increase = held - billed
    if increase <= 0:
        return None
    window = periods.Window(periods.start_of_day(at, tz_name), full.end)
    priced = increase
    if prorated:
        share = periods.proration(full, window, tz_name)
        priced = increase * share.numerator / share.denominator
    return increase, priced, window


def fixed_charge_price(fixed_charge: FixedCharge, units: Decimal, *, checked: bool = False) -> pricing.PricingResult:
    """`checked`: the properties passed `pricing.validate_properties` already (`FixedChargeSnapshot`)."""
    return pricing.price(
        fixed_charge.charge_model, fixed_charge.properties, pricing.Usage(units=units), checked=checked
    )


def fixed_charge_fee(
    subscription: Any,
    *,
    fixed_charge: FixedCharge,
    units: Decimal,
    priced_units: Decimal,
    window: periods.Window,
    full: periods.Window,
    currency: str,
    extra: Mapping[str, Any] | None = None,
    checked: bool = False,
) -> Fee:
    """One fixed charge fee: `priced_units` (prorated or not) priced by the model, rounded once;
    `units` the quantity shown (held, or billed by a change)."""
    result = fixed_charge_price(fixed_charge, priced_units, checked=checked)
    amount_cents = to_cents(result.amount, currency)
    unit_amount = (result.amount / units) if units else ZERO
    return Fee.of_subscription(
        subscription,
        fixed_charge=fixed_charge,
        fee_type=FeeType.FIXED_CHARGE,
        invoice_display_name=fixed_charge.invoice_display_name
        or fixed_charge.add_on.invoice_display_name
        or fixed_charge.add_on.name,
        currency=currency,
        units=units,
        total_aggregated_units=priced_units.quantize(UNIT_QUANTUM),
        unit_amount_cents=to_cents(unit_amount, currency),
        precise_unit_amount=unit_amount.quantize(UNIT_QUANTUM),
        amount_cents=amount_cents,
        precise_amount_cents=precise_cents(result.amount, currency),
        properties={
            "from_datetime": window.start.isoformat(),
            "to_datetime": window.end.isoformat(),
            "fixed_charges_from_datetime": full.start.isoformat(),
            "fixed_charges_to_datetime": full.end.isoformat(),
            **(extra or {}),
        },
        amount_details={"units": plain(priced_units), "breakdown": plain(list(result.breakdown))},
        pay_in_advance=fixed_charge.pay_in_advance,
    )


def units_changes(subscription_ids: Iterable[Any]) -> dict[tuple[Any, Any], list[UnitsChange]]:
    """The subscriptions' quantity changes by (subscription id, fixed charge id), in time order."""
    ids = list(subscription_ids)
    result: dict[tuple[Any, Any], list[UnitsChange]] = defaultdict(list)
    if not ids:
        return result
    rows = FixedChargeUnits.objects.filter(subscription_id__any=ids).order_by("timestamp", "created_at")
    for sub_id, fixed_id, timestamp, units in rows.values_list(
        "subscription_id", "fixed_charge_id", "timestamp", "units"
    ):
        result[(sub_id, fixed_id)].append(UnitsChange(timestamp, units))
    return result


def _closing_period(item: DueItem, schedule: periods.Schedule) -> periods.BillingPeriod | None:
    """The fixed charges' period this item closes (billed in arrears), if any: the base period, or
    its month with `bill_fixed_charges_monthly`."""
    if item.charges.end <= item.charges.start:
        return None
    if item.period is not None and not schedule.fixed_charges_monthly:
        closed = item.period  # the base period, already computed by `due_items`
    else:
        closed = periods.fixed_charges_period_at(schedule, item.charges.start)
    if item.reason == InvoicingReason.SUBSCRIPTION_TERMINATING or closed.full.end == item.charges.end:
        return closed
    return None


def _opening_period(item: DueItem, schedule: periods.Schedule) -> periods.BillingPeriod | None:
    """The fixed charges' period this item opens (billed in advance), if any."""
    sub = item.subscription
    if item.reason == InvoicingReason.SUBSCRIPTION_STARTING:
        return periods.fixed_charges_period_at(schedule, item.charges.start)
    if item.reason != InvoicingReason.SUBSCRIPTION_PERIODIC or item.charges.end <= item.charges.start:
        return None
    if sub.terminated_at is not None and sub.terminated_at <= item.charges.end:
        return None
    opening = periods.fixed_charges_period_at(schedule, item.charges.end)
    if opening.full.start != item.charges.end or opening.service.end <= opening.service.start:
        return None
    return opening


def item_fixed_charge_fees(
    item: DueItem,
    *,
    plan: PlanSnapshot,
    schedule: periods.Schedule,
    currency: str,
    changes: Mapping[tuple[Any, Any], list[UnitsChange]],
) -> list[Fee]:
    if not plan.fixed_charges:
        return []
    sub = item.subscription
    fees: list[Fee] = []
    arrears = any(not f.fixed_charge.pay_in_advance for f in plan.fixed_charges)
    closing = _closing_period(item, schedule) if arrears else None
    opening = _opening_period(item, schedule) if plan.has_advance_fixed_charges else None
    for snapshot in plan.fixed_charges:
        fixed = snapshot.fixed_charge
        mine = changes.get((sub.id, fixed.parent_id or fixed.id), [])  # recorded under the plan's own
        if not fixed.pay_in_advance and closing is not None:
            fees.append(_arrears_fee(sub, snapshot, closing, schedule, currency, mine))
        elif fixed.pay_in_advance and opening is not None:
            starting = item.reason == InvoicingReason.SUBSCRIPTION_STARTING
            fees.append(_advance_fee(sub, snapshot, opening, schedule, currency, mine, starting=starting))
    return fees


def _arrears_fee(
    sub: Any,
    snapshot: FixedChargeSnapshot,
    closed: periods.BillingPeriod,
    schedule: periods.Schedule,
    currency: str,
    changes: Sequence[UnitsChange],
) -> Fee:
    fixed = snapshot.fixed_charge
    window = closed.service
    last = held_units(changes, fixed.units, max(window.start, window.end - periods.ONE_SECOND))
    if fixed.prorated:
        priced = prorated_units(changes, fixed.units, window=window, full=closed.full, tz_name=schedule.tz_name)
    else:
        priced = last
    return fixed_charge_fee(
        sub,
        fixed_charge=fixed,
        units=last,
        priced_units=priced,
        window=window,
        full=closed.full,
        currency=currency,
        checked=snapshot.checked,
    )


def _advance_fee(
    sub: Any,
    snapshot: FixedChargeSnapshot,
    opening: periods.BillingPeriod,
    schedule: periods.Schedule,
    currency: str,
    changes: Sequence[UnitsChange],
    *,
    starting: bool = False,
) -> Fee:
    fixed = snapshot.fixed_charge
    window = opening.service
    units = held_units(changes, fixed.units, max(window.start, sub.started_at or window.start))
    priced = units
    if fixed.prorated and window != opening.full:
        share = periods.proration(opening.full, window, schedule.tz_name)
        priced = units * share.numerator / share.denominator
    fee = fixed_charge_fee(
        sub,
        fixed_charge=fixed,
        units=units,
        priced_units=priced,
        window=window,
        full=opening.full,
        currency=currency,
        checked=snapshot.checked,
    )
    if starting and sub.previous_subscription_id is not None:
        paid = previous_paid_cents(sub, fixed, window, schedule.tz_name)
        if paid > 0:
            fee.amount_cents = max(0, fee.amount_cents - paid)
            fee.precise_amount_cents = max(Decimal(0), fee.precise_amount_cents - paid)
            fee.properties["previous_plan_paid_amount_cents"] = paid
    return fee


# --- termination and upgrade: what the in-advance fees already paid ---------------------------------


def unused_share(window: periods.Window, terminated_at: datetime, tz_name: str, *, plan_change: bool) -> Fraction:
    """The share of an in-advance fee covering `window` that a termination leaves unused: the local
    days after the termination day (the termination day itself too on a plan change, whose next
    plan bills it) over the days of `window`."""
    total = periods.days_between(window.start, window.end, tz_name)
    used = (periods.local_date(terminated_at, tz_name) - periods.local_date(window.start, tz_name)).days
    used = max(0, used + (0 if plan_change else 1))
    if total <= 0 or used >= total:
        return Fraction(0)
    return Fraction(total - used, total)


def _covers(fee: Fee, window: periods.Window) -> bool:
    props = fee.properties or {}
    try:
        start = datetime.fromisoformat(props["fixed_charges_from_datetime"])
        end = datetime.fromisoformat(props["fixed_charges_to_datetime"])
    except (KeyError, TypeError, ValueError):
        return False
    return start <= window.start and window.end <= end


def _deducts(fixed_charge: FixedCharge) -> bool:
    """A new plan's fixed charge that deducts what the replaced plan paid for its add-on (Lago)."""
    return bool(fixed_charge.pay_in_advance and fixed_charge.prorated)


def _previous_fees(previous_id: Any, add_on_id: Any, window: periods.Window) -> list[Fee]:
    rows = (
        Fee.objects.filter(
            subscription_id=previous_id,
            fee_type=FeeType.FIXED_CHARGE,
            pay_in_advance=True,
            fixed_charge__add_on_id=add_on_id,
            invoice__isnull=False,
        )
        .exclude(invoice__status=InvoiceStatus.VOIDED)
        .order_by("created_at")
    )
    return [fee for fee in rows if _covers(fee, window)]


def previous_paid_cents(sub: Any, fixed_charge: FixedCharge, window: periods.Window, tz_name: str) -> int:
    """On the first in-advance fee of a subscription that replaced another (upgrade): what the
    replaced subscription paid in advance for the same add-on over `window` — each of its fees of
    the period holding `window` (the opening fee and the increases), `amount × days of window /
    days the fee covers`, summed and rounded once. 0 when the fixed charge is not prorated and paid
    in advance (Lago deducts only then)."""
    if not _deducts(fixed_charge):
        return 0
    days = periods.days_between(window.start, window.end, tz_name)
    total = Decimal(0)
    for fee in _previous_fees(sub.previous_subscription_id, fixed_charge.add_on_id, window):
        props = fee.properties
        covered = periods.days_between(
            datetime.fromisoformat(props["from_datetime"]), datetime.fromisoformat(props["to_datetime"]), tz_name
        )
        if covered > 0:
            total += Decimal(fee.amount_cents) * min(days, covered) / covered
    return int(total.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def deducted_by_next_plan(subscription: Any, fee: Fee) -> bool:
    """Whether the subscription that replaced `subscription` deducts `fee` (an in-advance fixed
    charge fee) from its first fee (`previous_paid_cents`): then the termination does not credit it."""
    from subscriptions.selectors import schedule_for

    following = (
        Subscription.objects.filter(previous_subscription=subscription, started_at__isnull=False)
        .select_related("plan", "customer__organization")
        .order_by("created_at")
        .first()
    )
    if following is None or fee.fixed_charge is None:
        return False
    matching = FixedCharge.objects.filter(plan_id=following.plan_id, add_on_id=fee.fixed_charge.add_on_id)
    if not any(_deducts(f) for f in matching):
        return False
    schedule = schedule_for(following)
    if schedule is None:
        return False
    assert following.started_at is not None
    window = periods.fixed_charges_period_at(schedule, following.started_at).service
    return _covers(fee, window)


def has_advance_fixed_charges(plan_id: Any) -> bool:
    """Whether a plan has fixed charges paid in advance (a termination may have some to credit)."""
    return FixedCharge.objects.filter(plan_id=plan_id, pay_in_advance=True).exists()
