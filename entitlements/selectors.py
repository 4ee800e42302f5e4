"""Reads of the entitlements app. Every selector takes the organization first.

A subscription's entitlements are resolved here (docs/entitlements.md, "Resolution"): the plan's
entitlements (the parent plan of a plan override), plus the subscription's overrides, minus what
was removed from the subscription; usage-limited privileges carry the usage of the current
charges window, read with the same aggregation as current usage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from billing_project.core.found import found
from billing_project.core.narrowing import searched
from catalog import selectors as catalog_selectors
from catalog.models import Plan
from customers.models import Organization
from entitlements.models import (
    Entitlement,
    EntitlementValue,
    Feature,
    Privilege,
    SubscriptionFeatureRemoval,
)
from metering.aggregation import MetricSpec
from metering.bulk import UsageRequest, aggregate_many
from subscriptions import periods
from subscriptions import selectors as subscription_selectors
from subscriptions.models import Subscription


def _live_privileges() -> Prefetch:
    return Prefetch(
        "privileges",
        queryset=Privilege.live.select_related("billable_metric").order_by("created_at", "id"),
        to_attr="live_privileges",
    )


def feature_list(organization: Organization, *, search_term: str | None = None) -> QuerySet[Feature]:
    qs = searched(Feature.live.filter(organization=organization), search_term, "code", "name", "description")
    return qs.prefetch_related(_live_privileges()).order_by("created_at", "id")


def feature_get(organization: Organization, code: str) -> Feature:
    return found(feature_list(organization).filter(code=code).first(), "feature")


def entitlement_plan(organization: Organization, plan_code: str) -> Plan:
    """The plan a `/plans/{code}/entitlements` route names (a parent plan, not an override)."""
    return catalog_selectors.plan_get(organization, plan_code)


def _plan_entitlements(plan: Plan) -> QuerySet[Entitlement]:
    return (
        Entitlement.live.filter(plan=plan, feature__deleted_at__isnull=True)
        .select_related("feature")
        .prefetch_related(
            Prefetch(
                "values",
                queryset=EntitlementValue.live.filter(privilege__deleted_at__isnull=True)
                .select_related("privilege", "privilege__billable_metric")
                .order_by("created_at", "id"),
                to_attr="live_values",
            )
        )
        .order_by("created_at", "id")
    )


def plan_entitlement_list(plan: Plan) -> list[Entitlement]:
    return list(_plan_entitlements(plan))


def plan_entitlement_get(plan: Plan, feature_code: str) -> Entitlement:
    return found(_plan_entitlements(plan).filter(feature__code=feature_code).first(), "entitlement")


def subscription_for(organization: Organization, external_id: str, *, status: str | None = None) -> Subscription:
    """Lago's lookup for the entitlement routes: the subscription with this external id in
    `status` (default `active`); 404 `subscription_not_found` otherwise."""
    return subscription_selectors.subscription_get(organization, external_id, status=status)


def entitlement_plan_id(subscription: Subscription) -> Any:
    """Entitlements are granted on the parent plan; a subscription on a plan override reads them there."""
    return subscription.plan.parent_id or subscription.plan_id


# --- resolution ----------------------------------------------------------------------------------


@dataclass
class PrivilegeUsage:
    """A usage-limited privilege's state in the current charges window."""

    billable_metric_code: str
    from_datetime: datetime
    to_datetime: datetime
    current_usage: Decimal
    limit: int | None

    @property
    def remaining(self) -> Decimal | None:
        if self.limit is None:
            return None
        return max(Decimal(self.limit) - self.current_usage, Decimal(0))

    @property
    def exceeded(self) -> bool:
        return self.limit is not None and self.current_usage > self.limit


@dataclass
class ResolvedPrivilege:
    privilege_id: Any
    code: str
    name: str | None
    value_type: str
    config: dict[str, Any]
    billable_metric_id: Any
    billable_metric_code: str | None
    metric: MetricSpec | None
    plan_value: str | None
    override_value: str | None
    ordering: datetime
    usage: PrivilegeUsage | None = None

    @property
    def value(self) -> str | None:
        return self.override_value if self.override_value is not None else self.plan_value


@dataclass
class ResolvedEntitlement:
    feature_id: Any
    code: str
    name: str | None
    description: str | None
    ordering: datetime
    privileges: list[ResolvedPrivilege] = field(default_factory=list)


def subscription_entitlements(
    organization: Organization,
    subscription: Subscription,
    *,
    feature_code: str | None = None,
    with_usage: bool = True,
    at: datetime | None = None,
) -> list[ResolvedEntitlement]:
    """The entitlements of `subscription`: its plan's, overridden and trimmed by its own rows.

    `feature_code`: only that feature (an empty list when the subscription does not have it).
    `with_usage`: fill `usage` of the privileges that reference a billable metric.
    """
    plan_id = entitlement_plan_id(subscription)
    entitlements = Entitlement.live.filter(
        Q(plan_id=plan_id) | Q(subscription_id=subscription.pk),
        organization=organization,
        feature__deleted_at__isnull=True,
    )
    if feature_code is not None:
        entitlements = entitlements.filter(feature__code=feature_code)
    rows = list(entitlements.select_related("feature"))
    if not rows:
        return []
    removals = list(
        SubscriptionFeatureRemoval.live.filter(subscription_id=subscription.pk).values_list(
            "feature_id", "privilege_id"
        )
    )
    removed_features = {f for f, _ in removals if f is not None}
    removed_privileges = {p for _, p in removals if p is not None}
    values = (
        EntitlementValue.live.filter(entitlement_id__in=[row.pk for row in rows], privilege__deleted_at__isnull=True)
        .select_related("privilege", "privilege__billable_metric")
        .prefetch_related("privilege__billable_metric__filters")
        .order_by("created_at", "id")
    )
    return _resolve(rows, list(values), plan_id, removed_features, removed_privileges, subscription, with_usage, at)


