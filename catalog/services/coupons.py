"""Coupons and applied coupons (docs/billing-semantics.md §8, docs/catalog.md).

Consuming a coupon on an invoice belongs to invoicing: it decrements `amount_cents_remaining` /
`frequency_duration_remaining` of the applied coupon under a row lock and calls
`applied_coupon_terminate` when it is used up.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import replace
from decimal import Decimal
from uuid import UUID

from django.db import transaction
from django.utils import timezone

from billing_project.core.errors import NotAllowedFailure, NotFoundFailure, ValidationFailure
from billing_project.core.found import found
from billing_project.core.inputs import UNSET, or_none, sent
from catalog.inputs import AppliedCouponFields, CouponFields, CouponTargets
from catalog.models import (
    AppliedCoupon,
    BillableMetric,
    Coupon,
    CouponExpiration,
    CouponFrequency,
    CouponStatus,
    CouponTarget,
    CouponType,
    Plan,
)
from catalog.services.common import (
    amount_cents_codes,
    as_uuid,
    currency_codes,
    exact_decimal,
    locked_by_code,
    name_and_code_errors,
    save_with_code,
)
from customers import services as customer_services
from customers.models import Customer, Organization

_TEXT = ("name", "code", "description")


def _percentage(value: object) -> Decimal | None:
    return exact_decimal(value, places=5, minimum=Decimal(0), maximum=Decimal(100))


def _frequency_errors(frequency: str | None, duration: int | None) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if frequency not in CouponFrequency.values:
        errors["frequency"] = ["value_is_invalid"]
    elif frequency == CouponFrequency.RECURRING:
        if duration is None or duration <= 0:
            errors["frequency_duration"] = ["value_is_invalid"]
    return errors


def _parse_datetime(value: datetime.datetime | str) -> datetime.datetime | None:
    if isinstance(value, datetime.datetime):
        return value if timezone.is_aware(value) else timezone.make_aware(value, datetime.UTC)
    if isinstance(value, str) and value.strip():
        try:
            parsed = datetime.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            try:
                parsed = datetime.datetime.combine(datetime.date.fromisoformat(value.strip()), datetime.time.max)
            except ValueError:
                return None
        return parsed if timezone.is_aware(parsed) else parsed.replace(tzinfo=datetime.UTC)
    return None


def _apply(coupon: Coupon, data: CouponFields, errors: dict[str, list[str]], *, full: bool) -> None:
    """Copy `data` onto the coupon. `full` is False once the coupon was applied (then only text changes)."""
    for field in _TEXT:
        if sent(text := getattr(data, field)) and (full or field != "code"):
            setattr(coupon, field, text or "")
    if sent(data.expiration):
        coupon.expiration = or_none(data.expiration) or ""
    if (expiration_at := data.expiration_at) is not UNSET:
        coupon.expiration_at = _parse_datetime(expiration_at) if expiration_at else None
        if expiration_at and coupon.expiration_at is None:
            errors["expiration_at"] = ["invalid_date"]
    if not full:
        return
    if (coupon_type := or_none(data.coupon_type)) is not None:
        coupon.coupon_type = coupon_type
    if (frequency := or_none(data.frequency)) is not None:
        coupon.frequency = frequency
    if sent(data.frequency_duration):
        coupon.frequency_duration = or_none(data.frequency_duration)
    if (reusable := or_none(data.reusable)) is not None:
        coupon.reusable = bool(reusable)
    if sent(data.amount_cents):
        amount_cents = or_none(data.amount_cents)
        if codes := amount_cents_codes(amount_cents, required=False):
            errors["amount_cents"] = codes
        else:
            coupon.amount_cents = amount_cents
    if sent(data.amount_currency):
        amount_currency = or_none(data.amount_currency)
        if codes := currency_codes(amount_currency, required=False):
            errors["amount_currency"] = codes
        else:
            coupon.amount_currency = amount_currency or None
    if (percentage_rate := or_none(data.percentage_rate)) is not None:
        rate = _percentage(percentage_rate)
        if rate is None:
            errors["percentage_rate"] = ["value_is_invalid"]
        else:
            coupon.percentage_rate = rate


def _coupon_errors(organization: Organization, coupon: Coupon) -> dict[str, list[str]]:
    errors = name_and_code_errors(coupon, Coupon.live.filter(organization=organization))
    if coupon.coupon_type not in CouponType.values:
        errors["coupon_type"] = ["value_is_invalid"]
    elif coupon.coupon_type == CouponType.FIXED_AMOUNT:
        if coupon.amount_cents is None:
            errors.setdefault("amount_cents", ["value_is_mandatory"])
        if not coupon.amount_currency:
            errors.setdefault("amount_currency", ["value_is_mandatory"])
        coupon.percentage_rate = None
    else:
        if coupon.percentage_rate is None:
            errors.setdefault("percentage_rate", ["value_is_mandatory"])
        coupon.amount_cents = None
        coupon.amount_currency = None
    errors.update(_frequency_errors(coupon.frequency, coupon.frequency_duration))
    if coupon.frequency != CouponFrequency.RECURRING:
        coupon.frequency_duration = None
    if coupon.expiration not in CouponExpiration.values:
        errors["expiration"] = ["value_is_mandatory" if not coupon.expiration else "value_is_invalid"]
    elif coupon.expiration == CouponExpiration.TIME_LIMIT:
        if coupon.expiration_at is None or coupon.expiration_at <= timezone.now():
            errors.setdefault("expiration_at", ["invalid_date"])
    else:
        coupon.expiration_at = None
    return errors


def _targets(
    organization: Organization, applies_to: CouponTargets | None
) -> tuple[list[Plan], list[BillableMetric]] | None:
    """Resolve `applies_to`; None when it was not sent. Both kinds at once → 405, as in Lago."""
    if applies_to is None:
        return None
    plan_codes = list(dict.fromkeys(applies_to.plan_codes or []))
    metric_codes = list(dict.fromkeys(applies_to.billable_metric_codes or []))
    if plan_codes and metric_codes:
        raise NotAllowedFailure("only_one_limitation_type_per_coupon_allowed")
    plans = list(Plan.live.filter(organization=organization, code__in=plan_codes, parent__isnull=True))
    if len(plans) != len(plan_codes):
        raise NotFoundFailure("plan")
    metrics = list(BillableMetric.live.filter(organization=organization, code__in=metric_codes))
    if len(metrics) != len(metric_codes):
        raise NotFoundFailure("billable_metric")
    return plans, metrics


def _set_targets(coupon: Coupon, targets: tuple[list[Plan], list[BillableMetric]] | None) -> None:
    if targets is None:
        return
    plans, metrics = targets
    CouponTarget.objects.filter(coupon=coupon).delete()
    CouponTarget.objects.bulk_create(
        [CouponTarget(coupon=coupon, plan=plan) for plan in plans]
        + [CouponTarget(coupon=coupon, billable_metric=metric) for metric in metrics]
    )
    coupon.limited_plans = bool(plans)
    coupon.limited_billable_metrics = bool(metrics)
    coupon.save(update_fields=["limited_plans", "limited_billable_metrics", "updated_at"])


@transaction.atomic
def coupon_create(organization: Organization, *, data: CouponFields) -> Coupon:
    coupon = Coupon(organization=organization, frequency=or_none(data.frequency) or CouponFrequency.ONCE)
    errors: dict[str, list[str]] = {}
    _apply(coupon, replace(data, frequency=coupon.frequency), errors, full=True)
    errors = {**_coupon_errors(organization, coupon), **errors}
    if errors:
        raise ValidationFailure(errors)
    targets = _targets(organization, or_none(data.applies_to))
    save_with_code(coupon)
    _set_targets(coupon, targets)
    return coupon


@transaction.atomic
def coupon_update(organization: Organization, *, code: str, data: CouponFields) -> Coupon:
    """Partial update. Once applied to a customer, only name, description and expiration change (Lago)."""
    coupon = locked_by_code(Coupon.live, organization, code, "coupon")
    full = not AppliedCoupon.objects.filter(coupon=coupon).exists()
    errors: dict[str, list[str]] = {}
    _apply(coupon, data, errors, full=full)
    errors = {**_coupon_errors(organization, coupon), **errors}
    if errors:
        raise ValidationFailure(errors)
    targets = _targets(organization, or_none(data.applies_to)) if full else None
    save_with_code(coupon)
    _set_targets(coupon, targets)
    return coupon


def _terminate_applied(applied: Iterable[AppliedCoupon], now: datetime.datetime) -> None:
    for applied_coupon in applied:
        applied_coupon.status = CouponStatus.TERMINATED
        applied_coupon.terminated_at = now
        applied_coupon.save(update_fields=["status", "terminated_at", "updated_at"])


@transaction.atomic
def coupon_delete(organization: Organization, *, code: str) -> Coupon:
    """Soft delete; the coupon's active applied coupons are terminated (Lago)."""
    coupon = locked_by_code(Coupon.live, organization, code, "coupon")
    now = timezone.now()
    _terminate_applied(AppliedCoupon.objects.select_for_update().filter(coupon=coupon, status=CouponStatus.ACTIVE), now)
    coupon.deleted_at = now
    coupon.status = CouponStatus.TERMINATED
    coupon.terminated_at = coupon.terminated_at or now
    coupon.save(update_fields=["deleted_at", "status", "terminated_at", "updated_at"])
    return coupon


