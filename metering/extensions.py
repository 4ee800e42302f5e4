"""Extension points that apps below `metering` fill in at start-up (AppConfig.ready()).

`metering` may not import `subscriptions`, yet it must know which subscription an event's
`external_subscription_id` names (to report events for unknown subscriptions, and to skip events
dated before a subscription started). The subscriptions app registers the real lookup:

    from metering.extensions import register_subscription_lookup
    register_subscription_lookup(my_lookup)   # in SubscriptionsConfig.ready()

`lookup_subscriptions` returns `{}` while nothing is registered. It also registers
`charges_period` (the billing period of a subscription, for fee estimates). The start-up check
`check_lookups_registered` (Django system check `metering.E001`) fails when either is missing.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol
from uuid import UUID

from django.core import checks
from django.core.exceptions import ImproperlyConfigured

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


class ChargesPeriodLookup(Protocol):
    """The half-open charges period `[start, end)` of `ref` containing `at`, as billing computes it
    (plan interval, calendar or anniversary billing, the customer's timezone, a start or a
    termination within the period). The subscriptions app knows billing periods and fills it."""

    def __call__(self, organization: Organization, ref: SubscriptionRef, at: datetime) -> tuple[datetime, datetime]: ...


_period_lookup: ChargesPeriodLookup | None = None


def register_charges_period_lookup(fn: ChargesPeriodLookup | None) -> None:
    """Install the charges period lookup (`SubscriptionsConfig.ready()`; None uninstalls it)."""
    global _period_lookup
    _period_lookup = fn


def registered_charges_period_lookup() -> ChargesPeriodLookup | None:
    return _period_lookup


def charges_period(organization: Organization, ref: SubscriptionRef, at: datetime) -> tuple[datetime, datetime]:
    """The registered answer. Nothing registered is a configuration error (the start-up check
    `metering.E001` reports it), never a guess."""
    if _period_lookup is None:
        raise ImproperlyConfigured("no charges period lookup is registered (subscriptions app not installed?)")
    return _period_lookup(organization, ref, at)


def check_lookups_registered(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Start-up check (registered in `MeteringConfig.ready()`): the extension points metering reads
    are filled once every app is ready."""
    missing = [
        name
        for name, fn in (
            ("subscription lookup", _lookup),
            ("charges period lookup", _period_lookup),
        )
        if fn is None
    ]
    return [
        checks.Error(
            f"metering's {name} is not registered",
            hint="The subscriptions app registers it in SubscriptionsConfig.ready(); is it in INSTALLED_APPS?",
            id="metering.E001",
        )
        for name in missing
    ]
