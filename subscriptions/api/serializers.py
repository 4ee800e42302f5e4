"""Input and output shapes of the subscriptions API (docs/lago-compatibility.md §2, docs/subscriptions.md)."""

from __future__ import annotations

from rest_framework import serializers

from billing_project.core.api.serializers import envelope, list_envelope, optional_list
from billing_project.core.api.unsupported import LagoOnly
from billing_project.core.bounds import MAX_AMOUNT_CENTS
from catalog.api.serializers import (
    PRICING_UNIT_REASON,
    ChargeFilterInput,
    FixedChargeInput,
    MinimumCommitmentInput,
    UsageThresholdInput,
)
from customers.api.serializers import (
    billing_entity_code_field,
    invoice_custom_section_field,
    payment_method_field,
    purchase_order_number_field,
)
from subscriptions.models import BillingTime, OnTerminationCreditNote, OnTerminationInvoice
from subscriptions.representation import SubscriptionOutput, SubscriptionWithPlanOutput
from subscriptions.services import DOWNGRADE_AT_PERIOD_END, DOWNGRADE_IMMEDIATELY

# Lago fields bxb refuses (docs/lago-compatibility.md, "Refused Lago fields").
SUBSCRIPTION_LAGO_ONLY = (
    LagoOnly(
        "activation_rules", "activation rules (a subscription started once a payment succeeds) are not implemented"
    ),
    LagoOnly(
        "consolidate_invoice",
        "bxb bills a customer's subscriptions due the same day on one invoice",
        accepted=(True,),
        empty_accepted=False,
    ),
    LagoOnly("plan_overrides.charges[].applied_pricing_unit", PRICING_UNIT_REASON),
)
SUBSCRIPTION_BODY_LAGO_ONLY = (
    LagoOnly("authorization", "a payment pre-authorization before the subscription starts is not implemented"),
)


def _text(max_length: int = 255) -> serializers.CharField:
    return serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=max_length)


def _codes() -> serializers.ListField:
    return serializers.ListField(child=serializers.CharField(max_length=255), required=False, allow_null=True)


class ChargeOverrideInput(serializers.Serializer):
    id = serializers.CharField(max_length=64)
    invoice_display_name = _text()
    min_amount_cents = serializers.IntegerField(required=False, allow_null=True, min_value=0)
    properties = serializers.DictField(required=False, allow_null=True)
    filters = optional_list(ChargeFilterInput())
    tax_codes = _codes()


class PlanOverridesInput(serializers.Serializer):
    """The overridable fields of a plan (catalog's `PlanOverrides`), validated as plan input."""

    name = _text()
    invoice_display_name = _text()
    description = _text(4000)
    amount_cents = serializers.IntegerField(required=False, allow_null=True, min_value=0)
    amount_currency = serializers.CharField(required=False, allow_null=True, max_length=3)
    trial_period = serializers.DecimalField(
        required=False, allow_null=True, max_digits=12, decimal_places=5, min_value=0
    )
    tax_codes = _codes()
    minimum_commitment = MinimumCommitmentInput(required=False, allow_null=True)
    usage_thresholds = optional_list(UsageThresholdInput())
    metadata = serializers.DictField(
        child=serializers.CharField(allow_null=True, allow_blank=True), required=False, allow_null=True
    )
    charges = optional_list(ChargeOverrideInput())
    fixed_charges = optional_list(FixedChargeInput())


class SubscriptionInput(serializers.Serializer):
    external_customer_id = serializers.CharField(max_length=255)
    plan_code = serializers.CharField(max_length=255)
    external_id = serializers.CharField(max_length=255)
    name = _text()
    subscription_at = serializers.CharField(required=False, allow_null=True, max_length=64)
    ending_at = serializers.CharField(required=False, allow_null=True, max_length=64)
    billing_time = serializers.ChoiceField(choices=BillingTime.values, required=False, allow_null=True)
    plan_overrides = PlanOverridesInput(required=False, allow_null=True)
    on_termination_credit_note = serializers.ChoiceField(
        choices=OnTerminationCreditNote.values, required=False, allow_null=True
    )
    on_termination_invoice = serializers.ChoiceField(
        choices=OnTerminationInvoice.values, required=False, allow_null=True
    )
    downgrade_timing = serializers.ChoiceField(
        choices=[DOWNGRADE_AT_PERIOD_END, DOWNGRADE_IMMEDIATELY],
        required=False,
        allow_null=True,
        help_text="bxb extra: `immediate` applies a downgrade now (unused in-advance days credited).",
    )
    payment_method = payment_method_field()
    billing_entity_code = billing_entity_code_field()
    invoice_custom_section = invoice_custom_section_field()
    purchase_order_number = purchase_order_number_field()
    bill_past_periods = serializers.BooleanField(
        required=False,
        allow_null=True,
        help_text="bxb extra: with a `subscription_at` in the past, bill every period since then (at most "
        "SUBSCRIPTION_MAX_PAST_PERIODS); by default billing starts with the current period.",
    )


SubscriptionInputEnvelope = envelope("SubscriptionInputEnvelope", "subscription", SubscriptionInput)


class SubscriptionUpdateInput(serializers.Serializer):
    name = _text()
    subscription_at = serializers.CharField(required=False, allow_null=True, max_length=64)
    ending_at = serializers.CharField(required=False, allow_null=True, max_length=64)
    plan_overrides = PlanOverridesInput(required=False, allow_null=True)
    on_termination_credit_note = serializers.ChoiceField(
        choices=OnTerminationCreditNote.values, required=False, allow_null=True
    )
    on_termination_invoice = serializers.ChoiceField(
        choices=OnTerminationInvoice.values, required=False, allow_null=True
    )
    payment_method = payment_method_field()
    billing_entity_code = billing_entity_code_field()
    invoice_custom_section = invoice_custom_section_field()
    purchase_order_number = purchase_order_number_field()


SubscriptionUpdateInputEnvelope = envelope("SubscriptionUpdateInputEnvelope", "subscription", SubscriptionUpdateInput)
SubscriptionEnvelope = envelope("SubscriptionEnvelope", "subscription", SubscriptionWithPlanOutput)
SubscriptionListEnvelope = list_envelope("SubscriptionListEnvelope", "subscriptions", SubscriptionOutput)


# --- one subscription's charges (/subscriptions/{external_id}/charges[/{code}[/filters]]) ----------

SUBSCRIPTION_CHARGE_LAGO_ONLY = (LagoOnly("applied_pricing_unit", PRICING_UNIT_REASON),)


class SubscriptionChargeInput(serializers.Serializer):
    """Lago's `ChargeOverridableInput`: what a subscription may change of one charge of its plan."""

    invoice_display_name = _text()
    min_amount_cents = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=MAX_AMOUNT_CENTS
    )
    properties = serializers.DictField(required=False, allow_null=True)
    filters = optional_list(ChargeFilterInput())
    tax_codes = serializers.ListField(child=serializers.CharField(max_length=255), required=False, allow_null=True)


SubscriptionChargeInputEnvelope = envelope("SubscriptionChargeInputEnvelope", "charge", SubscriptionChargeInput)
