"""Invoice preview (`POST /api/v1/invoices/preview`): the invoice a customer would get, persisting nothing.

    invoice_preview(organization, request, *, now=None) -> InvoiceShape   (Lago's invoice object)

The request is typed (`invoicing.inputs.PreviewRequest`); the API reads and checks the body
(`invoicing.api.preview.preview_input`).

What is previewed (Lago's `Invoices::PreviewService`):

* `plan_code` (+ `billing_time`, `subscription_at`): a new subscription to that plan. An in-advance
  plan is billed when it starts (its prorated base fee); an in-arrears one at the end of its first
  charges window (base fee; a new subscription has no usage, so no charge fee, as in Lago).
* `subscriptions.external_ids`: the customer's active subscriptions, billed at the end of their
  current charges window with the usage known now; with `subscriptions.terminated_at`, their
  closing invoice as if terminated then; with `subscriptions.plan_code`, as if switched to that
  plan now (an upgrade is billed now; a downgrade at the period end, where the new plan starts).
* `customer`: an existing customer by `external_id` (404 `customer_not_found` when there is
  none), or, without `external_id`, a new one described inline; the attributes sent (name,
  currency, timezone, tax id, addresses, shipping address, net payment term…) apply to the
  preview in both cases, as in Lago.
* `coupons`: coupons to apply instead of the customer's applied ones (an existing coupon code with
  overrides, or a coupon described inline). Without it, the customer's active coupons apply.
  Credit notes and prepaid credits of an existing customer apply as at finalization.

How nothing is persisted: the whole preview runs in one transaction that is always rolled back.
Inside it, the hypothetical state is written with the ordinary models and services (a new customer,
subscription or coupon; a termination; a plan change) and the real billing run bills it
(`invoicing.billing.run.customer_bill`: due items, `item_fees`, taxes, `totals.compute` with coupons, credit
notes and wallets, finalization), so the preview cannot price anything differently from the
invoice. The invoice is rendered with the API's representation and then everything is rolled
back: rows, numbers, coupon and wallet consumption, webhooks (the outbox is transactional) and
tasks (enqueued only on commit). The grace period is ignored: a preview shows the finalized amounts.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone

from billing_project.core.bulk import update_rows
from billing_project.core.errors import NotFoundFailure, ValidationFailure
from billing_project.core.found import found
from catalog.models import AppliedCoupon, Coupon, CouponStatus, Plan
from customers.entities import billing_entity_get
from customers.models import ADDRESS_FIELDS, LEGAL_AND_ADDRESS, BillingEntity, Customer, Organization
from invoicing.billing.run import customer_bill
from invoicing.inputs import PreviewCoupon, PreviewCustomer, PreviewRequest
from invoicing.models import Invoice
from invoicing.representation import InvoiceShape, invoice_payload
from invoicing.services import lifecycle
from subscriptions import periods
from subscriptions.models import Subscription, SubscriptionStatus
from subscriptions.selectors import schedule_for

CUSTOMER_FIELDS = (
    "name",
    "firstname",
    "lastname",
    "customer_type",
    "email",
    *LEGAL_AND_ADDRESS,
    "currency",
    "timezone",
)
BILLING_TIMES = ("calendar", "anniversary")
COUPON_TYPES = ("fixed_amount", "percentage")
FREQUENCIES = ("once", "recurring", "forever")


class _Rollback(Exception):
    """Raised at the end of the preview's transaction so that nothing it wrote survives."""


def invoice_preview(
    organization: Organization, request: PreviewRequest, *, now: dt.datetime | None = None
) -> InvoiceShape:
    now = now or timezone.now()
    result: InvoiceShape | None = None
    try:
        with transaction.atomic():
            result = _preview_in_sandbox(organization, request, now=now)
            raise _Rollback
    except _Rollback:
        pass
    assert result is not None  # the sandbox either answered or raised
    return result


# --- the sandbox ----------------------------------------------------------------------------------


def _preview_in_sandbox(organization: Organization, request: PreviewRequest, *, now: dt.datetime) -> InvoiceShape:
    entity = billing_entity_get(organization, request.billing_entity_code) if request.billing_entity_code else None
    customer, _new = _customer(organization, request.customer)
    targets, billing_at = _subscriptions(organization, customer, request, now=now, entity=entity)
    _check_currencies(targets)
    if customer.invoice_grace_period != 0:
        customer.invoice_grace_period = 0  # a preview shows the finalized amounts
        customer.save(update_fields=["invoice_grace_period"])
    if request.coupons is not None:
        _replace_coupons(organization, customer, request.coupons, now=now)
    invoices = customer_bill(customer.id, at=billing_at, now=now)
    target_ids = {s.id for s in targets}
    chosen = _invoice_for(invoices, target_ids)
    if chosen is None:
        raise NotFoundFailure("invoice")
    payload = invoice_payload(chosen)
    return _scrub(payload, chosen)


