"""Lago's customer object (docs/lago-compatibility.md §1.3, §3), for the API, webhooks and every
object that embeds its customer (invoices, credit notes, payment requests).

One definition: `CustomerShape` is what `customer_payload` returns (mypy checks the keys and their
types) and the OpenAPI component `CustomerOutput` is derived from it (`customers.api.serializers`).
The renderer builds the dict directly: lists render it once per row, invoice lists once per
customer of the page.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any, NotRequired, TypedDict, overload

from django.utils import timezone

from billing_project.core.api.serializers import optional_text
from billing_project.core.api.shapes import DateTime, Help, Uuid
from customers import hooks
from customers.entities import customer_billing_entity
from customers.models import Customer, InvoiceCustomSection

_PROVIDER_ONLY = Help("Only with a payment provider.")


class BillingConfigurationShape(TypedDict):
    invoice_grace_period: int | None
    payment_provider: str | None
    payment_provider_code: str | None
    document_locale: str | None
    provider_customer_id: NotRequired[Annotated[str | None, Help("Only when the customer has a payment provider.")]]
    sync: NotRequired[Annotated[bool | None, _PROVIDER_ONLY]]
    sync_with_provider: NotRequired[Annotated[bool | None, _PROVIDER_ONLY]]
    provider_payment_methods: NotRequired[Annotated[list[str] | None, _PROVIDER_ONLY]]


class AddressShape(TypedDict):
    address_line1: str | None
    address_line2: str | None
    city: str | None
    zipcode: str | None
    state: str | None
    country: str | None


class MetadataShape(TypedDict):
    lago_id: Uuid
    key: str
    value: str
    display_in_invoice: bool
    created_at: DateTime


class ApplicableSectionShape(TypedDict):
    """Lago's section object as its customer answers it (no `applied_to_organization`)."""

    lago_id: Uuid
    code: str
    name: str
    description: str | None
    details: str | None
    display_name: str | None
    organization_id: Uuid


class CustomerShape(TypedDict):
    lago_id: Uuid
    external_id: str
    sequential_id: int | None
    slug: str
    account_type: str
    name: str | None
    firstname: str | None
    lastname: str | None
    customer_type: str | None
    email: str | None
    phone: str | None
    url: str | None
    logo_url: str | None
    legal_name: str | None
    legal_number: str | None
    tax_identification_number: str | None
    address_line1: str | None
    address_line2: str | None
    city: str | None
    zipcode: str | None
    state: str | None
    country: str | None
    currency: str | None
    timezone: str | None
    applicable_timezone: str
    net_payment_term: int | None
    finalize_zero_amount_invoice: str
    billing_configuration: BillingConfigurationShape
    shipping_address: AddressShape
    metadata: list[MetadataShape]
    taxes: Annotated[list[dict[str, Any]], Help("The customer's taxes (Lago's tax objects).")]
    integration_customers: list[Any]
    applicable_invoice_custom_sections: Annotated[
        list[ApplicableSectionShape],
        Help(
            "The sections its invoices print: none when it skips them, else its own choice, else its billing "
            "entity's. Answered for one customer (GET, POST); `[]` in lists, where Lago leaves it out."
        ),
    ]
    skip_invoice_custom_sections: bool
    billing_entity_code: Annotated[
        str, Help("The customer's billing entity (the organization's default one unless named).")
    ]
    error_details: list[Any]
    created_at: DateTime
    updated_at: DateTime


@overload
def _datetime(value: datetime) -> str: ...
@overload
def _datetime(value: datetime | None) -> str | None: ...
def _datetime(value: datetime | None) -> str | None:
    """DRF's DateTimeField output with our DATETIME_FORMAT (in the active timezone), without a field:
    `strftime("%04Y-%m-%dT%H:%M:%SZ")`'s text, from the cheaper `isoformat` (as `utc_iso`)."""
    if not value:
        return None
    return value.astimezone(timezone.get_current_timezone()).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


# Rows of the customer's relations the representation reads (`metadata`, and the taxes hook's,
# e.g. `tax_links`), by relation name: read beforehand for a page, or known to be empty by the
# service that just wrote the customer. A relation not in the mapping is read from the customer.
Related = Mapping[str, Sequence[Any]]


