"""One subscription's usage charges (Lago's `/subscriptions/{external_id}/charges[/{code}[/filters]]`):
change a charge of the subscription's plan, or its filters, for this subscription only
(docs/subscriptions.md, "Charge overrides").

The first change gives the subscription its own copy of its plan, the child plan of
`plan_overrides` (the catalog's `plan_override_create`: every charge copied with its filters and
taxes, `parent` links kept), and points the subscription at it; later changes edit that copy. The
plan other subscriptions share never changes. Billing and current usage price the subscription's
plan, so a change counts from the next computation of its fees.

Each service locks the customer and the subscription (as every subscription change does), finds
the charge (and filter) the client named on the subscription's plan before anything is written (an
unknown one is a 404 and nothing is created), refuses a terminated or canceled subscription (405
`invalid_status`), and records a `charge_override` transition naming the ambient actor.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from billing_project.core.found import found
from catalog import selectors as catalog_selectors
from catalog import services as catalog_services
from catalog.inputs import ChargeFilterFields, ChargeOverrideFields, PlanOverrides
from catalog.models import Charge, ChargeFilter
from customers.models import Organization
from subscriptions.models import Subscription
from subscriptions.services.common import lock_changeable, record_transition

CHARGE_OVERRIDE_EVENT = "charge_override"


def _charge(subscription: Subscription, charge_code: str) -> Charge:
    return found(
        Charge.live.filter(plan_id=subscription.plan_id, code=charge_code).select_related("plan").first(), "charge"
    )


def _own_plan(organization: Organization, subscription: Subscription) -> None:
    """Point the subscription at its own copy of its plan, made now unless it has one."""
    if subscription.plan.parent_id is None:
        subscription.plan = catalog_services.plan_override_create(
            organization, parent=subscription.plan, data=PlanOverrides()
        )
        subscription.save(update_fields=["plan", "updated_at"])


def _record(subscription: Subscription, *, at: datetime, details: dict[str, Any]) -> None:
    record_transition(
        subscription,
        event=CHARGE_OVERRIDE_EVENT,
        from_status=subscription.status,
        at=at,
        details=details,
    )


@transaction.atomic
def subscription_charge_override(
    organization: Organization,
    subscription: Subscription,
    *,
    charge_code: str,
    data: ChargeOverrideFields,
    now: datetime | None = None,
) -> Charge:
    """`PUT /subscriptions/{external_id}/charges/{code}`: the subscription's copy of the charge, with
    the fields sent (invoice_display_name, min_amount_cents, properties, filters, tax_codes)."""
    subscription = lock_changeable(organization.pk, subscription)
    _charge(subscription, charge_code)
    _own_plan(organization, subscription)
    charge = catalog_services.override_charge_update(organization, charge=_charge(subscription, charge_code), data=data)
    _record(subscription, at=now or timezone.now(), details={"charge_code": charge_code})
    return charge


@transaction.atomic
def subscription_charge_filter_create(
    organization: Organization,
    subscription: Subscription,
    *,
    charge_code: str,
    data: ChargeFilterFields,
    now: datetime | None = None,
) -> ChargeFilter:
    """`POST /subscriptions/{external_id}/charges/{code}/filters`."""
    subscription = lock_changeable(organization.pk, subscription)
    _charge(subscription, charge_code)
    _own_plan(organization, subscription)
    charge_filter = catalog_services.override_charge_filter_create(
        organization, charge=_charge(subscription, charge_code), data=data
    )
    return _filter_recorded(subscription, charge_code, "create", charge_filter, now)


def _filter_recorded(
    subscription: Subscription, charge_code: str, change: str, charge_filter: ChargeFilter, now: datetime | None
) -> ChargeFilter:
    """`charge_filter`, after the subscription's history records the `change` of a filter of its charge."""
    _record(
        subscription,
        at=now or timezone.now(),
        details={"charge_code": charge_code, "filter": change, "values": charge_filter.values},
    )
    return charge_filter


def _filter_copy(
    organization: Organization, subscription: Subscription, charge_code: str, filter_id: str
) -> ChargeFilter:
    """The filter named by `filter_id` on the subscription's plan, as the subscription's own copy
    (the same values on its copy of the charge)."""
    named = catalog_selectors.charge_filter_get(_charge(subscription, charge_code), filter_id)
    _own_plan(organization, subscription)
    return found(
        catalog_selectors.charge_filter_with_values(_charge(subscription, charge_code), named.values), "charge_filter"
    )


@transaction.atomic
def subscription_charge_filter_update(
    organization: Organization,
    subscription: Subscription,
    *,
    charge_code: str,
    filter_id: str,
    data: ChargeFilterFields,
    now: datetime | None = None,
) -> ChargeFilter:
    """`PUT /subscriptions/{external_id}/charges/{code}/filters/{id}`: the fields sent (values,
    properties, invoice_display_name) on the subscription's copy of the filter."""
    subscription = lock_changeable(organization.pk, subscription)
    copy = _filter_copy(organization, subscription, charge_code, filter_id)
    charge_filter = catalog_services.override_charge_filter_update(organization, charge_filter=copy, data=data)
    return _filter_recorded(subscription, charge_code, "update", charge_filter, now)


@transaction.atomic
def subscription_charge_filter_delete(
    organization: Organization,
    subscription: Subscription,
    *,
    charge_code: str,
    filter_id: str,
    now: datetime | None = None,
) -> ChargeFilter:
    """`DELETE /subscriptions/{external_id}/charges/{code}/filters/{id}`: the subscription's copy of
    the filter goes (its events are then priced by the charge's own properties)."""
    subscription = lock_changeable(organization.pk, subscription)
    copy = _filter_copy(organization, subscription, charge_code, filter_id)
    charge_filter = catalog_services.override_charge_filter_delete(organization, charge_filter=copy)
    return _filter_recorded(subscription, charge_code, "delete", charge_filter, now)
