"""Reads for subscriptions. The organization always comes first."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Collection, Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

from django.db.models import (
    Count,
    F,
    Func,
    Min,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    TextField,
)
from django.utils import timezone

from billing_project.core import json_rows
from billing_project.core.api.pagination import PreparedPages
from billing_project.core.errors import NotFoundFailure
from billing_project.core.found import found
from billing_project.core.narrowing import narrowed
from billing_project.core.prepared import PreparedQuery
from catalog import hooks as catalog_hooks
from catalog import selectors as catalog_selectors
from catalog.models import Plan
from customers import hooks as customer_hooks
from customers.models import Organization
from subscriptions import periods
from subscriptions.models import Subscription, SubscriptionStatus

_RELATED = ("organization", "customer", "customer__organization", "plan", "plan__parent", "previous_subscription__plan")


def _next_subscriptions() -> Prefetch:
    return Prefetch("next_subscriptions", queryset=Subscription.objects.select_related("plan"))


# The subscriptions created to replace a subscription (`next_subscriptions`, each with its plan), as
# JSON text on the subscription's own row (`billing_project.core.json_rows`, PostgreSQL): what the
# `_next_subscriptions()` prefetch reads in a statement of its own. `_followers` decodes it.
FOLLOWERS = "followers_json"


@functools.cache
def _followers_sql() -> str:
    rows = json_rows.list_sql(
        f"json_build_array({json_rows.columns_sql(Subscription, 'ns')}), "
        f"json_build_array({json_rows.columns_sql(Plan, 'np')})",
        f"{json_rows.table(Subscription)} ns JOIN {json_rows.table(Plan)} np "
        f"ON np.{json_rows.column(Plan, 'id')} = ns.{json_rows.column(Subscription, 'plan')} "
        f"WHERE ns.{json_rows.column(Subscription, 'previous_subscription')} = %(expressions)s",
        "ns.created_at DESC, ns.id",  # the prefetch's order (`Subscription.Meta.ordering`)
    )
    return f"({rows}::text)"


def _with_followers(subscriptions: QuerySet[Subscription]) -> QuerySet[Subscription]:
    """`subscriptions` with their followers: on their row (`FOLLOWERS`) where the database allows,
    else the `next_subscriptions` prefetch."""
    if json_rows.supported(subscriptions.db):
        return subscriptions.annotate(**{FOLLOWERS: Func(F("pk"), template=_followers_sql(), output_field=TextField())})
    return subscriptions.prefetch_related(_next_subscriptions())


def _followers_read(text: str) -> list[Subscription]:
    if text == "[]":
        return []
    followers = []
    for subscription_values, plan_values in json_rows.loads(text):
        follower = json_rows.instance(Subscription, subscription_values)
        json_rows.related(follower, "plan", json_rows.instance(Plan, plan_values))
        followers.append(follower)
    return followers


def _base(organization: Organization | uuid.UUID) -> QuerySet[Subscription]:
    return _with_followers(Subscription.objects.filter(organization=organization).select_related(*_RELATED))


def _with_plan(subscriptions: QuerySet[Subscription]) -> QuerySet[Subscription]:
    """`subscriptions` carrying what their plan's object shows, in their own statement where the
    database allows (`catalog.selectors.plan_read_annotations`); `_plan_taken` moves it onto the plan."""
    # `billing_entity_code`: the subscription's entity, else its customer's (without their logos)
    subscriptions = subscriptions.select_related("billing_entity", "customer__billing_entity").defer(
        *customer_hooks.REPRESENTATION_DEFERRED, *customer_hooks.representation_deferred("customer__")
    )
    if not json_rows.supported(subscriptions.db):
        return subscriptions
    return subscriptions.annotate(**catalog_selectors.plan_read_annotations("plan_id"))


def _plan_taken(subscription: Subscription | None) -> Subscription | None:
    if subscription is not None:
        catalog_selectors.plan_take_related(subscription.plan, subscription)
    return subscription


def subscription_get(
    organization: Organization, external_id: str, *, status: str | None = None, with_plan: bool = False
) -> Subscription:
    """Lago's `GET /subscriptions/{external_id}`: the active one unless `status` says otherwise.
    `with_plan`: read what the plan's object shows with it (to render the subscription with its plan).

    Terminated (or canceled) ones are searched newest termination first.
    """
    status = status or SubscriptionStatus.ACTIVE
    if status not in SubscriptionStatus.values:
        raise NotFoundFailure("subscription")
    if with_plan and json_rows.supported(Subscription.objects.db):
        [row] = _with_plan_query(status).fetch(organization=organization.pk, external_id=external_id) or [None]
        return found(_plan_taken(row), "subscription")
    qs = _ordered(_base(organization).filter(external_id=external_id, status=status), status)
    if with_plan:
        return found(_plan_taken(_with_plan(qs).first()), "subscription")
    return found(qs.first(), "subscription")


def _ordered(subscriptions: QuerySet[Subscription], status: str) -> QuerySet[Subscription]:
    """`subscription_get`'s order: terminated (or canceled) ones newest termination first."""
    if status == SubscriptionStatus.TERMINATED:
        return subscriptions.order_by("-terminated_at", "-created_at")
    if status == SubscriptionStatus.CANCELED:
        return subscriptions.order_by("-canceled_at", "-created_at")
    return subscriptions if subscriptions.ordered else subscriptions.order_by("pk")