def customer_payload(
    customer: Customer, *, related: Related | None = None, sections: Sequence[InvoiceCustomSection] = ()
) -> CustomerShape:
    """The customer object of the API and webhooks (`related`: see `Related`; `sections`: its
    applicable invoice custom sections, `customers.entities.customer_sections`, answered for one
    customer as Lago does)."""
    text = optional_text
    metadata = related.get("metadata") if related is not None else None
    return {
        "lago_id": str(customer.id),
        "external_id": str(customer.external_id),
        "sequential_id": None if customer.sequential_id is None else int(customer.sequential_id),
        "slug": str(customer.slug),
        "account_type": str(customer.account_type),
        "name": text(customer.name),
        "firstname": text(customer.firstname),
        "lastname": text(customer.lastname),
        "customer_type": customer.customer_type or None,
        "email": text(customer.email),
        "phone": text(customer.phone),
        "url": text(customer.url),
        "logo_url": text(customer.logo_url),
        "legal_name": text(customer.legal_name),
        "legal_number": text(customer.legal_number),
        "tax_identification_number": text(customer.tax_identification_number),
        "address_line1": text(customer.address_line1),
        "address_line2": text(customer.address_line2),
        "city": text(customer.city),
        "zipcode": text(customer.zipcode),
        "state": text(customer.state),
        "country": text(customer.country),
        "currency": _str(customer.currency),
        "timezone": _str(customer.timezone),
        "applicable_timezone": str(customer.applicable_timezone),
        "net_payment_term": None if customer.net_payment_term is None else int(customer.net_payment_term),
        "finalize_zero_amount_invoice": str(customer.finalize_zero_amount_invoice),
        "billing_configuration": billing_configuration_payload(customer),
        "shipping_address": shipping_address_payload(customer),
        "metadata": [
            {
                "lago_id": str(entry.id),
                "key": str(entry.key),
                "value": str(entry.value),
                "display_in_invoice": bool(entry.display_in_invoice),
                "created_at": _datetime(entry.created_at),
            }
            for entry in (customer.metadata.all() if metadata is None else metadata)
        ],
        "taxes": hooks.customer_taxes.get().represent(customer, related=related),
        "integration_customers": [],
        "applicable_invoice_custom_sections": [section_object(section) for section in sections],
        "skip_invoice_custom_sections": bool(customer.skip_invoice_custom_sections),
        "billing_entity_code": customer_billing_entity(customer).code,
        "error_details": [],
        "created_at": _datetime(customer.created_at),
        "updated_at": _datetime(customer.updated_at),
    }


def section_object(section: InvoiceCustomSection) -> ApplicableSectionShape:
    """Lago's section object where a customer, a subscription or a wallet answers its sections."""
    return {
        "lago_id": str(section.id),
        "code": str(section.code),
        "name": str(section.name),
        "description": optional_text(section.description),
        "details": optional_text(section.details),
        "display_name": optional_text(section.display_name),
        "organization_id": str(section.organization_id),
    }


class AppliedSectionShape(TypedDict):
    """Lago's `applied_invoice_custom_sections[]` of a subscription or a wallet: the section chosen
    (bxb keeps the choice as section ids: `lago_id` and `created_at` are the section's)."""

    lago_id: Uuid
    invoice_custom_section_id: Uuid
    created_at: DateTime
    invoice_custom_section: ApplicableSectionShape


def applied_sections_payload(sections: Sequence[InvoiceCustomSection]) -> list[AppliedSectionShape]:
    return [
        {
            "lago_id": str(s.id),
            "invoice_custom_section_id": str(s.id),
            "created_at": _datetime(s.created_at),
            "invoice_custom_section": section_object(s),
        }
        for s in sections
    ]


def billing_configuration_payload(customer: Customer) -> BillingConfigurationShape:
    """Lago's `billing_configuration`: the provider keys (`provider_customer_id`, `sync`,
    `sync_with_provider`, `provider_payment_methods`) only when the customer has a payment provider."""
    data: BillingConfigurationShape = {
        "invoice_grace_period": customer.invoice_grace_period,
        "payment_provider": customer.payment_provider or None,
        "payment_provider_code": customer.payment_provider_code or None,
        "document_locale": customer.document_locale,
    }
    if customer.payment_provider:
        settings = customer.provider_settings or {}
        data["provider_customer_id"] = customer.provider_customer_id or None
        data["sync"] = settings.get("sync")
        data["sync_with_provider"] = settings.get("sync_with_provider")
        data["provider_payment_methods"] = settings.get("provider_payment_methods")
    return data


def shipping_address_payload(customer: Customer) -> AddressShape:
    shipping = customer.shipping_address or {}
    return {
        "address_line1": optional_text(shipping.get("address_line1")),
        "address_line2": optional_text(shipping.get("address_line2")),
        "city": optional_text(shipping.get("city")),
        "zipcode": optional_text(shipping.get("zipcode")),
        "state": optional_text(shipping.get("state")),
        "country": optional_text(shipping.get("country")),
    }