def _customer(organization: Organization, data: PreviewCustomer | None) -> tuple[Customer, bool]:
    """The previewed customer, with the given attributes applied (inside the sandbox).

    As in Lago, an `external_id` names an existing customer (404 `customer_not_found` when there
    is none: nothing is previewed for a customer that does not exist); without one, a new
    customer is described inline. Either way the attributes sent (name, currency, timezone,
    addresses...) apply to the preview."""
    if data is None:
        raise NotFoundFailure("customer")
    fields: dict[str, Any] = {
        field: getattr(data, field) for field in CUSTOMER_FIELDS if getattr(data, field) is not None
    }
    if data.net_payment_term is not None:
        fields["net_payment_term"] = data.net_payment_term
    if fields.get("country"):
        fields["country"] = fields["country"][:2].upper()
    if data.shipping_address is not None:
        shipping = {key: data.shipping_address.get(key) for key in ADDRESS_FIELDS}
        fields["shipping_address"] = {key: value for key, value in shipping.items() if value is not None}
    if data.external_id is not None:  # Lago's clients send `null` for an absent key
        existing = lifecycle.customer_locked(organization, data.external_id)
        if fields:
            for field, value in fields.items():
                setattr(existing, field, value)
            existing.save(update_fields=[*fields, "updated_at"])
        return existing, False
    customer = Customer.objects.create(
        organization=organization,
        external_id=f"preview_{uuid.uuid4().hex}",
        # Unique per organization; never committed (the preview rolls back), so any free value works.
        sequential_id=-(uuid.uuid4().int >> 66),
        **fields,
    )
    customer.organization = organization
    return customer, True


def _plan(organization: Organization, code: str) -> Plan:
    return found(
        Plan.objects.filter(organization=organization, code=code, deleted_at__isnull=True, parent__isnull=True).first(),
        "plan",
    )


def _subscriptions(
    organization: Organization,
    customer: Customer,
    request: PreviewRequest,
    *,
    now: dt.datetime,
    entity: BillingEntity | None = None,
) -> tuple[list[Subscription], dt.datetime]:
    """The subscriptions previewed (written in the sandbox) and the instant their invoice is due;
    a new one is billed by `entity` when one is named (`billing_entity_code`), else the customer's."""
    if request.plan_code:
        plan = _plan(organization, request.plan_code)
        started = request.subscription_at or now
        sub = Subscription.objects.create(
            organization=organization,
            customer=customer,
            plan=plan,
            external_id=f"preview_{uuid.uuid4().hex}",
            status=SubscriptionStatus.ACTIVE,
            billing_time=request.billing_time,
            subscription_at=started,
            started_at=started,
            trial_ends_at=periods.trial_ends_at(started, plan.trial_period),
            billing_entity=entity,
        )
        sub.customer = customer
        schedule = schedule_for(sub)
        if plan.pay_in_advance:
            at = max(started, sub.trial_ends_at or started)
        else:
            at = periods.next_billing_at(schedule, started)
        return [sub], at
    if not request.external_ids or customer.pk is None:
        raise NotFoundFailure("subscription")
    subs = list(
        Subscription.objects.filter(
            organization=organization,
            customer=customer,
            external_id__in=request.external_ids,
            status=SubscriptionStatus.ACTIVE,
        )
        .select_related("plan", "customer__organization")
        .order_by("started_at", "id")
    )
    if not subs:
        raise NotFoundFailure("subscription")
    if request.terminated_at is not None:
        return _terminated(organization, subs, request.terminated_at, now=now)
    if request.switch_plan_code:
        return _switched(organization, customer, subs, request.switch_plan_code, now=now)
    ends = {periods.next_billing_at(schedule_for(s), now) for s in subs}
    if len({periods.local_date(end, customer.applicable_timezone) for end in ends}) > 1:
        raise ValidationFailure.single("base", "billing_periods_does_not_match")
    return subs, max(ends)


def _terminated(
    organization: Organization, subs: list[Subscription], terminated_at: dt.datetime, *, now: dt.datetime
) -> tuple[list[Subscription], dt.datetime]:
    from subscriptions.services import subscription_terminate

    for sub in subs:
        if terminated_at < (sub.started_at or terminated_at):
            raise ValidationFailure.single("subscriptions.terminated_at", "invalid_date")
    result = [subscription_terminate(organization, sub, now=terminated_at) for sub in subs]
    return result, terminated_at