# `GET /subscriptions/{external_id}`'s statement (with its followers and its plan's relations), by
# status, compiled once per process (`PreparedQuery`: SQL text, no rows) and `plan_usage`
# implementation (the statement holds the hook's subquery; tests swap the hook): one entry a status.
_WITH_PLAN: dict[tuple[Any, str], PreparedQuery] = {}


def _with_plan_query(status: str) -> PreparedQuery:
    implementation = catalog_hooks.plan_usage.get()
    query = _WITH_PLAN.get((implementation, status))
    if query is None:

        def build(p: Any) -> QuerySet[Subscription]:
            rows = Subscription.objects.filter(
                organization_id=p.organization, external_id=p.external_id, status=status
            ).select_related(*_RELATED)
            return _with_plan(_with_followers(_ordered(rows, status)))[:1]

        if any(known != implementation for known, _ in _WITH_PLAN):
            _WITH_PLAN.clear()
        query = _WITH_PLAN[implementation, status] = PreparedQuery(build, organization=uuid.UUID, external_id=str)
    return query


def subscription_get_live(organization: Organization, external_id: str, *, status: str | None = None) -> Subscription:
    """The subscription a PUT addresses: `status` if given, else the active one, else the pending one."""
    if status:
        return subscription_get(organization, external_id, status=status)
    return found(
        _base(organization)
        .filter(external_id=external_id, status__in=[SubscriptionStatus.ACTIVE, SubscriptionStatus.PENDING])
        .order_by("status")  # "active" sorts before "pending"
        .first(),
        "subscription",
    )


def subscription_list(
    organization: Organization | uuid.UUID,
    *,
    external_customer_id: str | None = None,
    plan_code: str | None = None,
    statuses: Collection[str] | None = None,
    external_id: str | None = None,
    currency: str | None = None,
) -> QuerySet[Subscription]:
    """Lago's `GET /subscriptions`; the status filter defaults to active only; `currency` is the
    plan's (a subscription's currency)."""
    qs = _base(organization).filter(status__in=list(statuses or [SubscriptionStatus.ACTIVE]))
    if external_customer_id:
        qs = qs.filter(customer__external_id=external_customer_id, customer__deleted_at__isnull=True)
    return narrowed(qs, plan__code=plan_code, external_id=external_id, plan__amount_currency=currency).order_by(
        "-created_at", "id"
    )


