"""Tenants (organizations), their API keys, and their customers."""

from __future__ import annotations

import secrets
import zoneinfo

from django.db import models

from billing_project.core.api.permissions import read_only_permissions
from billing_project.core.models import BaseModel, SoftDeleteModel, unique_live


def new_hmac_key() -> str:
    return secrets.token_urlsafe(32)


def timezone_valid(name: str | None) -> bool:
    if not name or not isinstance(name, str) or len(name) > 64:
        return False
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


class EventsStore(models.TextChoices):
    """Where an organization's usage events are stored (docs/metering.md)."""

    POSTGRES = "postgres"
    CLICKHOUSE = "clickhouse"


def default_events_store() -> str:
    """New organizations take the EVENTS_STORE setting; existing ones keep theirs until migrated."""
    from django.conf import settings

    return str(getattr(settings, "EVENTS_STORE", EventsStore.POSTGRES))


class DocumentNumbering(models.TextChoices):
    PER_CUSTOMER = "per_customer"
    PER_ORGANIZATION = "per_organization"


class EntityDocumentNumbering(models.TextChoices):
    """Lago's billing entity numbering: per customer, or one sequence for the whole entity."""

    PER_CUSTOMER = "per_customer"
    PER_BILLING_ENTITY = "per_billing_entity"


# The postal address and legal identity fields an organization and a customer both have, in the
# order forms and documents show them.
ADDRESS_FIELDS = ("address_line1", "address_line2", "city", "zipcode", "state", "country")
LEGAL_AND_ADDRESS = ("legal_name", "legal_number", "tax_identification_number", *ADDRESS_FIELDS)


