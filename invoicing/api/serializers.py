"""Input serializers and the response components of the invoicing API (for OpenAPI).

Invoices, fees and customer usage are rendered by `invoicing.representation` (plain dicts, exact
numbers); their components are derived from the shapes those renderers return.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from billing_project.core.api.serializers import ClientDateTimeField, envelope, list_envelope, page_meta
from billing_project.core.api.shapes import schema_serializer
from billing_project.core.api.unsupported import LagoOnly
from customers.api.serializers import (
    billing_entity_code_field,
    invoice_custom_section_field,
    payment_method_field,
    purchase_order_number_field,
)
from invoicing.representation import CustomerUsageShape, FeeShape, InvoiceShape

# Lago fields bxb refuses (docs/lago-compatibility.md, "Refused Lago fields").
_SKIP_PSP = "an invoice is always sent to the customer's payment provider when it has one"
ONE_OFF_INVOICE_LAGO_ONLY = (
    LagoOnly("skip_psp", _SKIP_PSP),
    LagoOnly("fees[].skip_psp", _SKIP_PSP),
)
_VOID_CREDIT_NOTE = "voiding does not create a credit note yet: void, then create the credit note (POST /credit_notes)"
INVOICE_VOID_LAGO_ONLY = (
    LagoOnly("generate_credit_note", _VOID_CREDIT_NOTE),
    LagoOnly("refund_amount", _VOID_CREDIT_NOTE, accepted=(0,)),
    LagoOnly("credit_amount", _VOID_CREDIT_NOTE, accepted=(0,)),
)
INVOICE_PREVIEW_LAGO_ONLY = (
    LagoOnly("customer.integration_customers", "accounting, CRM and tax-provider integrations are not implemented"),
)


class MetadataItemInput(serializers.Serializer):
    id = serializers.CharField(required=False, allow_null=True)
    key = serializers.CharField()
    value = serializers.CharField(allow_blank=True, allow_null=True, required=False)


class InvoiceUpdateInput(serializers.Serializer):
    payment_status = serializers.CharField(required=False)
    metadata = MetadataItemInput(many=True, required=False)


InvoiceUpdateEnvelope = envelope("InvoiceUpdateEnvelope", "invoice", InvoiceUpdateInput)


@extend_schema_field(OpenApiTypes.NUMBER)
class NumberField(serializers.Field):
    """A JSON number (int or the exact parser's Decimal) or a numeric string, passed on as is."""

    def to_internal_value(self, data):  # type: ignore[no-untyped-def]
        return data

    def to_representation(self, value):  # type: ignore[no-untyped-def]
        return str(value)


class OneOffFeeInput(serializers.Serializer):
    add_on_code = serializers.CharField()
    # Numbers or numeric strings (the exact JSON parser gives Decimals); checked by the service.
    unit_amount_cents = NumberField(required=False, allow_null=True)
    units = NumberField(required=False, allow_null=True)
    description = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    invoice_display_name = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    from_datetime = ClientDateTimeField(required=False, allow_null=True)
    to_datetime = ClientDateTimeField(required=False, allow_null=True)
    tax_codes = serializers.ListField(child=serializers.CharField(), required=False, allow_null=True)


class OneOffInvoiceInput(serializers.Serializer):
    external_customer_id = serializers.CharField()
    currency = serializers.CharField(required=False, allow_null=True)
    fees = OneOffFeeInput(many=True)
    purchase_order_number = purchase_order_number_field()
    payment_method = payment_method_field()
    billing_entity_code = billing_entity_code_field()
    invoice_custom_section = invoice_custom_section_field()


OneOffInvoiceEnvelope = envelope("OneOffInvoiceEnvelope", "invoice", OneOffInvoiceInput)


class VoidInput(serializers.Serializer):
    generate_credit_note = serializers.BooleanField(required=False)
    refund_amount = serializers.IntegerField(required=False)
    credit_amount = serializers.IntegerField(required=False)


class FeeUpdateInput(serializers.Serializer):
    payment_status = serializers.ChoiceField(choices=["pending", "succeeded", "failed", "refunded"])


FeeUpdateEnvelope = envelope("FeeUpdateEnvelope", "fee", FeeUpdateInput)


# --- response shapes (documentation) ----------------------------------------------------------------


# Rendered by `invoicing.representation` (the shapes are defined there).
FeeOutput = schema_serializer(FeeShape)
InvoiceOutput = schema_serializer(InvoiceShape)
InvoiceEnvelope = envelope("InvoiceEnvelope", "invoice", InvoiceOutput)
PageMeta = page_meta("PageMeta")
InvoiceListEnvelope = list_envelope("InvoiceListEnvelope", "invoices", InvoiceOutput, PageMeta)
FeeEnvelope = envelope("FeeEnvelope", "fee", FeeOutput)
FeeListEnvelope = list_envelope("FeeListEnvelope", "fees", FeeOutput, PageMeta)


# Rendered by `invoicing.representation.customer_usage_payload` (current, projected and past usage).
CustomerUsageOutput = schema_serializer(CustomerUsageShape)
CustomerUsageEnvelope = envelope("CustomerUsageEnvelope", "customer_usage", CustomerUsageOutput)
CustomerProjectedUsageOutput = schema_serializer(CustomerUsageShape, "CustomerProjectedUsageOutput")
CustomerProjectedUsageEnvelope = envelope(
    "CustomerProjectedUsageEnvelope", "customer_projected_usage", CustomerProjectedUsageOutput
)


PastUsageEnvelope = list_envelope("PastUsageEnvelope", "usage_periods", CustomerUsageOutput, PageMeta)