def _resolve(
    rows: list[Entitlement],
    values: list[EntitlementValue],
    plan_id: Any,
    removed_features: set[Any],
    removed_privileges: set[Any],
    subscription: Subscription,
    with_usage: bool,
    at: datetime | None,
) -> list[ResolvedEntitlement]:
    by_feature: dict[Any, ResolvedEntitlement] = {}
    plan_entitlement_of: dict[Any, Any] = {}
    for row in rows:
        from_plan = row.plan_id == plan_id
        if from_plan:
            if row.feature_id in removed_features:
                continue
            plan_entitlement_of[row.feature_id] = row.pk
        resolved = by_feature.get(row.feature_id)
        if resolved is None:
            feature = row.feature
            by_feature[row.feature_id] = ResolvedEntitlement(
                feature_id=row.feature_id,
                code=feature.code,
                name=feature.name,
                description=feature.description,
                ordering=row.created_at,
            )
        elif from_plan:
            resolved.ordering = row.created_at  # the plan's row orders the feature, as Lago's
    owner = {row.pk: row for row in rows}
    privileges: dict[tuple[Any, Any], ResolvedPrivilege] = {}
    for value in values:
        row = owner[value.entitlement_id]
        resolved_feature = by_feature.get(row.feature_id)
        if resolved_feature is None:
            continue
        from_plan = row.plan_id == plan_id
        if from_plan and row.pk != plan_entitlement_of.get(row.feature_id):
            continue
        key = (row.feature_id, value.privilege_id)
        item = privileges.get(key)
        if item is None:
            privilege = value.privilege
            metric = privilege.billable_metric
            item = privileges[key] = ResolvedPrivilege(
                privilege_id=privilege.pk,
                code=privilege.code,
                name=privilege.name,
                value_type=privilege.value_type,
                config=privilege.config or {},
                billable_metric_id=privilege.billable_metric_id,
                billable_metric_code=metric.code if metric is not None else None,
                metric=_spec(metric) if metric is not None else None,
                plan_value=None,
                override_value=None,
                ordering=value.created_at,
            )
        if from_plan:
            item.plan_value = value.value
            item.ordering = value.created_at
        else:
            item.override_value = value.value
    for (feature_id, privilege_id), item in privileges.items():
        if item.plan_value is not None and privilege_id in removed_privileges:
            continue
        by_feature[feature_id].privileges.append(item)
    result = sorted(by_feature.values(), key=lambda e: (e.ordering, str(e.feature_id)))
    for entitlement in result:
        entitlement.privileges.sort(key=lambda p: (p.ordering, str(p.privilege_id)))
    if with_usage:
        fill_usage(subscription, result, at)
    return result


def _spec(metric: Any) -> MetricSpec:
    return MetricSpec.of(metric, (f.key for f in metric.filters.all() if f.deleted_at is None))


def fill_usage(subscription: Subscription, entitlements: list[ResolvedEntitlement], at: datetime | None) -> None:
    """Set `usage` on the privileges that reference a metric: one `aggregate_many` for all of them,
    the aggregation current usage runs, over the current charges window."""
    limited = [p for e in entitlements for p in e.privileges if p.metric is not None]
    if not limited:
        return
    schedule = subscription_selectors.schedule_for(subscription)
    if schedule is None:  # not started: no window, nothing used
        return
    window = periods.charges_window_at(schedule, at or timezone.now())
    specs = {p.billable_metric_id: p.metric for p in limited}
    requests: list[UsageRequest] = []
    starts = subscription_selectors.ChainStarts()
    for spec in specs.values():
        assert spec is not None
        started = starts.of(subscription) if spec.recurring else subscription.started_at
        requests.append(
            UsageRequest(
                external_subscription_id=subscription.external_id,
                metric=spec,
                from_datetime=window.start,
                to_datetime=window.end,
                subscription_started_at=started,
            )
        )
    answers = aggregate_many(subscription.organization, requests)
    usage_by_metric = {metric_id: answer.units for metric_id, answer in zip(specs, answers, strict=True)}
    for item in limited:
        value = item.value
        limit = int(value) if value is not None and item.value_type == "integer" else None
        item.usage = PrivilegeUsage(
            billable_metric_code=item.billable_metric_code or "",
            from_datetime=window.start,
            to_datetime=window.to_datetime,
            current_usage=usage_by_metric[item.billable_metric_id],
            limit=limit,
        )