class Organization(BaseModel):
    name = models.CharField(max_length=255)
    default_currency = models.CharField(max_length=3, default="USD")
    timezone = models.CharField(max_length=64, default="UTC")
    country = models.CharField(max_length=2, blank=True, default="")
    email = models.CharField(max_length=255, blank=True, default="")
    legal_name = models.CharField(max_length=255, blank=True, default="")
    legal_number = models.CharField(max_length=255, blank=True, default="")
    tax_identification_number = models.CharField(max_length=255, blank=True, default="")
    address_line1 = models.CharField(max_length=255, blank=True, default="")
    address_line2 = models.CharField(max_length=255, blank=True, default="")
    city = models.CharField(max_length=255, blank=True, default="")
    state = models.CharField(max_length=255, blank=True, default="")
    zipcode = models.CharField(max_length=255, blank=True, default="")
    # Invoice numbering (docs/billing-semantics.md §6.3).
    document_numbering = models.CharField(
        max_length=20, choices=DocumentNumbering.choices, default=DocumentNumbering.PER_CUSTOMER
    )
    document_number_prefix = models.CharField(max_length=10, blank=True, default="")
    net_payment_term = models.PositiveIntegerField(default=0, help_text="Days until an invoice is due.")
    invoice_grace_period = models.PositiveIntegerField(
        default=0, help_text="Days a subscription invoice stays a draft before it is finalized."
    )
    invoice_footer = models.TextField(blank=True, default="")
    document_locale = models.CharField(max_length=10, default="en")
    finalize_zero_amount_invoice = models.BooleanField(default=True)
    email_settings = models.JSONField(default=list, blank=True)
    # Secret used to sign outbound webhooks with HMAC-SHA256.
    webhook_hmac_key = models.CharField(max_length=128, default=new_hmac_key, editable=False)
    # Per-organization sequence counters, incremented under a row lock.
    customer_sequence = models.BigIntegerField(default=0, editable=False)
    # Where its usage events live: set at creation from EVENTS_STORE, changed only by
    # `manage.py events_store_migrate` (metering.clickhouse.migrate).
    events_store = models.CharField(
        max_length=16, choices=EventsStore.choices, default=default_events_store, editable=False
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ApiKey(BaseModel):
    """A secret API key. Only its SHA-256 is stored; the key is shown once, at creation."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=255, blank=True, default="")
    prefix = models.CharField(max_length=16, unique=True, help_text="Public part, safe to display.")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    # Lago's API key permissions: null is full access; otherwise {resource: ["read", "write"]},
    # where a resource missing from the map allows nothing (billing_project.core.api.permissions).
    permissions = models.JSONField(
        null=True,
        blank=True,
        default=None,
        help_text='Empty: full access. Otherwise e.g. {"customer": ["read", "write"], "invoice": ["read"]}.',
    )

    class Meta:
        verbose_name = "API key"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.organization.name})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @property
    def scope(self) -> str:
        """`full access`, `read-only` or `custom`, for display."""
        if self.permissions is None:
            return "full access"
        if self.permissions == read_only_permissions():
            return "read-only"
        return "custom"


class BillingEntity(BaseModel):
    """Who bills (Lago's billing entity): legal identity, address, invoice numbering, defaults.

    Every organization has one default entity (`is_default`, created with it; migrated from the
    organization's own fields); a customer belongs to one entity (docs/billing-entities.md).
    The code never changes once created (Lago's update does not take it).
    """

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="billing_entities")
    code = models.CharField(max_length=255)
    name = models.CharField(max_length=255)
    is_default = models.BooleanField(default=False, editable=False)
    legal_name = models.CharField(max_length=255, blank=True, default="")
    legal_number = models.CharField(max_length=255, blank=True, default="")
    tax_identification_number = models.CharField(max_length=255, blank=True, default="")
    email = models.CharField(max_length=255, blank=True, default="")
    phone = models.CharField(max_length=255, blank=True, default="")
    address_line1 = models.CharField(max_length=255, blank=True, default="")
    address_line2 = models.CharField(max_length=255, blank=True, default="")
    city = models.CharField(max_length=255, blank=True, default="")
    state = models.CharField(max_length=255, blank=True, default="")
    zipcode = models.CharField(max_length=255, blank=True, default="")
    country = models.CharField(max_length=2, blank=True, default="")
    default_currency = models.CharField(max_length=3, default="USD")
    timezone = models.CharField(max_length=64, default="UTC")
    document_numbering = models.CharField(
        max_length=20, choices=EntityDocumentNumbering.choices, default=EntityDocumentNumbering.PER_CUSTOMER
    )
    document_number_prefix = models.CharField(max_length=10, blank=True, default="")
    document_locale = models.CharField(max_length=10, default="en")
    finalize_zero_amount_invoice = models.BooleanField(default=True)
    net_payment_term = models.PositiveIntegerField(default=0, help_text="Days until an invoice is due.")
    invoice_grace_period = models.PositiveIntegerField(
        default=0, help_text="Days a subscription invoice stays a draft before it is finalized."
    )
    invoice_footer = models.TextField(blank=True, default="")
    email_settings = models.JSONField(default=list, blank=True)
    eu_tax_management = models.BooleanField(default=False)
    # The logo as a `data:image/png;base64,...` URI (Lago's `logo` input; `logo_url` answers it).
    logo = models.TextField(blank=True, default="")
    invoice_custom_sections: models.ManyToManyField[InvoiceCustomSection, BillingEntityInvoiceCustomSection] = (
        models.ManyToManyField(
            "InvoiceCustomSection", through="BillingEntityInvoiceCustomSection", related_name="billing_entities"
        )
    )

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "code"], name="billing_entity_code_unique"),
            models.UniqueConstraint(
                fields=["organization"], condition=models.Q(is_default=True), name="billing_entity_one_default"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class InvoiceCustomSection(SoftDeleteModel):
    """A block of text printed on invoices (Lago's invoice custom section: bank details, legal
    mentions). An entity selects the sections its invoices show; a customer may choose its own."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="invoice_custom_sections")
    code = models.CharField(max_length=255)
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True, default="")
    display_name = models.CharField(max_length=255, blank=True, default="")
    details = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["name", "id"]
        constraints = [unique_live("organization", "code", name="invoice_custom_section_code_unique_live")]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class BillingEntityInvoiceCustomSection(BaseModel):
    billing_entity = models.ForeignKey(BillingEntity, on_delete=models.CASCADE, related_name="section_links")
    invoice_custom_section = models.ForeignKey(
        InvoiceCustomSection, on_delete=models.CASCADE, related_name="entity_links"
    )

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["billing_entity", "invoice_custom_section"], name="billing_entity_section_unique"
            )
        ]


class CustomerType(models.TextChoices):
    COMPANY = "company"
    INDIVIDUAL = "individual"


class FinalizeZeroAmount(models.TextChoices):
    INHERIT = "inherit"
    FINALIZE = "finalize"
    SKIP = "skip"


class Customer(SoftDeleteModel):
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="customers")
    external_id = models.CharField(max_length=255)
    sequential_id = models.BigIntegerField(editable=False)
    slug = models.CharField(max_length=64, editable=False, default="")
    name = models.CharField(max_length=255, blank=True, default="")
    firstname = models.CharField(max_length=255, blank=True, default="")
    lastname = models.CharField(max_length=255, blank=True, default="")
    customer_type = models.CharField(max_length=20, choices=CustomerType.choices, blank=True, default="")
    account_type = models.CharField(max_length=20, default="customer")
    email = models.CharField(max_length=1024, blank=True, default="")
    phone = models.CharField(max_length=255, blank=True, default="")
    url = models.CharField(max_length=1024, blank=True, default="")
    logo_url = models.CharField(max_length=1024, blank=True, default="")
    legal_name = models.CharField(max_length=255, blank=True, default="")
    legal_number = models.CharField(max_length=255, blank=True, default="")
    tax_identification_number = models.CharField(max_length=255, blank=True, default="")
    address_line1 = models.CharField(max_length=255, blank=True, default="")
    address_line2 = models.CharField(max_length=255, blank=True, default="")
    city = models.CharField(max_length=255, blank=True, default="")
    zipcode = models.CharField(max_length=255, blank=True, default="")
    state = models.CharField(max_length=255, blank=True, default="")
    country = models.CharField(max_length=2, blank=True, default="")
    shipping_address = models.JSONField(default=dict, blank=True)
    currency = models.CharField(max_length=3, null=True, blank=True)
    timezone = models.CharField(max_length=64, null=True, blank=True)
    net_payment_term = models.PositiveIntegerField(null=True, blank=True)
    invoice_grace_period = models.PositiveIntegerField(null=True, blank=True)
    finalize_zero_amount_invoice = models.CharField(
        max_length=10, choices=FinalizeZeroAmount.choices, default=FinalizeZeroAmount.INHERIT
    )
    document_locale = models.CharField(max_length=10, null=True, blank=True)
    # Payment-provider link (payment_provider, payment_provider_code, provider_customer_id,
    # sync, sync_with_provider, provider_payment_methods); owned by the payments app.
    payment_provider = models.CharField(max_length=32, null=True, blank=True)
    payment_provider_code = models.CharField(max_length=255, null=True, blank=True)
    provider_customer_id = models.CharField(max_length=255, null=True, blank=True)
    provider_settings = models.JSONField(default=dict, blank=True)
    # Null only for rows written around the services (bench, fixtures): the organization's default
    # entity then (`customers.selectors.customer_billing_entity`).
    billing_entity = models.ForeignKey(
        BillingEntity, on_delete=models.PROTECT, null=True, blank=True, related_name="customers"
    )
    # Lago's `skip_invoice_custom_sections` and `invoice_custom_section_codes`: the customer's own
    # choice of sections, replacing its entity's (none chosen: the entity's).
    skip_invoice_custom_sections = models.BooleanField(default=False)
    invoice_custom_sections: models.ManyToManyField[InvoiceCustomSection, CustomerInvoiceCustomSection] = (
        models.ManyToManyField(InvoiceCustomSection, through="CustomerInvoiceCustomSection", related_name="customers")
    )

    class Meta:
        ordering = ["-created_at", "id"]
        constraints = [
            unique_live("organization", "external_id", name="customer_external_id_unique_live"),
            models.UniqueConstraint(fields=["organization", "sequential_id"], name="customer_sequential_id_unique"),
        ]
        indexes = [models.Index(fields=["organization", "external_id"])]

    def __str__(self) -> str:
        return self.name or self.external_id

    @property
    def settings_source(self) -> Organization | BillingEntity:
        """Where the settings the customer leaves unset come from (Lago: its billing entity's).

        The organization's default entity has the organization's id and mirrors its settings
        (`customers.entities.MIRRORED_VALUES`), so its customers (and rows written without an
        entity) read them from the organization, loaded with the customer; another entity's
        customers read their entity's (joined where customers are read in bulk)."""
        if self.billing_entity_id is None or self.billing_entity_id == self.organization_id:
            return self.organization
        return self.billing_entity  # type: ignore[return-value]

    @property
    def applicable_timezone(self) -> str:
        return self.timezone or self.settings_source.timezone or "UTC"

    @property
    def applicable_net_payment_term(self) -> int:
        return self.net_payment_term if self.net_payment_term is not None else self.settings_source.net_payment_term

    @property
    def applicable_invoice_grace_period(self) -> int:
        if self.invoice_grace_period is not None:
            return self.invoice_grace_period
        return self.settings_source.invoice_grace_period

    @property
    def applicable_finalize_zero_amount_invoice(self) -> bool:
        """Lago: the customer's `finalize`/`skip`, else (`inherit`) its entity's setting."""
        if self.finalize_zero_amount_invoice == FinalizeZeroAmount.INHERIT:
            return bool(self.settings_source.finalize_zero_amount_invoice)
        return self.finalize_zero_amount_invoice == FinalizeZeroAmount.FINALIZE


class CustomerMetadata(BaseModel):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="metadata")
    key = models.CharField(max_length=255)
    value = models.CharField(max_length=1024)
    display_in_invoice = models.BooleanField(default=False)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["customer", "key"], name="customer_metadata_key_unique")]


class CustomerInvoiceCustomSection(BaseModel):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="section_links")
    invoice_custom_section = models.ForeignKey(
        InvoiceCustomSection, on_delete=models.CASCADE, related_name="customer_links"
    )

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "invoice_custom_section"], name="customer_section_unique")
        ]
