"""`/billing_entities` and `/invoice_custom_sections` (docs/billing-entities.md): parse, call a
service, render."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from billing_project.core.api.pagination import paginated_response
from billing_project.core.api.resources import ResourceView, endpoint
from billing_project.core.api.serializers import envelope, list_envelope
from billing_project.core.api.shapes import schema_serializer
from billing_project.core.api.unsupported import LagoOnly
from customers import entities
from customers.api.serializers import text_input
from customers.entities import BillingEntityFields, SectionFields
from customers.entity_representation import (
    BillingEntityShape,
    InvoiceCustomSectionShape,
    billing_entity_payload,
    section_payload,
)
from customers.models import BillingEntity, InvoiceCustomSection

# --- input ------------------------------------------------------------------------------------


ENTITY_LAGO_ONLY = (
    LagoOnly("einvoicing", "e-invoicing (Factur-X, XRechnung) is not implemented"),
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


class EntityBillingConfigurationInput(serializers.Serializer):
    invoice_footer = text_input(10_000)
    invoice_grace_period = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=365)
    document_locale = text_input(10)
    subscription_invoice_issuing_date_anchor = text_input(64)
    subscription_invoice_issuing_date_adjustment = text_input(64)


class BillingEntityUpdateInput(serializers.Serializer):
    name = text_input()
    legal_name = text_input()
    legal_number = text_input()
    tax_identification_number = text_input()
    email = text_input()
    phone = text_input()
    address_line1 = text_input()
    address_line2 = text_input()
    city = text_input()
    state = text_input()
    zipcode = text_input()
    country = text_input(2)
    default_currency = serializers.CharField(required=False, allow_null=True, max_length=16)
    timezone = serializers.CharField(required=False, allow_null=True, max_length=64)
    document_numbering = serializers.CharField(required=False, allow_null=True, max_length=32)
    document_number_prefix = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=64)
    finalize_zero_amount_invoice = serializers.BooleanField(required=False, allow_null=True)
    net_payment_term = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=3650)
    eu_tax_management = serializers.BooleanField(required=False, allow_null=True)
    email_settings = serializers.ListField(child=serializers.CharField(max_length=64), required=False, allow_null=True)
    logo = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=2_000_000)
    billing_configuration = EntityBillingConfigurationInput(required=False, allow_null=True)
    tax_codes = serializers.ListField(child=serializers.CharField(max_length=255), required=False, allow_null=True)
    invoice_custom_section_codes = serializers.ListField(
        child=serializers.CharField(max_length=255), required=False, allow_null=True
    )


class BillingEntityCreateInput(BillingEntityUpdateInput):
    code = serializers.CharField(max_length=255)
    name = serializers.CharField(max_length=255)


BillingEntityCreateEnvelope = envelope("BillingEntityCreateInputEnvelope", "billing_entity", BillingEntityCreateInput)
BillingEntityUpdateEnvelope = envelope("BillingEntityUpdateInputEnvelope", "billing_entity", BillingEntityUpdateInput)


class SectionUpdateInput(serializers.Serializer):
    name = text_input()
    description = text_input(10_000)
    display_name = text_input()
    details = text_input(10_000)
    applied_to_organization = serializers.BooleanField(required=False, allow_null=True)


class SectionCreateInput(SectionUpdateInput):
    code = serializers.CharField(max_length=255)
    name = serializers.CharField(max_length=255)


SectionCreateEnvelope = envelope(
    "InvoiceCustomSectionCreateInputEnvelope", "invoice_custom_section", SectionCreateInput
)
SectionUpdateEnvelope = envelope(
    "InvoiceCustomSectionUpdateInputEnvelope", "invoice_custom_section", SectionUpdateInput
)

# --- output -----------------------------------------------------------------------------------

BillingEntityOutput = schema_serializer(BillingEntityShape, "BillingEntityOutput")
BillingEntityEnvelope = envelope("BillingEntityEnvelope", "billing_entity", BillingEntityOutput)
SectionOutput = schema_serializer(InvoiceCustomSectionShape, "InvoiceCustomSectionOutput")
SectionEnvelope = envelope("InvoiceCustomSectionEnvelope", "invoice_custom_section", SectionOutput)
SectionListEnvelope = list_envelope("InvoiceCustomSectionListEnvelope", "invoice_custom_sections", SectionOutput)


class BillingEntityListEnvelope(serializers.Serializer):
    billing_entities = BillingEntityOutput(many=True)


# --- views ------------------------------------------------------------------------------------


class BillingEntityCollectionView(ResourceView):
    resource_name = "billing_entity"
    render = staticmethod(billing_entity_payload)

    @endpoint("billing_entities_list", BillingEntityListEnvelope, tags=["Billing entities"])
    def get(self, request: Request) -> Response:
        # Lago answers every entity at once, without pagination meta.
        """List billing entities"""
        items = entities.billing_entity_list(self.organization)
        return Response({"billing_entities": [billing_entity_payload(entity) for entity in items]})

    @endpoint(
        "billing_entities_create", BillingEntityEnvelope, request=BillingEntityCreateEnvelope, tags=["Billing entities"]
    )
    def post(self, request: Request) -> Response:
        """Create a billing entity"""
        data = self.body(request, BillingEntityCreateInput, lago_only=ENTITY_LAGO_ONLY)
        entity = entities.billing_entity_create(self.organization, BillingEntityFields.from_validated(data))
        return self.one(entity)


class BillingEntityDetailView(ResourceView):
    resource_name = "billing_entity"

    @staticmethod
    def render(entity: BillingEntity) -> BillingEntityShape:
        return billing_entity_payload(entity, extended=True)

    @endpoint("billing_entities_retrieve", BillingEntityEnvelope, tags=["Billing entities"])
    def get(self, request: Request, code: str) -> Response:
        """Find a billing entity"""
        return self.one(entities.billing_entity_get(self.organization, code))

    @endpoint(
        "billing_entities_update", BillingEntityEnvelope, request=BillingEntityUpdateEnvelope, tags=["Billing entities"]
    )
    def put(self, request: Request, code: str) -> Response:
        """Update a billing entity"""
        data = self.body(request, BillingEntityUpdateInput, lago_only=ENTITY_LAGO_ONLY, partial=True)
        entity = entities.billing_entity_update(self.organization, code, BillingEntityFields.from_validated(data))
        return self.one(entity)


def _section_renderer(organization: Any) -> Any:
    default = entities.default_billing_entity(organization)
    return lambda section: section_payload(section, default_entity_id=default.id)


class _SectionView(ResourceView):
    resource_name = "invoice_custom_section"

    def _one(self, section: InvoiceCustomSection) -> Response:
        return Response({"invoice_custom_section": _section_renderer(self.organization)(section)})


class InvoiceCustomSectionCollectionView(_SectionView):
    @endpoint("invoice_custom_sections_list", SectionListEnvelope, tags=["Invoice custom sections"])
    def get(self, request: Request) -> Response:
        """List invoice custom sections"""
        render = _section_renderer(self.organization)
        qs = entities.section_list(self.organization).prefetch_related("entity_links")
        return paginated_response(request, qs, "invoice_custom_sections", lambda items: [render(s) for s in items])

    @endpoint(
        "invoice_custom_sections_create",
        SectionEnvelope,
        request=SectionCreateEnvelope,
        tags=["Invoice custom sections"],
    )
    def post(self, request: Request) -> Response:
        """Create an invoice custom section"""
        data = self.body(request, SectionCreateInput)
        section = entities.section_create(self.organization, SectionFields.from_validated(data))
        return self._one(section)


class InvoiceCustomSectionDetailView(_SectionView):
    @endpoint("invoice_custom_sections_retrieve", SectionEnvelope, tags=["Invoice custom sections"])
    def get(self, request: Request, code: str) -> Response:
        """Find an invoice custom section"""
        return self._one(entities.section_get(self.organization, code))

    @endpoint(
        "invoice_custom_sections_update",
        SectionEnvelope,
        request=SectionUpdateEnvelope,
        tags=["Invoice custom sections"],
    )
    def put(self, request: Request, code: str) -> Response:
        """Update an invoice custom section"""
        data = self.body(request, SectionUpdateInput, partial=True)
        return self._one(entities.section_update(self.organization, code, SectionFields.from_validated(data)))

    @endpoint("invoice_custom_sections_destroy", SectionEnvelope, tags=["Invoice custom sections"])
    def delete(self, request: Request, code: str) -> Response:
        """Delete an invoice custom section"""
        section = entities.section_delete(self.organization, code)
        return Response({"invoice_custom_section": section_payload(section)})