@transaction.atomic
def coupon_terminate(organization: Organization, *, code: str) -> Coupon:
    """Stop the coupon from being applied again; applied coupons keep running (Lago's terminate)."""
    coupon = locked_by_code(Coupon.live, organization, code, "coupon")
    if coupon.status != CouponStatus.TERMINATED:
        coupon.status = CouponStatus.TERMINATED
        coupon.terminated_at = timezone.now()
        coupon.save(update_fields=["status", "terminated_at", "updated_at"])
    return coupon


def coupon_is_applicable(coupon: Coupon, *, at: datetime.datetime | None = None) -> bool:
    at = at or timezone.now()
    if coupon.deleted_at is not None or coupon.status != CouponStatus.ACTIVE:
        return False
    return not (coupon.expiration == CouponExpiration.TIME_LIMIT and coupon.expiration_at and coupon.expiration_at < at)


@transaction.atomic
def applied_coupon_create(organization: Organization, *, data: AppliedCouponFields) -> AppliedCoupon:
    """Apply a coupon to a customer (`POST /applied_coupons`), with the customer's overrides."""
    external_customer_id = data.external_customer_id
    customer = (
        Customer.objects.select_for_update()
        .filter(organization=organization, external_id=external_customer_id, deleted_at__isnull=True)
        .first()
        if external_customer_id
        else None
    )
    if customer is None:
        raise NotFoundFailure("customer")
    coupon = Coupon.live.filter(organization=organization, code=data.coupon_code or "").first()
    if coupon is None or not coupon_is_applicable(coupon):
        raise NotFoundFailure("coupon")
    if not coupon.reusable and AppliedCoupon.objects.filter(customer=customer, coupon=coupon).exists():
        raise ValidationFailure.single("coupon", "coupon_is_not_reusable")

    errors: dict[str, list[str]] = {}
    amount_cents: int | None = None
    amount_currency: str | None = None
    percentage_rate: Decimal | None = None
    if coupon.coupon_type == CouponType.FIXED_AMOUNT:
        if codes := amount_cents_codes(data.amount_cents, required=False):
            errors["amount_cents"] = codes
        if codes := currency_codes(data.amount_currency, required=False):
            errors["amount_currency"] = codes
        amount_cents = data.amount_cents if data.amount_cents is not None else coupon.amount_cents
        amount_currency = data.amount_currency if data.amount_currency is not None else coupon.amount_currency
    else:
        percentage_rate = coupon.percentage_rate
        if data.percentage_rate is not None:
            percentage_rate = _percentage(data.percentage_rate)
            if percentage_rate is None:
                errors["percentage_rate"] = ["value_is_invalid"]
    frequency = data.frequency if data.frequency is not None else coupon.frequency
    duration = data.frequency_duration if data.frequency_duration is not None else coupon.frequency_duration
    errors.update(_frequency_errors(frequency, duration))
    if errors:
        raise ValidationFailure(errors)
    if amount_currency:
        # A fixed amount in another currency than the customer's is accepted (multi-currency
        # customers): it only reduces invoices of its own currency (docs/billing-semantics.md §8).
        customer_services.customer_default_currency_set(customer, amount_currency)
    recurring = frequency == CouponFrequency.RECURRING
    return AppliedCoupon.objects.create(
        organization=organization,
        customer=customer,
        coupon=coupon,
        amount_cents=amount_cents,
        amount_cents_remaining=amount_cents if frequency == CouponFrequency.ONCE and amount_cents is not None else None,
        amount_currency=amount_currency,
        percentage_rate=percentage_rate,
        frequency=frequency,
        frequency_duration=duration if recurring else None,
        frequency_duration_remaining=duration if recurring else None,
    )


@transaction.atomic
def applied_coupon_terminate(
    organization: Organization,
    *,
    applied_coupon_id: UUID | str,
    external_customer_id: str | None = None,
) -> AppliedCoupon:
    """Remove a coupon from a customer (`DELETE /customers/{ext}/applied_coupons/{id}`): terminated."""
    pk = found(as_uuid(applied_coupon_id), "applied_coupon")
    qs = AppliedCoupon.objects.select_for_update().filter(organization=organization, pk=pk)
    if external_customer_id is not None:
        customer_exists = Customer.objects.filter(
            organization=organization, external_id=external_customer_id, deleted_at__isnull=True
        ).exists()
        if not customer_exists:
            raise NotFoundFailure("customer")
        qs = qs.filter(customer__external_id=external_customer_id)
    applied = found(qs.first(), "applied_coupon")
    if applied.status == CouponStatus.TERMINATED:
        raise NotAllowedFailure("applied_coupon_already_terminated")
    _terminate_applied([applied], timezone.now())
    return applied
