"""`POST /api/v1/invoices/preview` (docs/invoicing.md §9): the invoice a customer would get, nothing saved.

The body has no root key (the client sends `{customer, plan_code, subscriptions, coupons, ...}`);
`preview_input` checks it (Lago's codes) into a typed `invoicing.inputs.PreviewRequest`, and
`invoicing.services.preview` computes the invoice with the billing run and rolls everything back.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from billing_project.core.api.resources import endpoint
from billing_project.core.api.serializers import ClientDateTimeField
from billing_project.core.api.views import OrganizationAPIView, refuse_unsupported_body
from billing_project.core.errors import ValidationFailure
from invoicing.api import serializers as s
from invoicing.inputs import PreviewCoupon, PreviewCustomer, PreviewRequest
from invoicing.services.preview import (
    ADDRESS_FIELDS,
    BILLING_TIMES,
    COUPON_TYPES,
    CUSTOMER_FIELDS,
    FREQUENCIES,
    invoice_preview,
)
from subscriptions import periods
from subscriptions.services.common import parse_instant

CUSTOMER_INPUT_FIELDS = ("external_id", *CUSTOMER_FIELDS, "net_payment_term")


def preview_input(data: object) -> PreviewRequest:
    """The preview body checked, with Lago's codes (the schema's `PreviewInput` documents it)."""
    if not isinstance(data, dict):
        raise ValidationFailure.single("base", "value_is_invalid")
    errors: dict[str, list[str]] = {}
    billing_time = data.get("billing_time") or "calendar"
    if billing_time not in BILLING_TIMES:
        errors["billing_time"] = ["value_is_invalid"]
    subscription_at = _instant(data.get("subscription_at"), "subscription_at", errors)
    customer = data.get("customer")
    if customer is not None and not isinstance(customer, dict):
        errors["customer"] = ["value_is_invalid"]
        customer = None
    subscriptions = data.get("subscriptions")
    if subscriptions is not None and not isinstance(subscriptions, dict):
        errors["subscriptions"] = ["value_is_invalid"]
        subscriptions = None
    subscriptions = subscriptions or {}
    external_ids = subscriptions.get("external_ids")
    if external_ids is not None and (
        not isinstance(external_ids, list) or not all(isinstance(x, str) and x for x in external_ids)
    ):
        errors["subscriptions.external_ids"] = ["value_is_invalid"]
        external_ids = None
    terminated_at = _instant(subscriptions.get("terminated_at"), "subscriptions.terminated_at", errors)
    coupons = data.get("coupons")
    if coupons is not None and not isinstance(coupons, list):
        errors["coupons"] = ["value_is_invalid"]
        coupons = None
    parsed_coupons = [_coupon_input(item, index, errors) for index, item in enumerate(coupons or [])]
    if customer is not None:
        for field in CUSTOMER_FIELDS:
            value = customer.get(field)
            if value is not None and not isinstance(value, str):
                errors[f"customer.{field}"] = ["value_is_invalid"]
        if customer.get("timezone"):
            try:
                periods.zone(customer["timezone"])
            except Exception:  # noqa: BLE001 - any unknown zone name
                errors["customer.timezone"] = ["invalid_timezone"]
        external_id = customer.get("external_id")
        if external_id is not None and (not isinstance(external_id, str) or not external_id.strip()):
            errors["customer.external_id"] = ["value_is_invalid"]
        shipping = customer.get("shipping_address")
        if shipping is not None and not isinstance(shipping, dict):
            errors["customer.shipping_address"] = ["value_is_invalid"]
            shipping = None
        elif shipping:
            for field in ADDRESS_FIELDS:
                if shipping.get(field) is not None and not isinstance(shipping[field], str):
                    errors[f"customer.shipping_address.{field}"] = ["value_is_invalid"]
        net_term = customer.get("net_payment_term")
        if net_term is not None and (not isinstance(net_term, int) or isinstance(net_term, bool) or net_term < 0):
            errors["customer.net_payment_term"] = ["value_is_invalid"]
    entity_code = data.get("billing_entity_code")
    if entity_code is not None and not isinstance(entity_code, str):
        errors["billing_entity_code"] = ["value_is_invalid"]
    if errors:
        raise ValidationFailure(errors)
    return PreviewRequest(
        billing_entity_code=entity_code or None,
        customer=(
            PreviewCustomer(
                **{field: customer.get(field) for field in CUSTOMER_INPUT_FIELDS}, shipping_address=shipping
            )
            if customer is not None
            else None
        ),
        plan_code=data.get("plan_code") or None,
        billing_time=billing_time,
        subscription_at=subscription_at,
        external_ids=tuple(external_ids or ()),
        switch_plan_code=subscriptions.get("plan_code") or None,
        terminated_at=terminated_at,
        coupons=tuple(coupon for coupon in parsed_coupons if coupon is not None) if coupons is not None else None,
    )


def _instant(value: object, field: str, errors: dict[str, list[str]]) -> dt.datetime | None:
    try:
        return parse_instant(value)
    except ValueError:
        errors[field] = ["invalid_date"]
        return None


def _coupon_input(item: object, index: int, errors: dict[str, list[str]]) -> PreviewCoupon | None:
    prefix = f"coupons.{index}"
    if not isinstance(item, dict) or not isinstance(item.get("code"), str) or not item.get("code"):
        errors[f"{prefix}.code"] = ["value_is_mandatory"]
        return None
    coupon_type = item.get("coupon_type")
    if coupon_type is not None and coupon_type not in COUPON_TYPES:
        errors[f"{prefix}.coupon_type"] = ["value_is_invalid"]
    frequency = item.get("frequency")
    if frequency is not None and frequency not in FREQUENCIES:
        errors[f"{prefix}.frequency"] = ["value_is_invalid"]
    amount = item.get("amount_cents")
    if amount is not None and (not isinstance(amount, int) or isinstance(amount, bool) or amount < 0):
        errors[f"{prefix}.amount_cents"] = ["value_is_invalid"]
    rate = item.get("percentage_rate")
    if rate is not None:
        try:
            rate = Decimal(str(rate))
            if not rate.is_finite() or rate < 0 or rate > 100:
                raise InvalidOperation
        except (InvalidOperation, ValueError):
            errors[f"{prefix}.percentage_rate"] = ["value_is_invalid"]
            rate = None
    duration = item.get("frequency_duration")
    if duration is not None and (not isinstance(duration, int) or isinstance(duration, bool) or duration < 1):
        errors[f"{prefix}.frequency_duration"] = ["value_is_invalid"]
    return PreviewCoupon(
        code=item["code"],
        name=item.get("name") if isinstance(item.get("name"), str) else None,
        coupon_type=coupon_type,
        frequency=frequency,
        amount_cents=amount,
        amount_currency=item.get("amount_currency") if isinstance(item.get("amount_currency"), str) else None,
        percentage_rate=rate,
        frequency_duration=duration,
    )


class PreviewSubscriptionsInput(serializers.Serializer):
    external_ids = serializers.ListField(child=serializers.CharField(), required=False)
    plan_code = serializers.CharField(required=False)
    terminated_at = ClientDateTimeField(required=False)


class PreviewCouponInput(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField(required=False)
    coupon_type = serializers.ChoiceField(choices=["fixed_amount", "percentage"], required=False)
    amount_cents = serializers.IntegerField(required=False)
    amount_currency = serializers.CharField(required=False)
    percentage_rate = serializers.DecimalField(max_digits=10, decimal_places=5, required=False)
    frequency = serializers.ChoiceField(choices=["once", "recurring", "forever"], required=False)
    frequency_duration = serializers.IntegerField(required=False)


class PreviewInput(serializers.Serializer):
    customer = serializers.DictField(help_text="An existing customer's external_id, or a new customer's attributes")
    plan_code = serializers.CharField(required=False)
    billing_time = serializers.ChoiceField(choices=["calendar", "anniversary"], required=False)
    subscription_at = ClientDateTimeField(required=False)
    coupons = PreviewCouponInput(many=True, required=False)
    subscriptions = PreviewSubscriptionsInput(required=False)
    billing_entity_code = serializers.CharField(
        required=False, help_text="The entity that bills the new subscription previewed (404 when unknown)."
    )


class InvoicePreviewView(OrganizationAPIView):
    resource_name = "invoice"

    @endpoint("invoices_preview", s.InvoiceEnvelope, request=PreviewInput)
    def post(self, request: Request) -> Response:
        """Preview the invoice of a new or existing subscription (nothing is saved)"""
        refuse_unsupported_body(request, s.INVOICE_PREVIEW_LAGO_ONLY)
        return Response({"invoice": invoice_preview(self.organization, preview_input(request.data))})
