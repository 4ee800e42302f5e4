"""`POST /api/v1/invoices/preview` (docs/invoicing.md §9): the invoice a customer would get, nothing saved.

The body has no root key (the client sends `{customer, plan_code, subscriptions, coupons, ...}`);
`invoicing.services.preview` validates it, computes the invoice with the billing run and rolls
everything back.
"""

from __future__ import annotations

from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from billing_project.core.api.resources import endpoint
from billing_project.core.api.serializers import ClientDateTimeField
from billing_project.core.api.views import OrganizationAPIView, refuse_unsupported_body
from invoicing.api import serializers as s
from invoicing.services.preview import invoice_preview


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
    billing_entity_code = serializers.CharField(required=False)


class InvoicePreviewView(OrganizationAPIView):
    resource_name = "invoice"

    @endpoint(
        "invoices_preview",
        "Preview the invoice of a new or existing subscription (nothing is saved)",
        s.InvoiceEnvelope,
        request=PreviewInput,
    )
    def post(self, request: Request) -> Response:
        refuse_unsupported_body(request, s.INVOICE_PREVIEW_LAGO_ONLY)
        return Response({"invoice": invoice_preview(self.organization, request.data)})
