"""Subscription lifecycle: create, plan changes, update, terminate, cancel, activate, trials, endings.

Every service owns its transaction, locks the customer row (so two changes to one customer's
subscriptions run one after the other) and the subscription rows it changes, asks the state
machine whether the transition is allowed, records who did it and when (`SubscriptionTransition`)
and writes Lago's webhook to the outbox in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from billing_project.core.errors import ConflictFailure, NotAllowedFailure, NotFoundFailure, ValidationFailure
from billing_project.core.found import found
from billing_project.core.inputs import UNSET, empty, or_none, sent
from catalog.inputs import PlanOverrides
from catalog.models import Plan
from customers import entities
from customers import services as customer_services
from customers.inputs import CustomerUpsert
from customers.models import BillingEntity, Customer, Organization
from customers.payment_choice import PaymentMethodInput, payment_method_choose
from customers.section_choice import SectionChoiceInput, section_choice
from subscriptions import periods, selectors, signals, state_machine
from subscriptions.inputs import SubscriptionCreate, SubscriptionUpdate
from subscriptions.models import (
    BillingTime,
    OnTerminationCreditNote,
    OnTerminationInvoice,
    Subscription,
    SubscriptionStatus,
    TerminationReason,
)
from subscriptions.services.common import (
    emit,
    lock_changeable,
    lock_customer,
    lock_subscription,
    parse_instant,
    record_transition,
)
from subscriptions.services.overrides import plan_override_create, plan_override_update
from subscriptions.state_machine import Event

# `downgrade_timing` (bxb extra on POST /subscriptions): Lago only downgrades at the period end.
DOWNGRADE_AT_PERIOD_END = "period_end"
DOWNGRADE_IMMEDIATELY = "immediate"
DOWNGRADE_TIMINGS = (DOWNGRADE_AT_PERIOD_END, DOWNGRADE_IMMEDIATELY)


def termination_alert_days() -> list[int]:
    """Days before `ending_at` when `subscription.termination_alert` is sent (settings; Lago: 45, 15)."""
    return list(getattr(settings, "SUBSCRIPTION_TERMINATION_ALERT_DAYS", None) or [45, 15])


# --- validation -------------------------------------------------------------------------------


def _instant(value: datetime | str | None, field: str, errors: dict[str, list[str]]) -> datetime | None:
    try:
        return parse_instant(value)
    except ValueError:
        errors[field] = ["invalid_date"]
        return None


def _termination_options(credit_note: str | None, invoice: str | None, errors: dict[str, list[str]]) -> dict[str, str]:
    options: dict[str, str] = {}
    if credit_note is not None:
        if credit_note in OnTerminationCreditNote.values:
            options["on_termination_credit_note"] = credit_note
        else:
            errors["on_termination_credit_note"] = ["value_is_invalid"]
    if invoice is not None:
        if invoice in OnTerminationInvoice.values:
            options["on_termination_invoice"] = invoice
        else:
            errors["on_termination_invoice"] = ["value_is_invalid"]
    return options


def _live_plan(organization: Organization, code: str) -> Plan:
    return found(
        Plan.live.filter(organization=organization, code=code, parent__isnull=True, pending_deletion=False).first(),
        "plan",
    )


def _effective_yearly(plan: Plan, overrides: PlanOverrides | None) -> int:
    amount = plan.amount_cents
    if overrides is not None and (override := or_none(overrides.amount_cents)) is not None:
        amount = override
    return periods.yearly_amount_cents(amount, plan.interval)


def _overrides(overrides: PlanOverrides | None) -> PlanOverrides | None:
    """The plan overrides sent, None when none (null, or nothing in them)."""
    return None if overrides is None or empty(overrides) else overrides


@dataclass(frozen=True)
class _Request:
    """A checked `POST /subscriptions`."""

    external_customer_id: str
    external_id: str
    name: str | None
    billing_time: str
    subscription_at: datetime
    given: set[str]
    ending_at: datetime | None
    downgrade_timing: str
    options: dict[str, str]
    overrides: PlanOverrides | None
    bill_past_periods: bool
    payment_method: PaymentMethodInput | None
    # Lago's `billing_entity_code` (resolved; None: not sent or empty), `invoice_custom_section`
    # and `purchase_order_number` (None: not sent).
    billing_entity: BillingEntity | None
    sections: SectionChoiceInput | None
    purchase_order_number: str | None


# What decides how a subscription's invoices are issued (the entity that bills them, their
# custom sections, their purchase order number): kept across plan changes unless sent again.
_INVOICE_FIELDS = ("billing_entity_id", "purchase_order_number", "skip_invoice_custom_sections",
                   "invoice_custom_section_ids")  # fmt: skip


def _apply_invoice_fields(subscription: Subscription, request: _Request) -> None:
    """The entity, sections and purchase order number the request sent (what it left out stays)."""
    if request.billing_entity is not None:
        subscription.billing_entity = request.billing_entity
    if request.purchase_order_number is not None:
        subscription.purchase_order_number = request.purchase_order_number
    choice = section_choice(subscription.organization_id, request.sections, current=subscription.section_choice)
    for field, value in choice.fields().items():
        setattr(subscription, field, value)


# --- transitions (row already locked) ---------------------------------------------------------


def _send(signal: Any, subscription: Subscription, reason: str) -> None:
    signal.send(
        sender=Subscription, subscription=subscription, organization=subscription.organization, reason=str(reason)
    )


def _start(subscription: Subscription, *, at: datetime, reason: str = "") -> None:
    """pending → active at `at` (trial only on a first subscription, not after a plan change)."""
    from_status = subscription.status
    subscription.status = state_machine.target_status(from_status, Event.ACTIVATE)
    subscription.started_at = at
    subscription.activation_at = None
    if subscription.previous_subscription_id is None:
        subscription.trial_ends_at = periods.trial_ends_at(at, subscription.plan.trial_period)
    subscription.save()
    record_transition(subscription, event=Event.ACTIVATE, from_status=from_status, at=at, reason=reason)
    emit(subscription, "subscription.started")
    _send(signals.subscription_started, subscription, reason)


def _past_periods(subscription: Subscription, now: datetime) -> int:
    """How many billing periods (invoice windows) of a started subscription ended by `now`."""
    schedule = selectors.schedule_for(subscription)
    if schedule is None:
        return 0
    count, position = 0, schedule.started_at
    while count <= settings.SUBSCRIPTION_MAX_PAST_PERIODS:
        window = periods.invoice_window_at(schedule, position)
        if window.end > now or window.end <= position:
            break
        count, position = count + 1, window.end
    return count


def _start_from_request(subscription: Subscription, *, at: datetime, now: datetime, bill_past_periods: bool) -> None:
    """Start a subscription whose requested start has come, applying the back-dating rule
    (docs/subscriptions.md, "Back-dated subscriptions"): a start in the past is billed from the
    period holding `now` on; with `bill_past_periods` every period since the start is billed, at
    most `SUBSCRIPTION_MAX_PAST_PERIODS` of them (422 `too_many_past_periods` beyond)."""
    subscription.billing_from = now if at < now and not bill_past_periods else None
    _start(subscription, at=at)
    if bill_past_periods and _past_periods(subscription, now) > settings.SUBSCRIPTION_MAX_PAST_PERIODS:
        raise ValidationFailure.single("subscription_at", "too_many_past_periods")


def _terminate(
    subscription: Subscription,
    *,
    at: datetime,
    reason: str,
    options: dict[str, str] | None = None,
    successor: Subscription | None = None,
) -> None:
    """active → terminated at `at`. Pending rows that would have followed it are canceled, except
    `successor`, the (already saved, still pending) row that replaces it in a plan change."""
    from_status = subscription.status
    subscription.status = state_machine.target_status(from_status, Event.TERMINATE)
    subscription.terminated_at = at
    subscription.termination_reason = reason
    for field, value in (options or {}).items():
        setattr(subscription, field, value)
    if subscription.plan.pay_in_advance and subscription.on_termination_credit_note is None:
        subscription.on_termination_credit_note = OnTerminationCreditNote.CREDIT
    subscription.save()
    record_transition(
        subscription,
        event=Event.TERMINATE,
        from_status=from_status,
        at=at,
        reason=reason,
        details=dict(options or {}),
    )
    emit(subscription, "subscription.terminated")
    _send(signals.subscription_terminated, subscription, reason)
    others = Subscription.objects.select_for_update().filter(
        previous_subscription=subscription, status=SubscriptionStatus.PENDING
    )
    if successor is not None:
        others = others.exclude(pk=successor.pk)
    for following in others:
        _cancel(following, at=at, reason="previous_terminated")


def _cancel(subscription: Subscription, *, at: datetime, reason: str) -> None:
    """pending → canceled (a future start, or a scheduled downgrade)."""
    from_status = subscription.status
    subscription.status = state_machine.target_status(from_status, Event.CANCEL)
    subscription.canceled_at = at
    subscription.cancellation_reason = reason
    subscription.activation_at = None
    subscription.save()
    record_transition(subscription, event=Event.CANCEL, from_status=from_status, at=at, reason=reason)
    # Lago sends `subscription.terminated` for a canceled pending subscription as well.
    emit(subscription, "subscription.terminated")
    _send(signals.subscription_canceled, subscription, reason)


# --- create and plan changes ------------------------------------------------------------------


def subscription_create(
    organization: Organization, data: SubscriptionCreate, *, now: datetime | None = None
) -> Subscription:
    """Lago's `POST /subscriptions`: a new subscription, or a plan change for an existing external_id.

    * unknown customer: created, as Lago does; its (default) currency becomes the plan's when unset;
      a customer may hold subscriptions in several currencies (each subscription's is its plan's);
    * `subscription_at` in the future → pending until then; in the past → active since then;
    * same `external_id`, other plan: upgrade (new yearly amount ≥ old) now, downgrade at the
      period end, or now with `downgrade_timing: "immediate"` (bxb extra).
    """
    now = now or timezone.now()
    errors: dict[str, list[str]] = {}
    for field in ("external_customer_id", "plan_code", "external_id"):
        if not getattr(data, field).strip():
            errors[field] = ["value_is_mandatory"]
    billing_time = data.billing_time or BillingTime.CALENDAR
    if billing_time not in BillingTime.values:
        errors["billing_time"] = ["value_is_invalid"]
    subscription_at = _instant(data.subscription_at, "subscription_at", errors)
    ending_at = _instant(data.ending_at, "ending_at", errors)
    downgrade_timing = data.downgrade_timing or DOWNGRADE_AT_PERIOD_END
    if downgrade_timing not in DOWNGRADE_TIMINGS:
        errors["downgrade_timing"] = ["value_is_invalid"]
    options = _termination_options(data.on_termination_credit_note, data.on_termination_invoice, errors)
    if ending_at is not None and ending_at <= max(subscription_at or now, now):
        errors.setdefault("ending_at", []).append("invalid_date")
    if errors:
        raise ValidationFailure(errors)
    plan = _live_plan(organization, data.plan_code.strip())
    entity = entities.billing_entity_get(organization, data.billing_entity_code) if data.billing_entity_code else None
    section_choice(organization, data.invoice_custom_section)  # 404 on an unknown code, before any write
    request = _Request(
        external_customer_id=data.external_customer_id.strip(),
        external_id=data.external_id.strip(),
        name=data.name,
        billing_time=billing_time,
        subscription_at=subscription_at or now,
        given=data.given(),
        ending_at=ending_at,
        downgrade_timing=downgrade_timing,
        options=options,
        overrides=_overrides(data.plan_overrides),
        bill_past_periods=bool(data.bill_past_periods),
        payment_method=data.payment_method,
        billing_entity=entity,
        sections=data.invoice_custom_section,
        purchase_order_number=data.purchase_order_number,
    )
    try:
        return _create(organization, plan, request, now=now)
    except IntegrityError:
        # A concurrent request created the same external_id first: run again against its result.
        try:
            return _create(organization, plan, request, now=now)
        except IntegrityError as exc:
            raise ConflictFailure("subscription_conflict") from exc


def _customer_for(
    organization: Organization, external_customer_id: str, plan: Plan, entity: BillingEntity | None
) -> Customer:
    customer = (
        Customer.objects.filter(organization=organization, external_id=external_customer_id, deleted_at__isnull=True)
        .select_related("organization")
        .first()
    )
    # The first currency becomes the customer's default; a subscription in another currency is
    # billed on invoices of its own currency (docs/billing-semantics.md §6.9).
    if customer is None:  # created as Lago does, in the entity named for the subscription
        customer, _ = customer_services.customer_upsert(
            organization,
            CustomerUpsert(
                external_id=external_customer_id,
                currency=plan.amount_currency,
                billing_entity_code=entity.code if entity is not None else UNSET,
            ),
        )
    elif customer.currency is None:
        customer, _ = customer_services.customer_upsert(
            organization, CustomerUpsert(external_id=external_customer_id, currency=plan.amount_currency)
        )
    return customer


@transaction.atomic
def _create(organization: Organization, plan: Plan, request: _Request, *, now: datetime) -> Subscription:
    customer = _customer_for(organization, request.external_customer_id, plan, request.billing_entity)
    customer = lock_customer(customer.pk)
    external_id = request.external_id
    live = {
        row.status: row
        for row in Subscription.objects.select_for_update(of=("self",))
        .select_related("plan", "customer", "organization")
        .filter(
            organization=organization,
            external_id=external_id,
            status__in=[SubscriptionStatus.ACTIVE, SubscriptionStatus.PENDING],
        )
    }
    current = live.get(SubscriptionStatus.ACTIVE)
    pending = live.get(SubscriptionStatus.PENDING)
    for row in live.values():
        if row.customer_id != customer.pk:
            raise ValidationFailure.single("external_id", "value_already_exist")
    if current is not None:
        return _change_plan(current, plan, request, customer=customer, now=now)
    if pending is not None:
        return _replace_pending(pending, plan, request, now=now)

    choice = payment_method_choose(customer, request.payment_method)
    effective_plan = plan_override_create(plan, request.overrides) if request.overrides else plan
    subscription = Subscription(
        billing_entity=request.billing_entity,
        purchase_order_number=request.purchase_order_number or "",
        **section_choice(organization, request.sections).fields(),
        organization=organization,
        customer=customer,
        plan=effective_plan,
        external_id=external_id,
        name=request.name or "",
        billing_time=request.billing_time,
        subscription_at=request.subscription_at,
        ending_at=request.ending_at,
        status=SubscriptionStatus.PENDING,
        activation_at=request.subscription_at,
        **request.options,
        **choice.fields(),
    )
    subscription.save()
    record_transition(subscription, event="create", from_status="", at=now)
    if subscription.subscription_at <= now:
        # A past or present start: active since `subscription_at` (docs/billing-semantics.md §5.2).
        _start_from_request(
            subscription,
            at=subscription.subscription_at,
            now=now,
            bill_past_periods=request.bill_past_periods,
        )
    return subscription


def _replace_pending(pending: Subscription, plan: Plan, request: _Request, *, now: datetime) -> Subscription:
    """A second POST for a subscription that has not started yet changes what it sent (plan, name,
    billing time, dates, options); the same POST again changes nothing (a safe retry)."""
    if pending.previous_subscription_id is not None:
        raise NotAllowedFailure(state_machine.REFUSED_CODE)
    fields = ("plan_id", "name", "billing_time", "subscription_at", "activation_at", "ending_at",
              "on_termination_credit_note", "on_termination_invoice",
              "payment_method_type", "payment_method_id", *_INVOICE_FIELDS)  # fmt: skip
    before = {field: getattr(pending, field) for field in fields}
    given = request.given
    choice = payment_method_choose(pending.customer, request.payment_method, current=pending.payment_method_choice)
    for field, value in choice.fields().items():
        setattr(pending, field, value)
    _apply_invoice_fields(pending, request)
    if request.overrides:
        pending.plan = plan_override_create(plan, request.overrides)
    elif pending.plan.code != plan.code:
        pending.plan = plan
    if "name" in given:
        pending.name = request.name or ""
    if "billing_time" in given:
        pending.billing_time = request.billing_time
    if "subscription_at" in given:
        pending.subscription_at = request.subscription_at
        pending.activation_at = request.subscription_at
    if "ending_at" in given:
        pending.ending_at = request.ending_at
    for field, value in request.options.items():
        setattr(pending, field, value)
    if {field: getattr(pending, field) for field in fields} == before:
        return pending
    if pending.ending_at is not None and pending.ending_at <= pending.subscription_at:
        raise ValidationFailure.single("ending_at", "invalid_date")
    pending.save()
    record_transition(pending, event="update", from_status=pending.status, at=now)
    if pending.subscription_at <= now:
        _start_from_request(pending, at=pending.subscription_at, now=now, bill_past_periods=request.bill_past_periods)
    else:
        emit(pending, "subscription.updated")
    return pending


def _change_plan(
    current: Subscription,
    plan: Plan,
    request: _Request,
    *,
    customer: Customer,
    now: datetime,
) -> Subscription:
    current_code = current.plan.code
    choice = payment_method_choose(customer, request.payment_method, current=current.payment_method_choice)
    if current_code == plan.code and not request.overrides:
        # Same plan: nothing to change but the name and the payment method (Lago returns the
        # current subscription).
        changed = {}
        if request.name is not None and request.name != current.name:
            changed["name"] = request.name
        if choice != current.payment_method_choice:
            changed.update(choice.fields())
        before = {field: getattr(current, field) for field in _INVOICE_FIELDS}
        _apply_invoice_fields(current, request)
        changed.update({f: getattr(current, f) for f in _INVOICE_FIELDS if getattr(current, f) != before[f]})
        if changed:
            for field, value in changed.items():
                setattr(current, field, value)
            current.save(update_fields=[*changed, "updated_at"])
        return current
    if current.started_at is not None and now < current.started_at:
        now = current.started_at
    old_yearly = periods.yearly_amount_cents(current.plan.amount_cents, current.plan.interval)
    new_yearly = _effective_yearly(plan, request.overrides)
    upgrade = new_yearly >= old_yearly
    immediate = upgrade or request.downgrade_timing == DOWNGRADE_IMMEDIATELY

    scheduled_rows = list(
        Subscription.objects.select_for_update()
        .select_related("plan")
        .filter(previous_subscription=current, status=SubscriptionStatus.PENDING)
    )
    if not immediate and not request.overrides and [row.plan.code for row in scheduled_rows] == [plan.code]:
        return current  # this downgrade is already scheduled: a repeated request changes nothing
    # A change replaces any downgrade already scheduled for this subscription.
    for scheduled in scheduled_rows:
        _cancel(scheduled, at=now, reason="replaced_by_plan_change")

    effective_plan = plan_override_create(plan, request.overrides) if request.overrides else plan
    successor = Subscription(
        organization=current.organization,
        customer=customer,
        plan=effective_plan,
        previous_subscription=current,
        external_id=current.external_id,
        name=request.name if request.name is not None else current.name,
        billing_time=current.billing_time,
        subscription_at=current.subscription_at,
        ending_at=request.ending_at or current.ending_at,
        on_termination_invoice=current.on_termination_invoice,
        status=SubscriptionStatus.PENDING,
        **choice.fields(),  # the new plan is paid as the old one, unless the request chose otherwise
        **{field: getattr(current, field) for field in _INVOICE_FIELDS},  # billed as the old one too
    )
    _apply_invoice_fields(successor, request)
    if not immediate:
        # Downgrade: the cheaper plan starts when the current period ends (docs/billing-semantics.md §5.6).
        successor.activation_at = selectors.next_period_start(current, now)
        successor.save()
        record_transition(
            successor,
            event="create",
            from_status="",
            at=now,
            reason="downgrade",
            details={"from": current_code},
        )
        emit(current, "subscription.updated")
        return current

    reason = TerminationReason.UPGRADED if upgrade else TerminationReason.DOWNGRADED_NOW
    successor.save()  # pending first, so the termination webhook already names the next plan
    record_transition(successor, event="create", from_status="", at=now, reason=reason)
    _terminate(current, at=now, reason=reason, options=request.options, successor=successor)
    _start(successor, at=now, reason=reason)
    return successor


# --- update -----------------------------------------------------------------------------------


@transaction.atomic
def subscription_update(
    organization: Organization,
    subscription: Subscription,
    data: SubscriptionUpdate,
    *,
    now: datetime | None = None,
) -> Subscription:
    """Lago's `PUT /subscriptions/{external_id}` (partial): name, ending_at, subscription_at while
    pending, plan_overrides and the termination options."""
    now = now or timezone.now()
    subscription = lock_changeable(organization.pk, subscription)
    errors: dict[str, list[str]] = {}
    options = _termination_options(
        or_none(data.on_termination_credit_note), or_none(data.on_termination_invoice), errors
    )
    ending_at = subscription.ending_at
    if (sent_ending_at := data.ending_at) is not UNSET:
        ending_at = _instant(sent_ending_at, "ending_at", errors)
    subscription_at = subscription.subscription_at
    if (requested_at := data.subscription_at) is not UNSET and requested_at is not None:
        parsed = _instant(requested_at, "subscription_at", errors)
        if parsed is not None and subscription.status == SubscriptionStatus.PENDING:
            if subscription.previous_subscription_id is not None:
                errors["subscription_at"] = ["value_is_invalid"]  # a scheduled downgrade keeps its date
            else:
                subscription_at = parsed
    try:
        choice = payment_method_choose(
            subscription.customer, data.payment_method, current=subscription.payment_method_choice
        )
    except ValidationFailure as failure:
        errors.update(failure.details)  # type: ignore[arg-type]
    if sent(data.ending_at) and ending_at is not None and ending_at <= max(subscription_at, now):
        errors.setdefault("ending_at", []).append("invalid_date")
    elif ending_at is not None and ending_at <= subscription_at:
        errors.setdefault("subscription_at", []).append("invalid_date")  # would start after it ends
    if errors:
        raise ValidationFailure(errors)
    # Read (404 on an unknown code) before anything is written.
    if (entity_code := data.billing_entity_code) is not UNSET:  # null or "": the customer's entity again
        subscription.billing_entity = entities.billing_entity_get(organization, entity_code) if entity_code else None
    sections = section_choice(organization, data.invoice_custom_section, current=subscription.section_choice)
    for field, value in sections.fields().items():
        setattr(subscription, field, value)
    if (purchase_order_number := data.purchase_order_number) is not UNSET:
        subscription.purchase_order_number = purchase_order_number or ""

    if (name := or_none(data.name)) is not None:
        subscription.name = name
    subscription.ending_at = ending_at
    for field, value in options.items():
        setattr(subscription, field, value)
    if (overrides := _overrides(or_none(data.plan_overrides))) is not None:
        if subscription.plan.parent_id is not None:
            subscription.plan = plan_override_update(subscription.plan, overrides)
        else:
            subscription.plan = plan_override_create(subscription.plan, overrides)
    if subscription.status == SubscriptionStatus.PENDING and subscription_at != subscription.subscription_at:
        subscription.subscription_at = subscription_at
        subscription.activation_at = subscription_at
    if choice != subscription.payment_method_choice:
        for field, value in choice.fields().items():
            setattr(subscription, field, value)
        # A scheduled downgrade is paid as the subscription it follows.
        for following in Subscription.objects.select_for_update().filter(
            previous_subscription=subscription, status=SubscriptionStatus.PENDING
        ):
            for field, value in choice.fields().items():
                setattr(following, field, value)
            following.save(update_fields=[*choice.fields(), "updated_at"])
    subscription.save()
    record_transition(subscription, event="update", from_status=subscription.status, at=now)
    activation_at = subscription.activation_at
    if subscription.status == SubscriptionStatus.PENDING and activation_at is not None and activation_at <= now:
        _start_from_request(subscription, at=activation_at, now=now, bill_past_periods=False)
    else:
        emit(subscription, "subscription.updated")
    return subscription


# --- terminate / cancel -----------------------------------------------------------------------


@transaction.atomic
def subscription_terminate(
    organization: Organization,
    subscription: Subscription,
    *,
    on_termination_credit_note: str | None = None,
    on_termination_invoice: str | None = None,
    reason: str = TerminationReason.MANUAL,
    now: datetime | None = None,
) -> Subscription:
    """Lago's `DELETE /subscriptions/{external_id}`: an active subscription is terminated now; a
    pending one (`?status=pending`) is canceled. Anything else is refused (405 `invalid_status`)."""
    now = now or timezone.now()
    errors: dict[str, list[str]] = {}
    options = _termination_options(on_termination_credit_note, on_termination_invoice, errors)
    if errors:
        raise ValidationFailure(errors)
    lock_customer(subscription.customer_id)
    subscription = lock_subscription(subscription.pk)
    if subscription.organization_id != organization.pk:
        raise NotFoundFailure("subscription")
    if subscription.status == SubscriptionStatus.PENDING:
        _cancel(subscription, at=now, reason=reason)
    else:
        _terminate(subscription, at=max(now, subscription.started_at or now), reason=reason, options=options)
    return subscription


@transaction.atomic
def subscription_cancel(
    organization: Organization,
    subscription: Subscription,
    *,
    reason: str = TerminationReason.MANUAL,
    now: datetime | None = None,
) -> Subscription:
    """Cancel a pending subscription (a future start, or a scheduled downgrade)."""
    now = now or timezone.now()
    lock_customer(subscription.customer_id)
    subscription = lock_subscription(subscription.pk)
    if subscription.organization_id != organization.pk:
        raise NotFoundFailure("subscription")
    _cancel(subscription, at=now, reason=reason)
    return subscription


@transaction.atomic
def subscription_downgrade_apply_now(
    organization: Organization,
    subscription: Subscription,
    *,
    now: datetime | None = None,
) -> Subscription:
    """Apply a scheduled downgrade today instead of at the period end (bxb extra).

    `subscription` is the active one or its pending successor. The active one is terminated now
    (`downgraded_now`: its in-advance fee for the unused days is credited by invoicing), and the
    cheaper plan starts now. Returns the new active subscription.
    """
    now = now or timezone.now()
    lock_customer(subscription.customer_id)
    row = lock_subscription(subscription.pk)
    if row.organization_id != organization.pk:
        raise NotFoundFailure("subscription")
    if row.status == SubscriptionStatus.PENDING and row.previous_subscription_id is not None:
        pending = row
        current = lock_subscription(row.previous_subscription_id)
    elif row.status == SubscriptionStatus.ACTIVE:
        current = row
        found = (
            Subscription.objects.select_for_update()
            .select_related("plan", "customer", "organization")
            .filter(previous_subscription=current, status=SubscriptionStatus.PENDING)
            .first()
        )
        if found is None:
            raise NotAllowedFailure("no_pending_downgrade")
        pending = found
    else:
        raise NotAllowedFailure(state_machine.REFUSED_CODE)
    if current.status != SubscriptionStatus.ACTIVE:
        raise NotAllowedFailure(state_machine.REFUSED_CODE)
    at = max(now, current.started_at or now)
    _terminate(current, at=at, reason=TerminationReason.DOWNGRADED_NOW, successor=pending)
    _start(pending, at=at, reason=TerminationReason.DOWNGRADED_NOW)
    return pending


# --- scheduled work (one subscription per call; safe to run twice) ----------------------------


@transaction.atomic
def subscription_activate_due(subscription_id: UUID | str, *, at: datetime) -> bool:
    """Start a pending subscription whose date has come; a scheduled downgrade replaces its
    predecessor at the period boundary. Returns False when there was nothing to do."""
    row = Subscription.objects.filter(pk=subscription_id).only("customer_id").first()
    if row is None:
        return False
    lock_customer(row.customer_id)
    subscription = lock_subscription(subscription_id)
    if subscription.status != SubscriptionStatus.PENDING or subscription.activation_at is None:
        return False
    if subscription.activation_at > at:
        return False
    start = subscription.activation_at
    if subscription.previous_subscription_id is not None:
        previous = lock_subscription(subscription.previous_subscription_id)
        if previous.status != SubscriptionStatus.ACTIVE:
            _cancel(subscription, at=at, reason="previous_terminated")
            return True
        _terminate(previous, at=start, reason=TerminationReason.DOWNGRADED, successor=subscription)
    _start(subscription, at=start, reason="downgrade" if subscription.previous_subscription_id else "")
    return True


@transaction.atomic
def subscription_end_trial(subscription_id: UUID | str, *, at: datetime) -> bool:
    """Mark the trial ended and send `subscription.trial_ended` (once)."""
    subscription = lock_subscription(subscription_id)
    if (
        subscription.status != SubscriptionStatus.ACTIVE
        or subscription.trial_ends_at is None
        or subscription.trial_ended_at is not None
        or subscription.trial_ends_at > at
    ):
        return False
    subscription.trial_ended_at = subscription.trial_ends_at
    subscription.save(update_fields=["trial_ended_at", "updated_at"])
    record_transition(subscription, event="trial_end", from_status=subscription.status, at=subscription.trial_ends_at)
    emit(subscription, "subscription.trial_ended")
    _send(signals.subscription_trial_ended, subscription, "")
    return True


@transaction.atomic
def subscription_reach_ending(subscription_id: UUID | str, *, at: datetime) -> bool:
    """Terminate (or cancel, when pending) a subscription whose `ending_at` has passed."""
    row = Subscription.objects.filter(pk=subscription_id).only("customer_id").first()
    if row is None:
        return False
    lock_customer(row.customer_id)
    subscription = lock_subscription(subscription_id)
    if subscription.ending_at is None or subscription.ending_at > at:
        return False
    if subscription.status == SubscriptionStatus.ACTIVE:
        _terminate(subscription, at=subscription.ending_at, reason=TerminationReason.ENDING_AT)
        return True
    if subscription.status == SubscriptionStatus.PENDING:
        _cancel(subscription, at=at, reason=TerminationReason.ENDING_AT)
        return True
    return False


@transaction.atomic
def subscription_send_termination_alert(subscription_id: UUID | str, *, at: datetime) -> int | None:
    """`subscription.termination_alert` 45 and 15 days (by default) before `ending_at`, each once.

    Returns the threshold (days) that was sent, or None.
    """
    subscription = lock_subscription(subscription_id)
    if subscription.status != SubscriptionStatus.ACTIVE or subscription.ending_at is None:
        return None
    remaining = subscription.ending_at - at
    if remaining <= timedelta(0):
        return None
    due = [days for days in termination_alert_days() if remaining <= timedelta(days=days)]
    unsent = [days for days in due if days not in subscription.termination_alerts_sent]
    if not unsent:
        return None
    threshold = min(unsent)
    subscription.termination_alerts_sent = sorted({*subscription.termination_alerts_sent, *due}, reverse=True)
    subscription.save(update_fields=["termination_alerts_sent", "updated_at"])
    record_transition(
        subscription,
        event="termination_alert",
        from_status=subscription.status,
        at=at,
        details={"days": threshold},
    )
    emit(subscription, "subscription.termination_alert")
    return threshold


@transaction.atomic
def subscriptions_terminate_for_customer(customer_id: UUID | str, *, at: datetime | None = None) -> int:
    """A deleted customer's subscriptions end: active ones terminate, pending ones are canceled."""
    at = at or timezone.now()
    lock_customer(customer_id)
    count = 0
    rows = list(
        Subscription.objects.select_for_update(of=("self",))
        .select_related("organization", "customer", "customer__organization", "plan")
        .filter(customer_id=customer_id, status__in=[SubscriptionStatus.ACTIVE, SubscriptionStatus.PENDING])
        .order_by("status")  # active first: terminating one cancels its scheduled downgrade
    )
    for subscription in rows:
        subscription.refresh_from_db(fields=["status"])
        count += _end(subscription, at=at, reason=TerminationReason.CUSTOMER_DELETED)
    return count


