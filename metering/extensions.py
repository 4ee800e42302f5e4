"""Extension points that apps below `metering` fill in at start-up (AppConfig.ready()).

`metering` may not import `subscriptions`, yet it must know which subscription an event's
`external_subscription_id` names (to report events for unknown subscriptions, and to skip events
dated before a subscription started). The subscriptions app registers the real lookup:

    from metering.extensions import register_subscription_lookup
    register_subscription_lookup(my_lookup)   # in SubscriptionsConfig.ready()

`lookup_subscriptions` returns `{}` while nothing is registered.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from uuid import UUID

if TYPE_CHECKING:
    from customers.models import Organization


@dataclass(frozen=True)
class SubscriptionRef:
    id: UUID
    external_id: str
    customer_id: UUID
    plan_id: UUID
    started_at: datetime
    terminated_at: datetime | None
    # The earliest start of the customer's subscriptions with this external id (plan changes
    # create new rows): recurring metrics count events from here. None: `started_at`.
    initial_started_at: datetime | None = None


SubscriptionLookup = Callable[["Organization", Collection[str]], dict[str, SubscriptionRef]]

_lookup: SubscriptionLookup | None = None


def register_subscription_lookup(fn: SubscriptionLookup | None) -> None:
    """Install the function that resolves external subscription ids (None uninstalls it)."""
    global _lookup
    _lookup = fn


def registered_subscription_lookup() -> SubscriptionLookup | None:
    return _lookup


def subscription_lookup_registered() -> bool:
    return _lookup is not None


def lookup_subscriptions(organization: Organization, external_ids: Collection[str]) -> dict[str, SubscriptionRef]:
    """The subscriptions of this organization among `external_ids`, keyed by external id."""
    if _lookup is None or not external_ids:
        return {}
    return _lookup(organization, external_ids)


# --- the charges period of a subscription (for estimate_fees) ------------------------------------

PeriodLookup = Callable[["Organization", SubscriptionRef, datetime], tuple[datetime, datetime]]

_period_lookup: PeriodLookup | None = None


def register_charges_period_lookup(fn: PeriodLookup | None) -> None:
    """Install `fn(organization, subscription_ref, at) -> (charges_from, charges_to)`, the
    half-open charges period containing `at` (the subscriptions app knows billing periods)."""
    global _period_lookup
    _period_lookup = fn


def charges_period(organization: Organization, ref: SubscriptionRef, at: datetime) -> tuple[datetime, datetime]:
    """The registered answer; without one, the UTC calendar month of `at` (from the start date
    when the subscription started within it)."""
    if _period_lookup is not None:
        return _period_lookup(organization, ref, at)
    from datetime import UTC

    start = at.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)
    return max(start, ref.started_at), end
