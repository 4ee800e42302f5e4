"""The entitlement read an application makes before serving each request of its own:
`GET /subscriptions/{external_id}/entitlements[/{feature_code}]` (docs/entitlements.md, "Speed").

A warm read is **one statement** and no model instance: it finds the subscription (organization,
external id, status, ordered as `subscription_get`), reads the organization's entitlements version
and the fields the charges window depends on, and, in a lateral subquery
(`metering.bulk.subscription_totals_sql`), the usage of the usage-limited metrics over the window
the previous read of the same key found. The resolution (plan entitlements, overrides, removals,
the metrics of the limits) comes from `_reads`, a per-process cache keyed by (organization,
external id, status, feature); an entry is used only when the statement shows that nothing it was
built from changed:

* the same subscription row, plan and parent plan, and the same entitlements version (every
  entitlements service increments it in the transaction of its change, so every worker sees a
  change from its commit on);
* the same inputs of the charges window (the subscription's dates, billing time and termination,
  the plan's interval and monthly flags, the customer's and the organization's timezones), and the
  window computed from them now is the one the usage was asked for (a new period is a miss).

Anything else is a miss: the full read (`_full_read`: the subscription as a model, the resolution,
`aggregate_many` for the usage, 2 to 4 statements), whose result is remembered for the next read.
The usage itself is never cached: each read sums the rollups and edge events of that moment.
What the cache may leave stale: a billable metric's definition changed in the catalog (its
aggregation type, rounding, live filter keys; no entitlements service announces it), up to
`ENTITLEMENTS_CACHE_SECONDS` (default 60; 0 turns the cache off, and every read is a full read).
An entry older than that is checked, not dropped (`_still_holds`: its metrics' definitions read
again in one more statement) and kept another TTL when they did not change; otherwise the full
read. Bounded at 10,000 entries per process. Not on PostgreSQL (SQLite), or for metrics `aggregate_many` does not answer in bulk (or an
organization whose events are in ClickHouse), every read is a full read.
"""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import cache
from types import SimpleNamespace
from typing import Any

from django.db import connection
from django.db.models import OuterRef, QuerySet, Subquery
from django.utils import timezone

from billing_project.core.errors import NotFoundFailure
from billing_project.core.localcache import LocalCache
from billing_project.core.prepared import PreparedQuery
from catalog.models import BillableMetric, BillableMetricFilter, Plan
from customers.models import Customer, Organization
from entitlements.models import EntitlementsVersion
from entitlements.selectors import (
    PrivilegeUsage,
    ResolvedEntitlement,
    fill_usage,
    subscription_entitlements,
)
from metering.aggregation import MetricSpec
from metering.bulk import (
    UsageRequest,
    handled_in_bulk,
    quoted_column,
    subscription_totals_sql,
    totals_result,
    usage_ranges,
)
from subscriptions import periods
from subscriptions import selectors as subscription_selectors
from subscriptions.models import Subscription, SubscriptionStatus

_reads = LocalCache("entitlements_reads", ttl_setting="ENTITLEMENTS_CACHE_SECONDS", default_ttl=60.0)

# `subscription_get`'s order for each status (the newest row of an external id first).
_ORDER = {
    SubscriptionStatus.TERMINATED: ("-terminated_at", "-created_at"),
    SubscriptionStatus.CANCELED: ("-canceled_at", "-created_at"),
}
_DEFAULT_ORDER = ("-created_at", "id")

# The head of the statement's rows: the subscription's id (text), the entitlements version, and
# one text holding what the resolution and the charges window depend on: the plan and its parent,
# and what `subscription_selectors.schedule_for` reads (a row value's text form: NULLs are empty
# fields, so no two different rows print alike). One text compares cheaper than a dozen columns.
_FINGERPRINT = (
    ("s", "plan"), ("p", "parent"), ("s", "started_at"), ("s", "billing_time"), ("s", "subscription_at"),
    ("s", "terminated_at"), ("s", "termination_reason"), ("s", "trial_ends_at"), ("p", "interval"),
    ("p", "bill_charges_monthly"), ("p", "bill_fixed_charges_monthly"), ("c", "timezone"),
)  # fmt: skip
_HEAD = 3
_STATUSES = frozenset(SubscriptionStatus.values)
_NO_WINDOW = usage_ranges(datetime(1970, 1, 1, tzinfo=UTC), datetime(1970, 1, 1, tzinfo=UTC))