# `GET /subscriptions` without filters (the active ones, newest first): its pages compiled once per
# process (`PreparedPages`: SQL text, no rows).
ACTIVE_PAGES = PreparedPages(lambda p: subscription_list(p.organization), organization=uuid.UUID)


def _followers(subscription: Subscription) -> list[Subscription]:
    """Rows created to replace `subscription` (those read on its row, `FOLLOWERS`, else the list's
    prefetch when present)."""
    text = subscription.__dict__.get(FOLLOWERS)
    rows = _followers_read(text) if text is not None else subscription.next_subscriptions.all()
    return sorted(rows, key=lambda row: row.created_at, reverse=True)


def pending_next(subscription: Subscription) -> Subscription | None:
    """The pending subscription that will replace `subscription` (a scheduled downgrade)."""
    if subscription.status != SubscriptionStatus.ACTIVE:
        return None
    return next((row for row in _followers(subscription) if row.status == SubscriptionStatus.PENDING), None)


def successor(subscription: Subscription) -> Subscription | None:
    """The subscription that replaced `subscription` after a plan change, if any."""
    return next((row for row in _followers(subscription) if row.status != SubscriptionStatus.CANCELED), None)


# --- the chain of plan changes ---------------------------------------------------------------


class ChainStarts:
    """Lago's `Subscription#initial_started_at` of subscriptions, for one request or one billing batch:
    the earliest `started_at` among the customer's subscriptions with the same `external_id` (every
    row a plan change created, and a row terminated then created again under the same id), else the
    row's own `started_at`.

    Recurring metrics carry their value from this instant: usage never counts events dated before
    it (`metering.aggregation.aggregate(subscription_started_at=...)`). Each subscription's is read
    once, when first asked (`read` reads a whole batch's in one query); the caller owns this object
    and passes it along, nothing is stored on the subscriptions.
    """

    def __init__(self) -> None:
        self._known: dict[UUID, datetime | None] = {}

    def of(self, subscription: Subscription) -> datetime | None:
        if subscription.pk not in self._known:
            self.read([subscription])
        return self._known[subscription.pk]

    def read(self, subscriptions: Iterable[Subscription]) -> None:
        """Read the initial start of every subscription not read yet, in one query."""
        subs = {s.pk: s for s in subscriptions if s.pk not in self._known}
        if not subs:
            return
        rows = (
            Subscription.objects.filter(
                organization_id__in={s.organization_id for s in subs.values()},
                customer_id__in={s.customer_id for s in subs.values()},
                external_id__in={s.external_id for s in subs.values()},
                started_at__isnull=False,
            )
            .values("organization_id", "customer_id", "external_id")
            .annotate(first=Min("started_at"))
            .order_by()
        )
        first = {(r["organization_id"], r["customer_id"], r["external_id"]): r["first"] for r in rows}
        for pk, sub in subs.items():
            key = (sub.organization_id, sub.customer_id, sub.external_id)
            known = [t for t in (first.get(key), sub.started_at) if t]
            self._known[pk] = min(known) if known else None


# --- periods ----------------------------------------------------------------------------------


def timezone_of(subscription: Subscription) -> str:
    return subscription.customer.applicable_timezone


def schedule_for(subscription: Subscription) -> periods.Schedule | None:
    """The period arithmetic's view of a subscription (None until it has started)."""
    if subscription.started_at is None:
        return None
    plan = subscription.plan
    return periods.Schedule(
        interval=periods.Interval(plan.interval),
        billing_time=periods.BillingTime(subscription.billing_time),
        started_at=subscription.started_at,
        tz_name=timezone_of(subscription),
        subscription_at=subscription.subscription_at,
        bill_charges_monthly=bool(plan.bill_charges_monthly),
        bill_fixed_charges_monthly=bool(plan.bill_fixed_charges_monthly),
        terminated_at=subscription.terminated_at,
        replaced=subscription.replaced_by_plan_change,
        trial_ends_at=subscription.trial_ends_at,
    )


