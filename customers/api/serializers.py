"""Input and output shapes of the customers and organizations API (docs/lago-compatibility.md §2, §3)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from rest_framework import serializers

from billing_project.core.api.serializers import (
    OptionalTextField,
    OutputSerializer,
    envelope,
    list_envelope,
    optional_list,
)
from billing_project.core.api.shapes import schema_serializer
from billing_project.core.api.unsupported import LagoOnly
from billing_project.core.prepared import PreparedQuery
from customers.models import CustomerType, FinalizeZeroAmount, Organization
from customers.payment_choice import INVALID as INVALID_PAYMENT_METHOD
from customers.representation import CustomerShape


def text_input(max_length: int = 255) -> serializers.CharField:
    return serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=max_length)


# --- input ------------------------------------------------------------------------------------

# Lago fields bxb refuses (docs/lago-compatibility.md, "Refused Lago fields").
NO_BILLING_ENTITIES = "billing entities are not implemented: an organization bills as one entity"
NO_CUSTOM_SECTIONS = "invoice custom sections are not implemented"
CUSTOMER_LAGO_ONLY = (
    LagoOnly("account_type", "partner accounts (self-billing) are not implemented", accepted=("customer",)),
    LagoOnly("integration_customers", "accounting, CRM and tax-provider integrations are not implemented"),
    LagoOnly(
        "billing_configuration.subscription_invoice_issuing_date_anchor",
        "a subscription invoice is issued on the day its period ends (the next period's start)",
        accepted=("next_period_start",),
    ),
    LagoOnly(
        "billing_configuration.subscription_invoice_issuing_date_adjustment",
        "an invoice finalized after a grace period is issued on its finalization day",
        accepted=("align_with_finalization_date",),
    ),
)
# `email_settings` is accepted: payments e-mails the documents it names (docs/payments.md §11).
ORGANIZATION_LAGO_ONLY: tuple[LagoOnly, ...] = ()


class PaymentMethodChoiceInput(serializers.Serializer):
    """Lago's `payment_method` object: how the invoices of a subscription, a one-off invoice, a
    wallet or a top-up are collected (`customers.payment_choice`, docs/payments.md §12). The
    values are checked by the service (422 `invalid_payment_method`)."""

    payment_method_type = serializers.CharField(
        required=False, allow_null=True, allow_blank=True, max_length=32, help_text="`provider` (default) or `manual`."
    )
    payment_method_id = serializers.CharField(
        required=False,
        allow_null=True,
        allow_blank=True,
        max_length=64,
        help_text="The `lago_id` of one of the customer's payment methods; null: the default one.",
    )

    def to_internal_value(self, data: Any) -> Any:
        """Anything malformed is Lago's one code for the object, `invalid_payment_method`."""
        if not isinstance(data, Mapping):
            raise serializers.ValidationError("payment_method is not an object", code=INVALID_PAYMENT_METHOD)
        try:
            return super().to_internal_value(data)
        except serializers.ValidationError:
            raise serializers.ValidationError("malformed payment_method", code=INVALID_PAYMENT_METHOD) from None


def payment_method_field() -> PaymentMethodChoiceInput:
    return PaymentMethodChoiceInput(required=False, allow_null=True)


class SectionChoiceInputSerializer(serializers.Serializer):
    """Lago's `invoice_custom_section` object: the custom sections the invoices of a subscription,
    a one-off invoice, a wallet or a top-up print (`customers.section_choice`)."""

    skip_invoice_custom_sections = serializers.BooleanField(
        required=False, allow_null=True, help_text="true: print no section (the codes are ignored)."
    )
    invoice_custom_section_codes = serializers.ListField(
        child=serializers.CharField(max_length=255),
        required=False,
        allow_null=True,
        help_text="The sections to print (404 `invoice_custom_section_not_found` for an unknown code).",
    )