@cache
def _statement(status: str) -> str:
    """The read's SQL for one status (table and column names from the models)."""
    sub, plan, customer, version = Subscription._meta, Plan._meta, Customer._meta, EntitlementsVersion._meta
    col = quoted_column

    def order(field: str) -> str:
        return f"s.{col(sub, field.lstrip('-'))} {'DESC' if field.startswith('-') else 'ASC'}"

    metas = {"s": sub, "p": plan, "c": customer}
    fingerprint = ", ".join(f"{alias}.{col(metas[alias], name)}" for alias, name in _FINGERPRINT)
    return (
        f"WITH h AS (SELECT s.{col(sub, 'id')}::text AS id,"  # noqa: S608 - identifiers from the models, values are parameters
        f' (SELECT v.{col(version, "version")} FROM "{version.db_table}" v'
        f"  WHERE v.{col(version, 'organization')} = s.{col(sub, 'organization')}) AS version,"
        f" ROW({fingerprint})::text AS fingerprint"
        f' FROM "{sub.db_table}" s'
        f' JOIN "{plan.db_table}" p ON p.{col(plan, "id")} = s.{col(sub, "plan")}'
        f' JOIN "{customer.db_table}" c ON c.{col(customer, "id")} = s.{col(sub, "customer")}'
        f" WHERE s.{col(sub, 'organization')} = %(organization)s AND s.{col(sub, 'external_id')} = %(subscription)s"
        f" AND s.{col(sub, 'status')} = %(status)s"
        f" ORDER BY {', '.join(order(f) for f in _ORDER.get(SubscriptionStatus(status), _DEFAULT_ORDER))} LIMIT 1)"
        f" SELECT h.*, u.* FROM h LEFT JOIN LATERAL ({subscription_totals_sql()}) u ON TRUE"
    )


@dataclass(frozen=True)
class _Known:
    """What an earlier read of the same key found: valid while `head` (id, version, fingerprint)
    is unchanged and the charges window is `window`."""

    head: tuple[Any, ...]
    organization_timezone: str
    resolved: list[ResolvedEntitlement]  # without usage; never handed out (see `_copies`)
    schedule: periods.Schedule | None
    window: periods.Window | None  # the charges window the usage was read for
    specs: dict[Any, MetricSpec]  # billable metric id -> spec, of the usage-limited privileges
    one_statement: bool  # every spec answered by the lateral subquery (else: full reads)


def _copies(resolved: list[ResolvedEntitlement]) -> list[ResolvedEntitlement]:
    """Copies whose `usage` can be set without touching the cached entry (the rest is never mutated)."""
    return [replace(e, privileges=[copy.copy(p) for p in e.privileges]) for e in resolved]


def subscription_entitlements_read(
    organization: Organization,
    external_id: str,
    *,
    status: str | None = None,
    feature_code: str | None = None,
    at: datetime | None = None,
) -> list[ResolvedEntitlement]:
    """The subscription's entitlements with usage (`selectors.subscription_entitlements`), for the
    API's two reads; 404 `subscription_not_found` as `subscription_get`."""
    status = status or SubscriptionStatus.ACTIVE
    if status not in _STATUSES:
        raise NotFoundFailure("subscription")
    now = at or timezone.now()
    if connection.vendor != "postgresql":
        return _full_read(organization, external_id, status, feature_code, now, head=None)
    key = (organization.pk, external_id, status, feature_code)
    known, fresh = _reads.peek(key)
    params: dict[str, Any] = {"organization": organization.pk, "subscription": external_id, "status": status}
    if known is not None and known.one_statement and known.window is not None:
        params["codes"] = sorted({spec.code for spec in known.specs.values()})
        params.update(usage_ranges(known.window.start, known.window.end))  # clipped to the start already
    else:
        params["codes"] = []
        params.update(_NO_WINDOW)
    with connection.cursor() as cursor:
        cursor.execute(_statement(status), params)
        rows = cursor.fetchall()
    if not rows:
        raise NotFoundFailure("subscription")
    head = rows[0][:_HEAD]
    if (
        known is not None
        and known.one_statement
        and known.head == head
        and known.organization_timezone == organization.timezone
    ):
        window = periods.charges_window_at(known.schedule, now) if known.schedule is not None else None
        if window == known.window and (fresh or _still_holds(organization, key, known)):
            return _with_usage(known, rows)
    # An expired entry's resolution is not reused (its metrics were not checked): the full read.
    return _full_read(
        organization, external_id, status, feature_code, now, head=head, key=key, known=known if fresh else None
    )


_SPEC_FIELDS = ("code", "aggregation_type", "field_name", "recurring", "rounding_function", "rounding_precision")


@cache
def _metrics_statement() -> str:
    """The metrics' fields `MetricSpec.of` reads, and their live filters' keys, by id."""
    metric, filter_ = BillableMetric._meta, BillableMetricFilter._meta
    col = quoted_column
    fields = ", ".join(f"m.{col(metric, name)}" for name in _SPEC_FIELDS)
    return (
        f"SELECT m.{col(metric, 'id')}, {fields},"  # noqa: S608 - identifiers from the models, values are parameters
        f' ARRAY(SELECT f.{col(filter_, "key")} FROM "{filter_.db_table}" f'
        f"  WHERE f.{col(filter_, 'billable_metric')} = m.{col(metric, 'id')} AND f.{col(filter_, 'deleted_at')} IS NULL)"
        f' FROM "{metric.db_table}" m'
        f" WHERE m.{col(metric, 'organization')} = %(organization)s AND m.{col(metric, 'id')} = ANY(%(ids)s)"
    )


