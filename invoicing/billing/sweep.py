"""What is due across customers (the sweep), and what was billed already (cursors).

billing_due(at, *, organization=None, customer_ids=None) -> {customer_id: CustomerDue}
billing_due_customers(at, *, organization=None) -> {customer_id: subscriptions due}
cursors(subscription_ids, progressive=None) -> ({subscription_id: last charges end}, {started})
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.db.models import Max, Q

from invoicing.billing.due import TERMINATION_LOOKBACK, due_items
from invoicing.models import InvoiceSubscription, InvoicingReason
from subscriptions.models import Subscription, SubscriptionStatus
from subscriptions.selectors import schedule_for

SWEEP_CHUNK = 5000


def due_subscriptions(at: dt.datetime) -> Q:
    """Subscriptions that may have something due at `at`: active ones, and those terminated within
    `TERMINATION_LOOKBACK` (their closing invoice)."""
    return Q(status=SubscriptionStatus.ACTIVE) | Q(
        status=SubscriptionStatus.TERMINATED,
        terminated_at__gte=at - TERMINATION_LOOKBACK,
        terminated_at__lte=at,
    )


def cursors(
    subscription_ids: list[Any], progressive: set[Any] | None = None
) -> tuple[dict[Any, dt.datetime], set[Any]]:
    """Per subscription: the end of the last billed usage window, and whether it had its starting invoice.

    `progressive`, when given, receives the subscriptions that have any progressive-billing period."""
    rows = (
        InvoiceSubscription.objects.filter(subscription_id__any=subscription_ids)
        .values("subscription_id", "invoicing_reason")
        .annotate(last=Max("charges_to_datetime"))
    )
    cursors: dict[Any, dt.datetime] = {}
    starting: set[Any] = set()
    for row in rows:
        sid = row["subscription_id"]
        if progressive is not None and row["invoicing_reason"] == InvoicingReason.PROGRESSIVE_BILLING:
            progressive.add(sid)
        if row["invoicing_reason"] == InvoicingReason.SUBSCRIPTION_STARTING:
            starting.add(sid)
        elif sid not in cursors or row["last"] > cursors[sid]:
            cursors[sid] = row["last"]
    return cursors, starting


@dataclass(frozen=True)
class CustomerDue:
    """What the sweep found due for one customer: how many subscriptions, and since when the oldest
    of their uninvoiced billings has been due (the billing-run lag is measured from it)."""

    subscriptions: int
    oldest: dt.datetime


def billing_due_customers(at: dt.datetime, *, organization: Any = None) -> dict[Any, int]:
    """Customers with something due at `at` (in their timezone), with how many subscriptions."""
    return {customer_id: due.subscriptions for customer_id, due in billing_due(at, organization=organization).items()}


def billing_due(
    at: dt.datetime, *, organization: Any = None, customer_ids: list[Any] | None = None
) -> dict[Any, CustomerDue]:
    """Customers with something due at `at` (in their timezone): subscriptions due and the oldest
    due instant. `customer_ids` narrows the look to those customers (a run's failures)."""
    qs = Subscription.objects.filter(due_subscriptions(at)).exclude(started_at__isnull=True).select_related("customer")
    if organization is not None:
        qs = qs.filter(organization=organization)
    if customer_ids is not None:
        qs = qs.filter(customer_id__in=list(customer_ids))
    counts: dict[Any, int] = defaultdict(int)
    oldest: dict[Any, dt.datetime] = {}
    chunk: list[Subscription]
    # Plans and organizations are few: read once and shared, not joined into every row.
    plans: dict[Any, Any] = {}
    organizations: dict[Any, Any] = {}

    def check(subs: list[Subscription]) -> None:
        from catalog.models import FixedCharge, Plan
        from customers.models import Organization

        missing_plans = {s.plan_id for s in subs} - plans.keys()
        plans.update({p.id: p for p in Plan.objects.filter(id__in=missing_plans)} if missing_plans else {})
        missing_orgs = {s.customer.organization_id for s in subs} - organizations.keys()
        if missing_orgs:
            organizations.update({o.id: o for o in Organization.objects.filter(id__in=missing_orgs)})
        last, starting = cursors([s.id for s in subs])
        advance_fixed = set(
            FixedCharge.objects.filter(
                plan_id__in={s.plan_id for s in subs}, pay_in_advance=True, deleted_at__isnull=True
            ).values_list("plan_id", flat=True)
        )
        for sub in subs:
            sub.plan = plans[sub.plan_id]
            sub.customer.organization = organizations[sub.customer.organization_id]
            schedule = schedule_for(sub)
            if schedule is None:
                continue
            # The first due item answers "is anything due?" and is the oldest (items come in time
            # order); the task computes them all again.
            first = due_items(
                sub,
                schedule,
                at,
                cursor=last.get(sub.id),
                starting_billed=sub.id in starting,
                limit=1,
                advance_fixed_charges=sub.plan_id in advance_fixed,
            )
            if first:
                counts[sub.customer_id] += 1
                known = oldest.get(sub.customer_id)
                if known is None or first[0].timestamp < known:
                    oldest[sub.customer_id] = first[0].timestamp

    # In chunks by primary key (keyset pages, no server-side cursor: PgBouncer's transaction mode
    # may give each statement another server connection): memory stays bounded by the chunk (plus
    # the due customers' ids), whatever the base.
    after = None
    while True:
        page = qs.order_by("id")
        if after is not None:
            page = page.filter(id__gt=after)
        chunk = list(page[:SWEEP_CHUNK])
        if not chunk:
            break
        check(chunk)
        after = chunk[-1].id
        if len(chunk) < SWEEP_CHUNK:
            break
    return {customer_id: CustomerDue(count, oldest[customer_id]) for customer_id, count in counts.items()}