def current_period(subscription: Subscription, at: datetime | None = None) -> periods.BillingPeriod | None:
    schedule = schedule_for(subscription)
    if schedule is None:
        return None
    return periods.period_at(schedule, at or timezone.now())


def next_billing_at(subscription: Subscription, at: datetime | None = None) -> datetime | None:
    """When the next periodic invoice is due (None for pending, terminated or canceled rows)."""
    schedule = schedule_for(subscription)
    if schedule is None or subscription.status != SubscriptionStatus.ACTIVE:
        return None
    return periods.next_billing_at(schedule, at or timezone.now())


def next_period_start(subscription: Subscription, at: datetime | None = None) -> datetime | None:
    """The start of the next base-fee period (where a downgrade takes effect)."""
    period = current_period(subscription, at)
    return period.full.end if period is not None else None


def downgrade_plan_date(subscription: Subscription, at: datetime | None = None) -> date | None:
    """Lago's `downgrade_plan_date`: the local day a scheduled downgrade applies."""
    successor_row = pending_next(subscription)
    if successor_row is None or successor_row.activation_at is None:
        return None
    return periods.local_date(successor_row.activation_at, timezone_of(subscription))


# --- sweeps -----------------------------------------------------------------------------------


def due_activations(at: datetime) -> QuerySet[Subscription]:
    """Pending subscriptions (every organization) whose start has come."""
    return Subscription.objects.filter(status=SubscriptionStatus.PENDING, activation_at__lte=at).order_by(
        "activation_at", "id"
    )


def due_trial_ends(at: datetime) -> QuerySet[Subscription]:
    return Subscription.objects.filter(
        status=SubscriptionStatus.ACTIVE, trial_ends_at__lte=at, trial_ended_at__isnull=True
    ).order_by("trial_ends_at", "id")


def due_endings(at: datetime) -> QuerySet[Subscription]:
    return Subscription.objects.filter(
        Q(status=SubscriptionStatus.ACTIVE) | Q(status=SubscriptionStatus.PENDING), ending_at__lte=at
    ).order_by("ending_at", "id")


def endings_within(at: datetime, days: int) -> QuerySet[Subscription]:
    return Subscription.objects.filter(
        status=SubscriptionStatus.ACTIVE, ending_at__gt=at, ending_at__lte=at + timedelta(days=days)
    ).order_by("ending_at", "id")


# --- lookups for other apps -------------------------------------------------------------------


@dataclass(frozen=True)
class SubscriptionRef:
    """What metering needs of the subscription an event's `external_subscription_id` names (to
    report events of unknown subscriptions, to estimate fees over its charges period)."""

    id: UUID
    external_id: str
    customer_id: UUID
    plan_id: UUID
    started_at: datetime
    terminated_at: datetime | None
    # The earliest start of the customer's subscriptions with this external id (plan changes
    # create new rows): recurring metrics count events from here. None: `started_at`.
    initial_started_at: datetime | None = None


def plan_in_use(plan: object) -> bool:
    """`catalog.hooks.PlanUsage.in_use`: a plan (or one of its overrides) has live subscriptions."""
    live = [SubscriptionStatus.ACTIVE, SubscriptionStatus.PENDING]
    return Subscription.objects.filter(Q(plan=plan) | Q(plan__parent=plan), status__in=live).exists()


