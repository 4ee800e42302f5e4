"""What is due for a subscription at an instant: pure, from the subscription, its schedule and what
was billed already (no query).

    due_items(subscription, schedule, at, *, cursor, starting_billed, limit=None, advance_fixed_charges=False)
    item_from_row(row, schedule) -> DueItem          (a draft's billing period, priced again)

A `DueItem` is one (subscription, period, invoicing_reason). Its key is the unique constraint of
`InvoiceSubscription`, so a period is invoiced once whatever happens.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from fractions import Fraction

from django.conf import settings

from invoicing.models import InvoiceSubscription, InvoicingReason
from subscriptions import periods
from subscriptions.models import OnTerminationInvoice, Subscription

# Terminated subscriptions are looked at for this long after their termination (closing invoice).
TERMINATION_LOOKBACK = dt.timedelta(days=31)
Window = periods.Window


@dataclass(frozen=True)
class DueItem:
    subscription: Subscription
    reason: str
    timestamp: dt.datetime  # when it became due
    service: Window  # base-fee period (service part) — billing_periods' subscription from/to
    full: Window  # the whole base period (proration denominator)
    charges: Window  # the invoice window (the cursor); empty for a starting in-advance invoice
    base_fee: bool
    fraction: Fraction
    # the usage charges' window billed: `charges`, except when only the fixed charges of a yearly or
    # semiannual plan bill monthly (the whole usage window on the invoice that closes it, else empty)
    usage: Window | None = None
    # the base period holding `charges.start` (periodic and terminating items), computed once here
    period: periods.BillingPeriod | None = None

    @property
    def usage_window(self) -> Window:
        return self.usage if self.usage is not None else self.charges

    @property
    def key(self) -> tuple:
        return (
            self.reason,
            self.service.start,
            self.service.end,
            self.charges.start,
            self.charges.end,
        )


def usage_window(schedule: periods.Schedule, window: Window) -> Window | None:
    """The usage billed with the invoice window `window` when it differs from it (`DueItem.usage`):
    with monthly fixed charges only, the usage window that `window` closes, or nothing."""
    if schedule.usage_on_invoice_windows or window.end <= window.start:
        return None
    usage = periods.charges_window_at(schedule, window.start)
    return usage if usage.end == window.end else Window(window.end, window.end)


def _starting_due_at(sub: Subscription, schedule: periods.Schedule) -> dt.datetime:
    start = sub.started_at
    if sub.trial_ends_at is not None and sub.trial_ends_at > start:
        return sub.trial_ends_at
    return start


def due_items(
    sub: Subscription,
    schedule: periods.Schedule,
    at: dt.datetime,
    *,
    cursor: dt.datetime | None,
    starting_billed: bool,
    limit: int | None = None,
    advance_fixed_charges: bool = False,
) -> list[DueItem]:
    """Every billing item of `sub` due at `at` that was not billed yet (cursor = last charges end).

    At most `limit` items: the sweep asks for 1 (is anything due?); billing gets at most
    `BILLING_MAX_PERIODS_PER_RUN` per subscription and run, the next runs bill the rest. A
    back-dated subscription (`billing_from`) is billed from the usage window holding that instant
    on (docs/subscriptions.md, "Back-dated subscriptions"). A plan billed in arrears whose fixed
    charges are paid in advance (`advance_fixed_charges`) still has a starting invoice, without base
    fee (docs/billing-semantics.md §5.9)."""
    plan = sub.plan
    items: list[DueItem] = []
    terminated_at = sub.terminated_at
    cap = limit if limit is not None else max(1, int(settings.BILLING_MAX_PERIODS_PER_RUN))
    origin = schedule.started_at
    if sub.billing_from is not None and sub.billing_from > origin:
        origin = periods.invoice_window_at(schedule, sub.billing_from).start
    if (plan.pay_in_advance or advance_fixed_charges) and not starting_billed:
        due_at = max(_starting_due_at(sub, schedule), sub.billing_from or schedule.started_at)
        first = periods.period_at(schedule, origin)
        if due_at <= at and (terminated_at is None or due_at <= terminated_at) and due_at < first.service.end:
            items.append(
                DueItem(
                    subscription=sub,
                    reason=InvoicingReason.SUBSCRIPTION_STARTING,
                    timestamp=due_at,
                    service=first.service,
                    full=first.full,
                    charges=Window(origin, origin),
                    base_fee=bool(plan.pay_in_advance),
                    fraction=periods.base_fee_fraction(schedule, first) if plan.pay_in_advance else Fraction(0),
                )
            )
    if len(items) >= cap:
        return items
    position = max(cursor or origin, origin)
    # With on_termination_invoice=skip the periods before the termination are still billed, the closing one is not.
    skip_closing = terminated_at is not None and sub.on_termination_invoice == OnTerminationInvoice.SKIP
    guard = 0
    while guard < 1000:
        guard += 1
        if terminated_at is not None and position >= terminated_at:
            break
        window = periods.invoice_window_at(schedule, position)
        if window.end <= position or window.end > at:
            break
        terminating = terminated_at is not None and window.end >= terminated_at
        if terminating and skip_closing:
            break
        base_period = periods.period_at(schedule, window.start)
        if terminating:
            reason = InvoicingReason.SUBSCRIPTION_TERMINATING
            bill_base = not plan.pay_in_advance
            service, full = base_period.service, base_period.full
            fraction = periods.base_fee_fraction(schedule, base_period) if bill_base else Fraction(0)
        else:
            reason = InvoicingReason.SUBSCRIPTION_PERIODIC
            if plan.pay_in_advance:
                next_base = periods.period_at(schedule, window.end)
                bill_base = next_base.full.start == window.end and next_base.service.start < next_base.service.end
                if bill_base:
                    service, full = next_base.service, next_base.full
                    fraction = periods.base_fee_fraction(schedule, next_base)
                else:
                    service, full, fraction = base_period.service, base_period.full, Fraction(0)
            else:
                bill_base = base_period.full.end == window.end
                service, full = base_period.service, base_period.full
                fraction = periods.base_fee_fraction(schedule, base_period) if bill_base else Fraction(0)
        items.append(
            DueItem(
                subscription=sub,
                reason=reason,
                timestamp=window.end,
                service=service,
                full=full,
                charges=window,
                base_fee=bill_base,
                fraction=fraction,
                usage=usage_window(schedule, window),
                period=base_period,
            )
        )
        position = window.end
        if terminating or len(items) >= cap:
            break
    return items


def item_from_row(row: InvoiceSubscription, schedule: periods.Schedule) -> DueItem:
    sub = row.subscription
    plan = sub.plan
    base = periods.period_at(schedule, row.from_datetime)
    if row.invoicing_reason == InvoicingReason.SUBSCRIPTION_STARTING:
        bill_base = bool(plan.pay_in_advance)
    elif row.invoicing_reason == InvoicingReason.SUBSCRIPTION_TERMINATING:
        bill_base = not plan.pay_in_advance
    elif plan.pay_in_advance:
        bill_base = base.full.start == row.charges_to_datetime
    else:
        bill_base = base.full.end == row.charges_to_datetime
    charges = Window(row.charges_from_datetime, row.charges_to_datetime)
    return DueItem(
        subscription=sub,
        reason=row.invoicing_reason,
        timestamp=row.timestamp,
        service=Window(row.from_datetime, row.to_datetime),
        full=base.full,
        charges=charges,
        base_fee=bill_base,
        fraction=periods.base_fee_fraction(schedule, base) if bill_base else Fraction(0),
        usage=usage_window(schedule, charges)
        if row.invoicing_reason != InvoicingReason.SUBSCRIPTION_STARTING
        else None,
    )