def invoice_custom_section_field() -> SectionChoiceInputSerializer:
    return SectionChoiceInputSerializer(required=False, allow_null=True)


def _optional_code(help_text: str) -> serializers.CharField:
    return serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=255, help_text=help_text)


def billing_entity_code_field() -> serializers.CharField:
    return _optional_code(
        "The billing entity that bills these invoices (404 `billing_entity_not_found`); empty: the customer's."
    )


def purchase_order_number_field() -> serializers.CharField:
    return _optional_code("Printed on the invoices (Lago's `purchase_order_number`).")


class BillingConfigurationInput(serializers.Serializer):
    invoice_grace_period = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=365)
    payment_provider = text_input(32)
    payment_provider_code = text_input()
    provider_customer_id = text_input()
    sync = serializers.BooleanField(required=False, allow_null=True)
    sync_with_provider = serializers.BooleanField(required=False, allow_null=True)
    document_locale = text_input(10)
    provider_payment_methods = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, allow_null=True
    )
    subscription_invoice_issuing_date_anchor = text_input(64)
    subscription_invoice_issuing_date_adjustment = text_input(64)


class AddressInput(serializers.Serializer):
    address_line1 = text_input()
    address_line2 = text_input()
    city = text_input()
    zipcode = text_input()
    state = text_input()
    country = text_input(2)


class MetadataInput(serializers.Serializer):
    id = serializers.CharField(required=False, allow_null=True)
    key = serializers.CharField(max_length=255)
    value = serializers.CharField(max_length=1024, allow_blank=True, allow_null=True)
    display_in_invoice = serializers.BooleanField(required=False, default=False)


class CustomerInput(serializers.Serializer):
    external_id = serializers.CharField(max_length=255)
    name = text_input()
    firstname = text_input()
    lastname = text_input()
    customer_type = serializers.ChoiceField(
        choices=CustomerType.values, required=False, allow_null=True, allow_blank=True
    )
    email = text_input(1024)
    phone = text_input()
    url = text_input(1024)
    logo_url = text_input(1024)
    legal_name = text_input()
    legal_number = text_input()
    tax_identification_number = text_input()
    address_line1 = text_input()
    address_line2 = text_input()
    city = text_input()
    zipcode = text_input()
    state = text_input()
    country = text_input(2)
    currency = serializers.CharField(required=False, allow_null=True, max_length=16)
    timezone = serializers.CharField(required=False, allow_null=True, max_length=64)
    net_payment_term = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=3650)
    finalize_zero_amount_invoice = serializers.ChoiceField(
        choices=FinalizeZeroAmount.values, required=False, allow_null=True
    )
    billing_configuration = BillingConfigurationInput(required=False, allow_null=True)
    shipping_address = AddressInput(required=False, allow_null=True)
    metadata = optional_list(MetadataInput())
    tax_codes = serializers.ListField(child=serializers.CharField(max_length=255), required=False, allow_null=True)
    billing_entity_code = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=255)
    skip_invoice_custom_sections = serializers.BooleanField(required=False, allow_null=True)
    invoice_custom_section_codes = serializers.ListField(
        child=serializers.CharField(max_length=255), required=False, allow_null=True
    )


CustomerInputEnvelope = envelope("CustomerInputEnvelope", "customer", CustomerInput)


class OrganizationBillingConfigurationInput(serializers.Serializer):
    invoice_footer = text_input(600)
    invoice_grace_period = serializers.IntegerField(required=False, min_value=0, max_value=365)
    document_locale = text_input(10)


