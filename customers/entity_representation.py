"""Lago's billing entity and invoice custom section objects (docs/billing-entities.md), for the API.

One definition each: the shapes below are what the renderers return and what the OpenAPI
components (`customers.api.entities`) are derived from.
"""

from __future__ import annotations

from typing import Annotated, Any, NotRequired, TypedDict

from billing_project.core.api.serializers import optional_text
from billing_project.core.api.shapes import DateTime, Help, Uuid
from customers import hooks
from customers.entities import entity_sections
from customers.models import BillingEntity, InvoiceCustomSection
from customers.representation import _datetime


class InvoiceCustomSectionShape(TypedDict):
    lago_id: Uuid
    code: str
    name: str
    description: str | None
    display_name: str | None
    details: str | None
    applied_to_organization: Annotated[bool, Help("Deprecated by Lago: selected by the default billing entity.")]
    organization_id: Uuid
    created_at: DateTime


class BillingEntityShape(TypedDict):
    lago_id: Uuid
    code: str
    name: str
    is_default: bool
    default_currency: str
    timezone: str
    document_locale: str
    document_numbering: str
    document_number_prefix: str | None
    finalize_zero_amount_invoice: bool
    invoice_footer: str | None
    invoice_grace_period: int
    subscription_invoice_issuing_date_anchor: str
    subscription_invoice_issuing_date_adjustment: str
    net_payment_term: int
    address_line1: str | None
    address_line2: str | None
    city: str | None
    state: str | None
    zipcode: str | None
    country: str | None
    email: str | None
    phone: str | None
    legal_name: str | None
    legal_number: str | None
    tax_identification_number: str | None
    email_settings: list[str]
    eu_tax_management: bool
    einvoicing: bool
    logo_url: Annotated[str | None, Help("The logo sent, as a data URI.")]
    created_at: DateTime
    updated_at: DateTime
    taxes: NotRequired[Annotated[list[dict[str, Any]], Help("One entity only (GET and PUT): its default taxes.")]]
    selected_invoice_custom_sections: NotRequired[
        Annotated[list[InvoiceCustomSectionShape], Help("One entity only (GET and PUT).")]
    ]


def section_payload(section: InvoiceCustomSection, *, default_entity_id: Any = None) -> InvoiceCustomSectionShape:
    applied = default_entity_id is not None and any(
        link.billing_entity_id == default_entity_id for link in section.entity_links.all()
    )
    return {
        "lago_id": str(section.id),
        "code": str(section.code),
        "name": str(section.name),
        "description": optional_text(section.description),
        "display_name": optional_text(section.display_name),
        "details": optional_text(section.details),
        "applied_to_organization": applied,
        "organization_id": str(section.organization_id),
        "created_at": _datetime(section.created_at),
    }


def billing_entity_payload(entity: BillingEntity, *, extended: bool = False) -> BillingEntityShape:
    """The entity object; `extended` adds its `taxes` and `selected_invoice_custom_sections`
    (Lago's answer to GET and PUT of one entity)."""
    text = optional_text
    data: BillingEntityShape = {
        "lago_id": str(entity.id),
        "code": str(entity.code),
        "name": str(entity.name),
        "is_default": bool(entity.is_default),
        "default_currency": str(entity.default_currency),
        "timezone": str(entity.timezone),
        "document_locale": str(entity.document_locale),
        "document_numbering": str(entity.document_numbering),
        "document_number_prefix": text(entity.document_number_prefix),
        "finalize_zero_amount_invoice": bool(entity.finalize_zero_amount_invoice),
        "invoice_footer": text(entity.invoice_footer),
        "invoice_grace_period": int(entity.invoice_grace_period),
        "subscription_invoice_issuing_date_anchor": "next_period_start",
        "subscription_invoice_issuing_date_adjustment": "align_with_finalization_date",
        "net_payment_term": int(entity.net_payment_term),
        "address_line1": text(entity.address_line1),
        "address_line2": text(entity.address_line2),
        "city": text(entity.city),
        "state": text(entity.state),
        "zipcode": text(entity.zipcode),
        "country": text(entity.country),
        "email": text(entity.email),
        "phone": text(entity.phone),
        "legal_name": text(entity.legal_name),
        "legal_number": text(entity.legal_number),
        "tax_identification_number": text(entity.tax_identification_number),
        "email_settings": [str(item) for item in entity.email_settings or []],
        "eu_tax_management": bool(entity.eu_tax_management),
        "einvoicing": False,
        "logo_url": text(entity.logo),
        "created_at": _datetime(entity.created_at),
        "updated_at": _datetime(entity.updated_at),
    }
    if extended:
        data["taxes"] = hooks.billing_entity_taxes.get().represent(entity)
        default_id = entity.id if entity.is_default else None
        data["selected_invoice_custom_sections"] = [
            section_payload(section, default_entity_id=default_id) for section in entity_sections(entity)
        ]
    return data