def _still_holds(organization: Organization, key: tuple[Any, ...], known: _Known) -> bool:
    """An entry older than `ENTITLEMENTS_CACHE_SECONDS` whose head and window still match: checks
    what the TTL bounds (the definitions of its metrics, one statement) and, when they are the
    ones it was built from, keeps the entry another TTL (`_reads.set`), instead of the full read."""
    if organization.events_store == "clickhouse":
        return False
    if known.specs:
        with connection.cursor() as cursor:
            cursor.execute(_metrics_statement(), {"organization": organization.pk, "ids": list(known.specs)})
            found = {
                row[0]: MetricSpec.of(SimpleNamespace(**dict(zip(_SPEC_FIELDS, row[1:], strict=False))), row[-1])
                for row in cursor.fetchall()
            }
        if found != known.specs:
            return False
    _reads.set(key, known)
    return True


def _with_usage(known: _Known, rows: list[tuple[Any, ...]]) -> list[ResolvedEntitlement]:
    resolved = _copies(known.resolved)
    if known.window is None or not known.specs:
        return resolved
    totals = {row[_HEAD]: row[_HEAD + 1 :] for row in rows if row[_HEAD] is not None}
    units = {
        metric_id: totals_result(spec, *totals.get(spec.code, (None, None, None, None))).units
        for metric_id, spec in known.specs.items()
    }
    window = known.window
    for entitlement in resolved:
        for item in entitlement.privileges:
            if item.metric is not None:
                item.usage = PrivilegeUsage(
                    billable_metric_code=item.billable_metric_code or "",
                    from_datetime=window.start,
                    to_datetime=window.to_datetime,
                    current_usage=units[item.billable_metric_id],
                    limit=int(item.value) if item.value is not None and item.value_type == "integer" else None,
                )
    return resolved


def _read_subscription_query(status: str) -> PreparedQuery:
    """The subscription as a model with its plan and customer (what the full read needs), compiled
    once per process (`billing_project.core.prepared`). Ordered as `subscription_get`."""

    def build(p: Any) -> QuerySet[Subscription]:
        return (
            Subscription.objects.filter(organization_id=p.organization, external_id=p.subscription, status=status)
            .select_related("plan", "customer")
            .annotate(
                entitlements_version=Subquery(
                    EntitlementsVersion.objects.filter(organization_id=OuterRef("organization_id")).values("version")[
                        :1
                    ]
                )
            )
            .order_by(*_ORDER.get(SubscriptionStatus(status), _DEFAULT_ORDER))[:1]
        )

    return PreparedQuery(build, organization=uuid.UUID, subscription=str)


_READ_SUBSCRIPTION = {status: _read_subscription_query(status) for status in SubscriptionStatus.values}


def _full_read(
    organization: Organization,
    external_id: str,
    status: str,
    feature_code: str | None,
    now: datetime,
    *,
    head: tuple[Any, ...] | None,
    key: tuple[Any, ...] | None = None,
    known: _Known | None = None,
) -> list[ResolvedEntitlement]:
    """The read without the cache: the subscription as a model, its resolution (reused from `known`
    when only the window moved), the usage through `aggregate_many`; remembered under `key`."""
    rows = _READ_SUBSCRIPTION[status].fetch(organization=organization.pk, subscription=external_id)
    if not rows:
        raise NotFoundFailure("subscription")
    subscription = rows[0]
    subscription.organization = subscription.customer.organization = organization  # a tenant-scoped read
    if known is not None and known.head == head and known.organization_timezone == organization.timezone:
        resolved = known.resolved  # only the window moved (a new period)
    else:
        resolved = subscription_entitlements(organization, subscription, feature_code=feature_code, with_usage=False)
    answer = _copies(resolved)
    fill_usage(subscription, answer, now)
    if (
        key is None
        or head is None
        or head[0] != str(subscription.pk)
        or head[1] != getattr(subscription, "entitlements_version", None)
    ):
        return answer  # the rows moved between the two statements: nothing to remember
    schedule = subscription_selectors.schedule_for(subscription)
    specs = {p.billable_metric_id: p.metric for e in resolved for p in e.privileges if p.metric is not None}
    in_bulk = organization.events_store != "clickhouse" and all(
        handled_in_bulk(UsageRequest(external_id, spec, now, now), spec) for spec in specs.values()
    )
    _reads.set(
        key,
        _Known(
            head=head,
            organization_timezone=organization.timezone,
            resolved=resolved,
            schedule=schedule,
            window=periods.charges_window_at(schedule, now) if schedule is not None else None,
            specs=specs,
            one_statement=in_bulk,
        ),
    )
    return answer