def _switched(
    organization: Organization,
    customer: Customer,
    subs: list[Subscription],
    plan_code: str,
    *,
    now: dt.datetime,
) -> tuple[list[Subscription], dt.datetime]:
    """A plan change through the subscriptions service: an upgrade now, a downgrade at the period end."""
    from subscriptions.inputs import SubscriptionCreate
    from subscriptions.services import subscription_activate_due, subscription_create

    _plan(organization, plan_code)
    if len(subs) != 1:
        raise ValidationFailure.single("subscriptions.external_ids", "value_is_invalid")
    old = subs[0]
    new = subscription_create(
        organization,
        SubscriptionCreate(
            external_customer_id=customer.external_id,
            external_id=old.external_id,
            plan_code=plan_code,
            billing_time=old.billing_time,
        ),
        now=now,
    )
    old.refresh_from_db()
    if old.status == SubscriptionStatus.TERMINATED:  # upgrade: the old plan closes now, the new one starts
        return [old, new], now
    # downgrade: the service answers with the current subscription; the new plan's row is pending
    # until the period end, where it starts (and the old one ends)
    at = periods.next_billing_at(schedule_for(old), now)
    pending = Subscription.objects.filter(previous_subscription=old, status=SubscriptionStatus.PENDING).first()
    if pending is None:
        return [old], at
    subscription_activate_due(pending.id, at=at)
    return [old, pending], at


def _check_currencies(subs: list[Subscription]) -> None:
    """One previewed invoice is in one currency: the subscriptions named must share theirs (the
    customer's own currency is only a default and may differ, docs/billing-semantics.md §6.9)."""
    if len({s.plan.amount_currency for s in subs}) > 1:
        raise ValidationFailure.single("base", "subscription_currencies_does_not_match")


def _replace_coupons(
    organization: Organization, customer: Customer, coupons: Sequence[PreviewCoupon], *, now: dt.datetime
) -> None:
    """The given coupons apply instead of the customer's (their applied coupons are set aside)."""
    update_rows(
        AppliedCoupon.objects.filter(customer=customer, status=CouponStatus.ACTIVE),
        status=CouponStatus.TERMINATED,
        terminated_at=now,
    )
    for item in coupons:
        coupon = Coupon.objects.filter(organization=organization, code=item.code, deleted_at__isnull=True).first()
        if coupon is None:
            if item.coupon_type is None:
                raise NotFoundFailure("coupon")
            coupon = Coupon.objects.create(
                organization=organization,
                code=item.code,
                name=item.name or item.code,
                coupon_type=item.coupon_type,
                amount_cents=item.amount_cents,
                amount_currency=item.amount_currency,
                percentage_rate=item.percentage_rate,
                frequency=item.frequency or "once",
                frequency_duration=item.frequency_duration,
                expiration="no_expiration",
            )
        coupon_type = coupon.coupon_type
        amount = item.amount_cents if item.amount_cents is not None else coupon.amount_cents
        if coupon_type == "fixed_amount" and amount is None:
            raise ValidationFailure.single("coupons.amount_cents", "value_is_mandatory")
        rate = item.percentage_rate if item.percentage_rate is not None else coupon.percentage_rate
        if coupon_type == "percentage" and rate is None:
            raise ValidationFailure.single("coupons.percentage_rate", "value_is_mandatory")
        frequency = item.frequency or coupon.frequency
        duration = item.frequency_duration or coupon.frequency_duration
        AppliedCoupon.objects.create(
            organization=organization,
            customer=customer,
            coupon=coupon,
            amount_cents=amount if coupon_type == "fixed_amount" else None,
            amount_cents_remaining=amount if coupon_type == "fixed_amount" and frequency == "once" else None,
            amount_currency=(item.amount_currency or coupon.amount_currency or customer.currency)
            if coupon_type == "fixed_amount"
            else None,
            percentage_rate=rate if coupon_type == "percentage" else None,
            frequency=frequency,
            frequency_duration=duration,
            frequency_duration_remaining=duration if frequency == "recurring" else None,
        )


def _invoice_for(invoices: list[Invoice], subscription_ids: set[Any]) -> Invoice | None:
    """The last invoice of the run that bills one of the previewed subscriptions."""
    for invoice in reversed(invoices):
        if invoice.invoice_subscriptions.filter(subscription_id__in=subscription_ids).exists():
            return invoice
    return None


def _scrub(payload: InvoiceShape, invoice: Invoice) -> InvoiceShape:
    """A preview is not numbered and has no PDF. Its ids (invoice, fees, and a new customer's or
    subscription's) are those the rows had inside the rolled-back transaction: they refer to
    nothing afterwards (Lago's client requires the invoice's and the customer's `lago_id`)."""
    payload["number"] = lifecycle.draft_number(invoice.organization)
    payload["sequential_id"] = None
    payload["file_url"] = None
    return payload
