"""A subscription's fixed charges: its quantity of each, over time (docs/billing-semantics.md §5.9).

    fixed_charge_root_id(fixed_charge)                    the id quantities are recorded under
    subscription_fixed_charges(subscription, at=None)     the plan's fixed charges and the units held
    subscription_fixed_charge_update(organization, external_id=, code=, data=, at=None)
    fixed_charge_units_set(subscription, fixed_charge, units=, at=, apply_units_immediately=)
    fixed_charge_units_propagate(fixed_charge_id, at=, apply_units_immediately=, old_units=)

Quantities are recorded under the plan's own fixed charge (the parent of a plan override's copy),
so a subscription keeps its history when it moves to an override plan. A change applied at once
(`apply_units_immediately`) holds from `at`; otherwise from the subscription's next base period.
A change applied at once sends `signals.fixed_charge_units_changed` on commit, and invoicing bills
the increase of a fixed charge paid in advance (docs/billing-semantics.md §5.9).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from billing_project.core.errors import ValidationFailure
from billing_project.core.found import found
from billing_project.core.inputs import UNSET
from catalog import services as catalog_services
from catalog.inputs import FixedChargeFields, PlanOverrides
from catalog.models import FixedCharge
from catalog.services.fixed_charges import fixed_charge_units
from customers.models import Organization
from subscriptions import periods, signals
from subscriptions.models import FixedChargeUnits, Subscription, SubscriptionStatus
from subscriptions.selectors import schedule_for, subscription_get

LIVE = (SubscriptionStatus.ACTIVE, SubscriptionStatus.PENDING)


def fixed_charge_root_id(fixed_charge: FixedCharge) -> Any:
    return fixed_charge.parent_id or fixed_charge.id


def _held(rows: list[FixedChargeUnits], default: Decimal, at: dt.datetime) -> Decimal:
    units = default
    for row in rows:
        if row.timestamp > at:
            break
        units = row.units
    return units


def subscription_fixed_charges(
    subscription: Subscription, at: dt.datetime | None = None
) -> list[tuple[FixedCharge, Decimal]]:
    """The live fixed charges of the subscription's plan with the units it holds at `at` (now)."""
    at = at or timezone.now()
    fixed = list(
        FixedCharge.live.filter(plan_id=subscription.plan_id)
        .select_related("add_on")
        .prefetch_related("taxes")
        .order_by("created_at", "id")
    )
    rows: dict[Any, list[FixedChargeUnits]] = {}
    for row in FixedChargeUnits.objects.filter(subscription=subscription).order_by("timestamp", "created_at"):
        rows.setdefault(row.fixed_charge_id, []).append(row)
    return [(f, _held(rows.get(fixed_charge_root_id(f), []), f.units, at)) for f in fixed]


def _effective_at(subscription: Subscription, at: dt.datetime, *, immediately: bool) -> dt.datetime:
    if immediately or subscription.started_at is None:
        return at
    schedule = schedule_for(subscription)
    if schedule is None:
        return at
    return periods.period_at(schedule, at).full.end


def fixed_charge_units_set(
    subscription: Subscription,
    fixed_charge: FixedCharge,
    *,
    units: Decimal,
    at: dt.datetime,
    apply_units_immediately: bool,
    held_before: Decimal | None = None,
) -> FixedChargeUnits:
    """Record the subscription's new quantity (inside the caller's transaction). `held_before`: the
    quantity held until now when nothing is recorded yet (default: the fixed charge's units)."""
    root = fixed_charge_root_id(fixed_charge)
    if not FixedChargeUnits.objects.filter(subscription=subscription, fixed_charge_id=root).exists():
        # The quantity held until now, so that the change does not rewrite the past.
        FixedChargeUnits.objects.create(
            organization_id=subscription.organization_id,
            subscription=subscription,
            fixed_charge_id=root,
            units=fixed_charge.units if held_before is None else held_before,
            timestamp=subscription.started_at or subscription.subscription_at,
        )
    row = FixedChargeUnits.objects.create(
        organization_id=subscription.organization_id,
        subscription=subscription,
        fixed_charge_id=root,
        units=units,
        timestamp=_effective_at(subscription, at, immediately=apply_units_immediately),
    )
    if apply_units_immediately and subscription.status == SubscriptionStatus.ACTIVE:
        sub_id, fixed_id, when = subscription.id, fixed_charge.id, row.timestamp
        transaction.on_commit(
            lambda: signals.fixed_charge_units_changed.send(
                sender=Subscription, subscription_id=sub_id, fixed_charge_id=fixed_id, at=when
            )
        )
    return row


@transaction.atomic
def subscription_fixed_charge_update(
    organization: Organization,
    *,
    external_id: str,
    code: str,
    data: FixedChargeFields,
    at: dt.datetime | None = None,
    status: str | None = None,
) -> tuple[FixedCharge, Decimal]:
    """Lago's `PUT /subscriptions/{external_id}/fixed_charges/{code}`: the subscription's own units
    (recorded, from now or its next period) and price (invoice_display_name, properties, tax_codes:
    on the subscription's override plan, created from its plan when it has none)."""
    at = at or timezone.now()
    named = subscription_get(organization, external_id, status=status)
    subscription = Subscription.objects.select_for_update().select_related("plan").get(pk=named.pk)
    fixed = found(
        FixedCharge.live.filter(plan_id=subscription.plan_id, code=code).select_related("add_on").first(),
        "fixed_charge",
    )
    units = None
    if data.units is not UNSET and data.units is not None:
        units = fixed_charge_units(data.units)
        if units is None:
            raise ValidationFailure.single("units", "value_is_invalid")
    price_sent = any(getattr(data, name) is not UNSET for name in ("invoice_display_name", "properties", "tax_codes"))
    if price_sent:
        if subscription.plan.parent_id is None:
            child = catalog_services.plan_override_create(organization, parent=subscription.plan, data=PlanOverrides())
            subscription.plan = child
            subscription.save(update_fields=["plan", "updated_at"])
            fixed = FixedCharge.live.select_related("add_on", "plan").get(plan=child, parent_id=fixed.id)
        catalog_services.fixed_charge_override(
            organization,
            fixed,
            FixedChargeFields(
                invoice_display_name=data.invoice_display_name, properties=data.properties, tax_codes=data.tax_codes
            ),
        )
    if units is not None:
        fixed_charge_units_set(
            subscription,
            fixed,
            units=units,
            at=at,
            apply_units_immediately=bool(data.apply_units_immediately),
        )
    held = {f.id: u for f, u in subscription_fixed_charges(subscription, at)}
    return fixed, held.get(fixed.id, fixed.units)


def fixed_charge_units_propagate(
    fixed_charge_id: Any, *, at: dt.datetime, apply_units_immediately: bool, old_units: Decimal
) -> int:
    """A plan's fixed charge got new units: its live subscriptions hold them (from `at` or from their
    next period). Subscriptions on an override plan keep their own copy's units."""
    fixed = FixedCharge.objects.filter(pk=fixed_charge_id).select_related("plan").first()
    if fixed is None or fixed.deleted_at is not None:
        return 0
    count = 0
    with transaction.atomic():
        for subscription in Subscription.objects.select_for_update().filter(plan_id=fixed.plan_id, status__in=LIVE):
            fixed_charge_units_set(
                subscription,
                fixed,
                units=fixed.units,
                at=at,
                apply_units_immediately=apply_units_immediately,
                held_before=old_units,
            )
            count += 1
    return count
