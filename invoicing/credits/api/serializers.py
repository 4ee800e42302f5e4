"""Request serializers and response components of the wallets and credit notes API (for OpenAPI).

The services validate the values (credits are decimal strings, amounts integer cents) and answer
with Lago's codes; responses are rendered by `invoicing.credits.representation`, and their
components are derived from the shapes its renderers return.
"""

from __future__ import annotations

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
from invoicing.credits.representation import (
    CreditNoteEstimateShape,
    CreditNoteShape,
    WalletShape,
    WalletTransactionConsumptionShape,
    WalletTransactionShape,
)

# Lago fields bxb refuses (docs/lago-compatibility.md, "Refused Lago fields").
WALLET_TRANSACTION_LAGO_ONLY: tuple[LagoOnly, ...] = ()
WALLET_LAGO_ONLY = (
    LagoOnly(
        "recurring_transaction_rules[].grants_target_top_up",
        "a `target` rule fills the gap with a paid top-up (granting free credits instead is not implemented)",
    ),
    LagoOnly(
        "recurring_transaction_rules[].invoice_requires_successful_payment",
        "a rule's top-ups follow the wallet's own `invoice_requires_successful_payment`",
    ),
)


class AppliesToSchema(serializers.Serializer):
    fee_types = serializers.ListField(child=serializers.CharField(), required=False)
    billable_metric_codes = serializers.ListField(child=serializers.CharField(), required=False)


class RecurringRuleSchema(serializers.Serializer):
    lago_id = serializers.CharField(required=False)
    trigger = serializers.CharField(required=False)
    interval = serializers.CharField(required=False, allow_null=True)
    method = serializers.CharField(required=False)
    paid_credits = serializers.CharField(required=False)
    granted_credits = serializers.CharField(required=False)
    threshold_credits = serializers.CharField(required=False, allow_null=True)
    target_ongoing_balance = serializers.CharField(required=False, allow_null=True)
    started_at = ClientDateTimeField(required=False, allow_null=True)
    expiration_at = ClientDateTimeField(required=False, allow_null=True)
    transaction_metadata = serializers.ListField(child=serializers.DictField(), required=False)
    transaction_name = serializers.CharField(required=False, allow_null=True)
    ignore_paid_top_up_limits = serializers.BooleanField(required=False)
    payment_method = payment_method_field()
    invoice_custom_section = invoice_custom_section_field()
    purchase_order_number = purchase_order_number_field()


class WalletInput(serializers.Serializer):
    external_customer_id = serializers.CharField()
    rate_amount = serializers.CharField()
    name = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    code = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    priority = serializers.IntegerField(required=False, min_value=1, max_value=50)
    currency = serializers.CharField(required=False)
    paid_credits = serializers.CharField(required=False, allow_null=True)
    granted_credits = serializers.CharField(required=False, allow_null=True)
    expiration_at = ClientDateTimeField(required=False, allow_null=True)
    recurring_transaction_rules = RecurringRuleSchema(many=True, required=False)
    transaction_metadata = serializers.ListField(child=serializers.DictField(), required=False)
    transaction_name = serializers.CharField(required=False, allow_null=True)
    transaction_priority = serializers.IntegerField(required=False, min_value=1, max_value=50)
    applies_to = AppliesToSchema(required=False)
    invoice_requires_successful_payment = serializers.BooleanField(required=False)
    paid_top_up_min_amount_cents = serializers.IntegerField(required=False, allow_null=True)
    paid_top_up_max_amount_cents = serializers.IntegerField(required=False, allow_null=True)
    ignore_paid_top_up_limits_on_creation = serializers.BooleanField(required=False)
    metadata = serializers.DictField(required=False, allow_null=True)
    payment_method = payment_method_field()
    billing_entity_code = billing_entity_code_field()
    invoice_custom_section = invoice_custom_section_field()
    purchase_order_number = purchase_order_number_field()


WalletInputEnvelope = envelope("WalletInputEnvelope", "wallet", WalletInput)


WalletOutput = schema_serializer(WalletShape)
WalletEnvelope = envelope("WalletEnvelope", "wallet", WalletOutput)


