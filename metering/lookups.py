"""Cached reads for the single-event hot path: metric definitions and subscription references.

`POST /api/v1/events` needs, for its one event, the live metric of its code (aggregation type,
field, expression, filter keys) and the subscription its `external_subscription_id` names. Read
from PostgreSQL on every request, that is two round trips and ORM work per event; these functions
answer from a per-process cache (`billing_project.core.localcache`) for
`EVENTS_LOOKUP_CACHE_SECONDS` (metrics, default 5) and `EVENTS_SUBSCRIPTION_CACHE_SECONDS`
(subscriptions, default 30); 0 disables either.

Only *found* answers are cached: a metric or a subscription created a moment ago is seen by the
very next event in every process (a miss always asks the database). What may be stale, and for
how long:
* in the process that made the change: nothing. Saving or deleting a `BillableMetric`, a
  `BillableMetricFilter` or a `Subscription` empties the matching cache (receivers connected in
  `MeteringConfig.ready()`);
* in other processes, a metric's changed field, expression or filter keys, or its deletion, for at
  most `EVENTS_LOOKUP_CACHE_SECONDS` (events are still stored; `manage.py rebuild_usage_rollups`
  recomputes values and rollups from raw events, as after any metric change); and for at most
  `EVENTS_SUBSCRIPTION_CACHE_SECONDS`, a plan change that replaced the subscription behind an
  external id: the event records the previous subscription's id (its `lago_subscription_id`);
  usage is aggregated by `external_subscription_id`, so what is billed does not change.
  Changes written with `QuerySet.update()` are bounded by the same delays.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any, TypeVar

from billing_project.core.localcache import LocalCache
from customers.models import Organization
from metering.selectors import MetricInfo, metrics_by_code
from subscriptions import selectors as subscription_selectors
from subscriptions.selectors import SubscriptionRef

TTL_SETTING = "EVENTS_LOOKUP_CACHE_SECONDS"

_metrics = LocalCache("event_metrics", ttl_setting=TTL_SETTING, default_ttl=5.0)
_subscriptions = LocalCache("event_subscriptions", ttl_setting="EVENTS_SUBSCRIPTION_CACHE_SECONDS", default_ttl=30.0)


V = TypeVar("V")


def _cached(
    cache: LocalCache,
    organization: Organization,
    keys: Collection[str],
    read: Callable[[Organization, set[str]], Mapping[str, V]],
) -> dict[str, V]:
    """The values of `keys` from `cache`, the missing ones read at once (`read`) and cached; keys
    `read` does not find are left out (and not cached)."""
    found: dict[str, V] = {}
    missing: set[str] = set()
    for key in keys:
        value = cache.get((organization.pk, key))
        if value is None:
            missing.add(key)
        else:
            found[key] = value
    if missing:
        for key, value in read(organization, missing).items():
            cache.set((organization.pk, key), value)
            found[key] = value
    return found


def metrics_by_code_cached(organization: Organization, codes: Collection[str]) -> dict[str, MetricInfo]:
    """`metering.selectors.metrics_by_code`, answered from the cache where it can."""
    return _cached(_metrics, organization, codes, metrics_by_code)


def subscriptions_cached(organization: Organization, external_ids: Collection[str]) -> dict[str, SubscriptionRef]:
    """`subscriptions.selectors.subscription_refs`, answered from the cache where it can."""
    return _cached(_subscriptions, organization, external_ids, subscription_selectors.subscription_refs)


def forget_metrics(*args: Any, **kwargs: Any) -> None:
    _metrics.clear()


def forget_subscriptions(*args: Any, **kwargs: Any) -> None:
    _subscriptions.clear()


def connect() -> None:
    """Empty the caches when this process changes what they hold (MeteringConfig.ready())."""
    from django.db.models.signals import post_delete, post_save

    for sender, receiver in (
        ("catalog.BillableMetric", forget_metrics),
        ("catalog.BillableMetricFilter", forget_metrics),
        ("subscriptions.Subscription", forget_subscriptions),
    ):
        for signal, kind in ((post_save, "save"), (post_delete, "delete")):
            signal.connect(receiver, sender=sender, weak=False, dispatch_uid=f"metering.lookups.{kind}.{sender}")