def subscription_refs(organization: Organization, external_ids: Collection[str]) -> dict[str, SubscriptionRef]:
    """For metering (event ingestion, fee estimates): the active subscription per external id,
    else the latest ended one. No ids, no query."""
    if not external_ids:
        return {}
    rows = (
        Subscription.objects.filter(
            organization=organization,
            external_id__in=list(external_ids),
            status__in=[SubscriptionStatus.ACTIVE, SubscriptionStatus.TERMINATED],
        )
        .order_by("external_id", "-started_at")
        .values("id", "external_id", "customer_id", "plan_id", "started_at", "terminated_at", "status")
    )
    result: dict[str, SubscriptionRef] = {}
    # Every row that ever started is active or terminated: the earliest start per (customer, id)
    # is `initial_started_at` (the chain's start), read from the same rows.
    first: dict[tuple, datetime] = {}
    for row in rows:
        key = (row["customer_id"], row["external_id"])
        if row["started_at"] is not None and (key not in first or row["started_at"] < first[key]):
            first[key] = row["started_at"]
        current = result.get(row["external_id"])
        if current is not None and (current.terminated_at is None or row["status"] != SubscriptionStatus.ACTIVE):
            continue
        result[row["external_id"]] = SubscriptionRef(
            id=row["id"],
            external_id=row["external_id"],
            customer_id=row["customer_id"],
            plan_id=row["plan_id"],
            started_at=row["started_at"],
            terminated_at=row["terminated_at"],
        )
    return {
        external_id: replace(ref, initial_started_at=first.get((ref.customer_id, external_id), ref.started_at))
        for external_id, ref in result.items()
    }


def charges_period_of_ref(organization: Organization, ref: SubscriptionRef, at: datetime) -> tuple[datetime, datetime]:
    """For metering's fee estimates: the half-open charges window of the subscription
    `ref` names that contains `at`, as billing computes it (`periods.charges_window_at`: interval,
    calendar or anniversary billing, the customer's timezone, clipped to the start and the
    termination)."""
    subscription = (
        Subscription.objects.filter(organization=organization, id=ref.id)
        .select_related("plan", "customer", "customer__organization", "organization")
        .first()
    )
    schedule = found(schedule_for(subscription) if subscription is not None else None, "subscription")
    window = periods.charges_window_at(schedule, at)
    return window.start, window.end


def subscription_reload(subscription: Subscription) -> Subscription:
    """A fresh copy with its relations and its plan's, for rendering after a service changed it."""
    return _plan_taken(_with_plan(_base(subscription.organization)).get(pk=subscription.pk))  # type: ignore[return-value]


def plan_counts(plan: object) -> tuple[int, int]:
    """`catalog.hooks.PlanUsage.counts`: active subscriptions on the plan and its overrides, and
    the customers they belong to, in one statement."""
    counted = Subscription.objects.filter(
        Q(plan=plan) | Q(plan__parent=plan), status=SubscriptionStatus.ACTIVE
    ).aggregate(active=Count("id"), customers=Count("customer_id", distinct=True))
    return int(counted["active"]), int(counted["customers"])


def plan_counts_json(plan_ref: str) -> Subquery:
    """`catalog.hooks.PlanUsage.counts_json`: `plan_counts` as a subquery of the outer query's
    plan (its column `plan_ref`), answering the JSON text `[active, customers]`."""
    plan = OuterRef(plan_ref)
    rows = Subscription.objects.filter(Q(plan=plan) | Q(plan__parent=plan), status=SubscriptionStatus.ACTIVE)
    counts = Func(
        Func(F("id"), function="COUNT"),
        Func(F("customer_id"), template="COUNT(DISTINCT %(expressions)s)"),
        function="json_build_array",
        template="%(function)s(%(expressions)s)::text",
        output_field=TextField(),
    )
    return Subquery(rows.order_by().annotate(counts=counts).values("counts"), output_field=TextField())


class SubscriptionsPlanUsage:
    """`catalog.hooks.PlanUsage`, filled in `SubscriptionsConfig.ready()`."""

    def in_use(self, plan: Plan) -> bool:
        return plan_in_use(plan)

    def counts(self, plan: Plan) -> tuple[int, int]:
        return plan_counts(plan)

    def counts_json(self, plan_ref: str) -> Subquery:
        return plan_counts_json(plan_ref)