class OrganizationInput(serializers.Serializer):
    default_currency = serializers.CharField(required=False, max_length=16)
    country = text_input(2)
    address_line1 = text_input()
    address_line2 = text_input()
    state = text_input()
    zipcode = text_input()
    email = text_input()
    city = text_input()
    legal_name = text_input()
    legal_number = text_input()
    tax_identification_number = text_input()
    document_numbering = serializers.CharField(required=False, max_length=32)
    document_number_prefix = serializers.CharField(required=False, allow_blank=True, max_length=64)
    net_payment_term = serializers.IntegerField(required=False, min_value=0, max_value=3650)
    timezone = serializers.CharField(required=False, allow_null=True, max_length=64)
    email_settings = serializers.ListField(child=serializers.CharField(max_length=64), required=False, allow_null=True)
    finalize_zero_amount_invoice = serializers.BooleanField(required=False)
    billing_configuration = OrganizationBillingConfigurationInput(required=False, allow_null=True)
    webhook_url = text_input(1024)


OrganizationInputEnvelope = envelope("OrganizationInputEnvelope", "organization", OrganizationInput)


# --- output -----------------------------------------------------------------------------------


CustomerOutput = schema_serializer(CustomerShape)  # rendered by `customers.representation.customer_payload`


CustomerEnvelope = envelope("CustomerEnvelope", "customer", CustomerOutput)
CustomerListEnvelope = list_envelope("CustomerListEnvelope", "customers", CustomerOutput)


def _webhook_urls(p: Any) -> Any:
    from webhooks.models import WebhookEndpoint

    return (
        WebhookEndpoint.objects.filter(organization_id=p.organization).order_by("created_at").values_list("webhook_url")
    )


# The organization's webhook URLs (`GET /organizations`), compiled once per process (`PreparedQuery`).
_WEBHOOK_URLS = PreparedQuery(_webhook_urls, organization=uuid.UUID)


class OrganizationOutput(OutputSerializer):
    lago_id = serializers.UUIDField(source="id")
    name = serializers.CharField()
    slug = serializers.SerializerMethodField()
    default_currency = serializers.CharField()
    timezone = serializers.CharField()
    country = OptionalTextField()
    address_line1 = OptionalTextField()
    address_line2 = OptionalTextField()
    state = OptionalTextField()
    zipcode = OptionalTextField()
    email = OptionalTextField()
    city = OptionalTextField()
    legal_name = OptionalTextField()
    legal_number = OptionalTextField()
    tax_identification_number = OptionalTextField()
    document_numbering = serializers.CharField()
    document_number_prefix = serializers.CharField()
    net_payment_term = serializers.IntegerField()
    finalize_zero_amount_invoice = serializers.BooleanField()
    email_settings = serializers.ListField(child=serializers.CharField())
    events_store = serializers.SerializerMethodField()
    billing_configuration = serializers.SerializerMethodField()
    taxes = serializers.SerializerMethodField()
    webhook_url = serializers.SerializerMethodField()
    webhook_urls = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()

    def get_webhook_urls(self, obj: Organization) -> list[str]:
        # Read once for both fields (`webhook_url` is the first of them), per serializer and object.
        read: dict[Any, list[str]] = self.__dict__.setdefault("_webhook_urls", {})
        if obj.pk not in read:
            read[obj.pk] = [url for (url,) in _WEBHOOK_URLS.fetch(organization=obj.pk)]
        return list(read[obj.pk])

    def get_webhook_url(self, obj: Organization) -> str | None:
        urls = self.get_webhook_urls(obj)
        return urls[0] if urls else None

    def get_slug(self, obj: Organization) -> str:
        return obj.document_number_prefix.lower()

    def get_events_store(self, obj: Organization) -> str:
        from django.conf import settings

        return "clickhouse" if settings.CLICKHOUSE_URL else "postgres"

    def get_billing_configuration(self, obj: Organization) -> dict[str, Any]:
        return {
            "invoice_footer": obj.invoice_footer,
            "invoice_grace_period": obj.invoice_grace_period,
            "document_locale": obj.document_locale,
        }

    def get_taxes(self, obj: Organization) -> list[Any]:
        return self.context.get("taxes", [])


OrganizationEnvelope = envelope("OrganizationEnvelope", "organization", OrganizationOutput)
