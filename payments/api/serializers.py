"""Input serializers and documented response shapes of the payments API."""

from __future__ import annotations

from rest_framework import serializers

from billing_project.core.api.serializers import ClientDateTimeField, envelope, list_envelope
from billing_project.core.api.shapes import schema_serializer
from customers.api.serializers import payment_method_field
from invoicing.api.serializers import PageMeta
from payments.representation import PaymentRequestShape, PaymentShape


class RetryPaymentInput(serializers.Serializer):
    """`POST /invoices/{id}/retry_payment`: optionally, the method to charge this time (Lago)."""

    payment_method = payment_method_field()


class PaymentInput(serializers.Serializer):
    invoice_id = serializers.CharField()
    amount_cents = serializers.IntegerField(min_value=1)
    reference = serializers.CharField(max_length=40)
    paid_at = ClientDateTimeField(required=False, allow_null=True)


PaymentInputEnvelope = envelope("PaymentInputEnvelope", "payment", PaymentInput)


PaymentOutput = schema_serializer(PaymentShape)
PaymentEnvelope = envelope("PaymentEnvelope", "payment", PaymentOutput)
PaymentListEnvelope = list_envelope("PaymentListEnvelope", "payments", PaymentOutput, PageMeta)


class PaymentUrlOutput(serializers.Serializer):
    lago_customer_id = serializers.UUIDField()
    lago_invoice_id = serializers.UUIDField()
    external_customer_id = serializers.CharField()
    payment_provider = serializers.CharField()
    payment_url = serializers.CharField()


PaymentUrlEnvelope = envelope("PaymentUrlEnvelope", "invoice_payment_details", PaymentUrlOutput)


class WalletTransactionPaymentUrlOutput(serializers.Serializer):
    lago_customer_id = serializers.UUIDField()
    external_customer_id = serializers.CharField()
    payment_provider = serializers.CharField(allow_null=True)
    lago_wallet_transaction_id = serializers.UUIDField()
    payment_url = serializers.CharField()


WalletTransactionPaymentUrlEnvelope = envelope(
    "WalletTransactionPaymentUrlEnvelope", "wallet_transaction_payment_details", WalletTransactionPaymentUrlOutput
)


class CheckoutUrlOutput(serializers.Serializer):
    lago_customer_id = serializers.UUIDField()
    external_customer_id = serializers.CharField()
    payment_provider = serializers.CharField()
    payment_provider_code = serializers.CharField(allow_null=True)
    checkout_url = serializers.CharField()


CheckoutUrlEnvelope = envelope("CheckoutUrlEnvelope", "customer", CheckoutUrlOutput)


class PaymentRequestInput(serializers.Serializer):
    external_customer_id = serializers.CharField()
    email = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    lago_invoice_ids = serializers.ListField(child=serializers.CharField(), allow_empty=False)
    payment_method = payment_method_field()


PaymentRequestInputEnvelope = envelope("PaymentRequestInputEnvelope", "payment_request", PaymentRequestInput)


PaymentRequestOutput = schema_serializer(PaymentRequestShape)
PaymentRequestEnvelope = envelope("PaymentRequestEnvelope", "payment_request", PaymentRequestOutput)
PaymentRequestListEnvelope = list_envelope(
    "PaymentRequestListEnvelope", "payment_requests", PaymentRequestOutput, PageMeta
)


class PaymentMethodOutput(serializers.Serializer):
    lago_id = serializers.UUIDField()
    is_default = serializers.BooleanField()
    payment_provider_code = serializers.CharField(allow_null=True)
    payment_provider_name = serializers.CharField(allow_null=True)
    payment_provider_type = serializers.CharField(allow_null=True)
    provider_method_id = serializers.CharField()
    method_type = serializers.CharField(allow_null=True)
    details = serializers.DictField()
    created_at = serializers.DateTimeField()


PaymentMethodEnvelope = envelope("PaymentMethodEnvelope", "payment_method", PaymentMethodOutput)
PaymentMethodListEnvelope = list_envelope("PaymentMethodListEnvelope", "payment_methods", PaymentMethodOutput, PageMeta)


class PaymentReceiptOutput(serializers.Serializer):
    lago_id = serializers.UUIDField()
    number = serializers.CharField()
    file_url = serializers.CharField(allow_null=True)
    xml_url = serializers.CharField(allow_null=True)
    payment = PaymentOutput()
    created_at = serializers.DateTimeField()


PaymentReceiptEnvelope = envelope("PaymentReceiptEnvelope", "payment_receipt", PaymentReceiptOutput)
PaymentReceiptListEnvelope = list_envelope(
    "PaymentReceiptListEnvelope", "payment_receipts", PaymentReceiptOutput, PageMeta
)


class ResendEmailInput(serializers.Serializer):
    to = serializers.ListField(child=serializers.EmailField(), required=False, max_length=20)
    cc = serializers.ListField(child=serializers.EmailField(), required=False, max_length=20)
    bcc = serializers.ListField(child=serializers.EmailField(), required=False, max_length=20)


class PortalUrlOutput(serializers.Serializer):
    portal_url = serializers.CharField()


PortalUrlEnvelope = envelope("PortalUrlEnvelope", "customer", PortalUrlOutput)