def _end(subscription: Subscription, *, at: datetime, reason: str) -> bool:
    """An active subscription terminates (not before it started), a pending one is canceled;
    True when it was either."""
    if subscription.status == SubscriptionStatus.ACTIVE:
        _terminate(subscription, at=max(at, subscription.started_at or at), reason=reason)
        return True
    if subscription.status == SubscriptionStatus.PENDING:
        _cancel(subscription, at=at, reason=reason)
        return True
    return False


@transaction.atomic
def subscriptions_terminate_for_plan(plan_id: UUID | str, *, at: datetime | None = None) -> int:
    """A deleted plan's subscriptions end (Lago): active ones terminate, pending ones are canceled."""
    at = at or timezone.now()
    count = 0
    live = [SubscriptionStatus.ACTIVE, SubscriptionStatus.PENDING]
    customer_ids = sorted(
        {
            str(pk)
            for pk in Subscription.objects.filter(plan_id=plan_id, status__in=live).values_list(
                "customer_id", flat=True
            )
        }
    )
    for customer_id in customer_ids:
        lock_customer(customer_id)
        for row in Subscription.objects.filter(plan_id=plan_id, customer_id=customer_id, status__in=live).order_by(
            "status"
        ):
            count += _end(lock_subscription(row.pk), at=at, reason=TerminationReason.PLAN_DELETED)
    return count