MetaSchema = page_meta("MetaSchema")
WalletListEnvelope = list_envelope("WalletListEnvelope", "wallets", WalletOutput, MetaSchema)


class WalletTransactionInput(serializers.Serializer):
    wallet_id = serializers.UUIDField()
    paid_credits = serializers.CharField(required=False, allow_null=True)
    granted_credits = serializers.CharField(required=False, allow_null=True)
    voided_credits = serializers.CharField(required=False, allow_null=True)
    voided_transaction_id = serializers.UUIDField(required=False, allow_null=True)
    priority = serializers.IntegerField(required=False, min_value=1, max_value=50)
    invoice_requires_successful_payment = serializers.BooleanField(required=False, allow_null=True)
    metadata = serializers.ListField(child=serializers.DictField(), required=False, allow_null=True)
    name = serializers.CharField(required=False, allow_null=True)
    ignore_paid_top_up_limits = serializers.BooleanField(required=False, allow_null=True)
    payment_method = payment_method_field()
    invoice_custom_section = invoice_custom_section_field()
    purchase_order_number = purchase_order_number_field()


WalletTransactionInputEnvelope = envelope(
    "WalletTransactionInputEnvelope", "wallet_transaction", WalletTransactionInput
)


WalletTransactionOutput = schema_serializer(WalletTransactionShape)
WalletTransactionEnvelope = envelope("WalletTransactionEnvelope", "wallet_transaction", WalletTransactionOutput)


WalletTransactionConsumptionOutput = schema_serializer(WalletTransactionConsumptionShape)
WalletTransactionConsumptionListEnvelope = list_envelope(
    "WalletTransactionConsumptionListEnvelope", "wallet_transaction_consumptions", WalletTransactionConsumptionOutput
)
WalletTransactionFundingListEnvelope = list_envelope(
    "WalletTransactionFundingListEnvelope", "wallet_transaction_fundings", WalletTransactionConsumptionOutput
)


WalletTransactionListEnvelope = list_envelope(
    "WalletTransactionListEnvelope", "wallet_transactions", WalletTransactionOutput, MetaSchema, meta_required=False
)


class CreditNoteItemInput(serializers.Serializer):
    fee_id = serializers.UUIDField()
    amount_cents = serializers.IntegerField()


class CreditNoteInput(serializers.Serializer):
    invoice_id = serializers.UUIDField()
    reason = serializers.CharField(required=False)
    description = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    credit_amount_cents = serializers.IntegerField(required=False)
    refund_amount_cents = serializers.IntegerField(required=False)
    offset_amount_cents = serializers.IntegerField(required=False)
    items = CreditNoteItemInput(many=True)
    metadata = serializers.DictField(required=False, allow_null=True)


CreditNoteInputEnvelope = envelope("CreditNoteInputEnvelope", "credit_note", CreditNoteInput)


class CreditNoteEstimateInput(serializers.Serializer):
    invoice_id = serializers.UUIDField()
    items = CreditNoteItemInput(many=True)


CreditNoteEstimateInputEnvelope = envelope("CreditNoteEstimateInputEnvelope", "credit_note", CreditNoteEstimateInput)


class CreditNoteUpdateInput(serializers.Serializer):
    refund_status = serializers.CharField(required=False)
    metadata = serializers.DictField(required=False, allow_null=True)


CreditNoteUpdateInputEnvelope = envelope("CreditNoteUpdateInputEnvelope", "credit_note", CreditNoteUpdateInput)


CreditNoteOutput = schema_serializer(CreditNoteShape)
CreditNoteEnvelope = envelope("CreditNoteEnvelope", "credit_note", CreditNoteOutput)


CreditNoteListEnvelope = list_envelope("CreditNoteListEnvelope", "credit_notes", CreditNoteOutput, MetaSchema)


CreditNoteEstimateOutput = schema_serializer(CreditNoteEstimateShape)
CreditNoteEstimateEnvelope = envelope("CreditNoteEstimateEnvelope", "estimated_credit_note", CreditNoteEstimateOutput)


class CreditMetadataEnvelope(serializers.Serializer):
    metadata = serializers.DictField(child=serializers.CharField(allow_null=True))
