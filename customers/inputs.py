"""Typed inputs of the customers services (billing_project/core/inputs.py: `UNSET` is "not sent").

The API builds them from its input serializers' validated data (`customers/api/serializers.py`),
the admin from its form; the services read typed attributes and never parse a dict.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from billing_project.core.inputs import UNSET, Fields, Unset, built, many, one


@dataclass(frozen=True)
class BillingConfiguration:
    """A customer's `billing_configuration`: only the keys sent change."""

    invoice_grace_period: int | Unset | None = UNSET
    payment_provider: str | Unset | None = UNSET
    payment_provider_code: str | Unset | None = UNSET
    provider_customer_id: str | Unset | None = UNSET
    sync: bool | Unset | None = UNSET
    sync_with_provider: bool | Unset | None = UNSET
    document_locale: str | Unset | None = UNSET
    provider_payment_methods: list[str] | Unset | None = UNSET


@dataclass(frozen=True)
class MetadataEntry:
    key: str
    value: str | None = None
    display_in_invoice: bool = False


@dataclass(frozen=True)
class CustomerUpsert(Fields):
    """Lago's `POST /customers` body: `external_id` finds the customer, every other field sent is
    written (null clears it), every field not sent (`UNSET`) stays."""

    external_id: str
    name: str | Unset | None = UNSET
    firstname: str | Unset | None = UNSET
    lastname: str | Unset | None = UNSET
    customer_type: str | Unset | None = UNSET
    email: str | Unset | None = UNSET
    phone: str | Unset | None = UNSET
    url: str | Unset | None = UNSET
    logo_url: str | Unset | None = UNSET
    legal_name: str | Unset | None = UNSET
    legal_number: str | Unset | None = UNSET
    tax_identification_number: str | Unset | None = UNSET
    address_line1: str | Unset | None = UNSET
    address_line2: str | Unset | None = UNSET
    city: str | Unset | None = UNSET
    zipcode: str | Unset | None = UNSET
    state: str | Unset | None = UNSET
    country: str | Unset | None = UNSET
    currency: str | Unset | None = UNSET
    timezone: str | Unset | None = UNSET
    net_payment_term: int | Unset | None = UNSET
    document_locale: str | Unset | None = UNSET
    finalize_zero_amount_invoice: str | Unset | None = UNSET
    billing_configuration: BillingConfiguration | Unset | None = UNSET
    # `{address_line1, address_line2, city, zipcode, state, country}` as sent (the key order is kept).
    shipping_address: Mapping[str, str | None] | Unset | None = UNSET
    metadata: tuple[MetadataEntry, ...] | Unset | None = UNSET
    tax_codes: list[str] | Unset | None = UNSET
    billing_entity_code: str | Unset | None = UNSET
    skip_invoice_custom_sections: bool | Unset | None = UNSET
    invoice_custom_section_codes: list[str] | Unset | None = UNSET

    nested_fields = built(billing_configuration=one(BillingConfiguration), metadata=many(MetadataEntry))


@dataclass(frozen=True)
class OrganizationBillingConfiguration:
    invoice_footer: str | Unset | None = UNSET
    invoice_grace_period: int | Unset = UNSET
    document_locale: str | Unset | None = UNSET


@dataclass(frozen=True)
class OrganizationUpdate(Fields):
    """Lago's `PUT /organizations` body: only the fields sent change."""

    default_currency: str | Unset = UNSET
    country: str | Unset | None = UNSET
    address_line1: str | Unset | None = UNSET
    address_line2: str | Unset | None = UNSET
    state: str | Unset | None = UNSET
    zipcode: str | Unset | None = UNSET
    email: str | Unset | None = UNSET
    city: str | Unset | None = UNSET
    legal_name: str | Unset | None = UNSET
    legal_number: str | Unset | None = UNSET
    tax_identification_number: str | Unset | None = UNSET
    document_numbering: str | Unset = UNSET
    document_number_prefix: str | Unset | None = UNSET
    net_payment_term: int | Unset = UNSET
    timezone: str | Unset | None = UNSET
    email_settings: list[str] | Unset | None = UNSET
    finalize_zero_amount_invoice: bool | Unset = UNSET
    billing_configuration: OrganizationBillingConfiguration | Unset | None = UNSET
    webhook_url: str | Unset | None = UNSET

    nested_fields = built(billing_configuration=one(OrganizationBillingConfiguration))
