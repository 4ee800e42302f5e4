"""Writes for organizations, API keys and customers. Each service owns its transaction."""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from billing_project.core import money
from billing_project.core.api import permissions as api_permissions
from billing_project.core.errors import NotFoundFailure, ValidationFailure, merge_details
from billing_project.core.inputs import UNSET, or_none
from billing_project.core.inserts import insert_new, update_existing
from billing_project.core.prepared import PreparedQuery
from billing_project.core.rowimages import remember_locked_row
from customers import entities, hooks, signals
from customers.inputs import (
    BillingConfiguration,
    CustomerUpsert,
    MetadataEntry,
    OrganizationBillingConfiguration,
    OrganizationUpdate,
)
from customers.models import (
    ApiKey,
    BillingEntity,
    BillingEntityInvoiceCustomSection,
    Customer,
    CustomerMetadata,
    DocumentNumbering,
    InvoiceCustomSection,
    Organization,
    timezone_valid,
)
from customers.representation import CustomerShape, customer_payload
from customers.signals import customer_deleted
from webhooks.models import WebhookEndpoint
from webhooks.selectors import endpoints_exist, endpoints_exist_sql
from webhooks.services import webhook_endpoint_create, webhook_send

API_KEY_PREFIX = "bxb_"
_LAST_USED_RESOLUTION_SECONDS = 60
_COUNTRY_RE = re.compile(r"^[A-Z]{2}$")
_EMAIL_RE = re.compile(r"^[^@\s,]+@[^@\s,]+\.[^@\s,]+$")


# --- API keys -------------------------------------------------------------------------------


def hash_api_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode("utf-8")).hexdigest()


def _clean_permissions(permissions: Mapping[str, Any] | None) -> dict[str, list[str]] | None:
    codes = api_permissions.permissions_errors(permissions)
    if codes:
        raise ValidationFailure({"permissions": codes})
    return api_permissions.normalize_permissions(permissions)


def api_key_create(
    organization: Organization, *, name: str = "", permissions: Mapping[str, Any] | None = None
) -> tuple[ApiKey, str]:
    """Create a key; returns the row and the secret, which is never stored or shown again.

    `permissions` is None for full access, or Lago's `{resource: ["read", "write"]}` map
    (`api_permissions.read_only_permissions()` for a read-only key); 422 on unknown resources
    (`forbidden_keys`) or modes (`forbidden_values`).
    """
    cleaned = _clean_permissions(permissions)
    prefix = secrets.token_hex(4)
    raw_key = f"{API_KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    api_key = ApiKey.objects.create(
        organization=organization, name=name, prefix=prefix, key_hash=hash_api_key(raw_key), permissions=cleaned
    )
    return api_key, raw_key


@transaction.atomic
def api_key_set_permissions(api_key: ApiKey, *, permissions: Mapping[str, Any] | None) -> ApiKey:
    """Change what a key may do (None: full access). Takes effect on the key's next request."""
    cleaned = _clean_permissions(permissions)
    locked = ApiKey.objects.select_for_update().get(pk=api_key.pk)
    if locked.permissions != cleaned:
        locked.permissions = cleaned
        locked.save(update_fields=["permissions", "updated_at"])
    api_key.permissions = locked.permissions
    return locked


def api_key_revoke(api_key: ApiKey) -> ApiKey:
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at", "updated_at"])
    return api_key


def api_key_authenticate(raw_key: str) -> ApiKey | None:
    """The active key for this secret, or None. Records its last use (at most once a minute)."""
    if not raw_key or len(raw_key) > 200:
        return None
    api_key = (
        ApiKey.objects.select_related("organization")
        .filter(key_hash=hash_api_key(raw_key), revoked_at__isnull=True)
        .first()
    )
    if api_key is None:
        return None
    now = timezone.now()
    if api_key.last_used_at is None or (now - api_key.last_used_at).total_seconds() > _LAST_USED_RESOLUTION_SECONDS:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
    return api_key


# --- Organizations ----------------------------------------------------------------------------


def default_document_prefix(name: str, organization_id: object) -> str:
    letters = "".join(ch for ch in name.upper() if ch.isalnum())[:3] or "BXB"
    return f"{letters}-{str(organization_id)[-4:].upper()}"


@transaction.atomic
def organization_create(
    name: str, *, default_currency: str = "USD", timezone_name: str = "UTC", key_name: str = "default"
) -> tuple[Organization, str]:
    """A new tenant and its first API key; returns the organization and the key's secret. The name
    must be new (case-insensitively), so commands can find the organization by it."""
    errors: dict[str, list[str]] = {}
    if not name or not name.strip():
        errors["name"] = ["value_is_mandatory"]
    elif Organization.objects.filter(name__iexact=name.strip()).exists():
        # Ops commands find an organization by its name: a namesake would make it ambiguous.
        errors["name"] = ["value_already_exist"]
    if not money.is_currency(default_currency):
        errors["default_currency"] = ["value_is_invalid"]
    if not timezone_valid(timezone_name):
        errors["timezone"] = ["invalid_timezone"]
    if errors:
        raise ValidationFailure(errors)
    organization = Organization(name=name.strip(), default_currency=default_currency, timezone=timezone_name)
    organization.document_number_prefix = default_document_prefix(organization.name, organization.id)
    organization.save()
    entities.billing_entity_create_default(organization)
    _, raw_key = api_key_create(organization, name=key_name)
    return organization, raw_key


_ORG_TEXT_FIELDS = (
    "country", "address_line1", "address_line2", "state", "zipcode", "email", "city", "legal_name",
    "legal_number", "tax_identification_number",
)  # fmt: skip
# Lago's three kinds and bxb's `payment.failed` (docs/payments.md §11).
_EMAIL_SETTINGS = {"invoice.finalized", "credit_note.created", "payment_receipt.created", "payment.failed"}


@transaction.atomic
def organization_update(organization: Organization, update: OrganizationUpdate) -> Organization:
    """Partial update as Lago's `PUT /organizations` (only the fields sent change)."""
    org = Organization.objects.select_for_update().get(pk=organization.pk)
    errors: dict[str, list[str]] = {}
    if update.default_currency is not UNSET:
        if money.is_currency(update.default_currency):
            org.default_currency = update.default_currency
        else:
            errors["default_currency"] = ["value_is_invalid"]
    tz = or_none(update.timezone)
    if tz is not None:
        if timezone_valid(tz):
            org.timezone = tz
        else:
            errors["timezone"] = ["invalid_timezone"]
    for field in _ORG_TEXT_FIELDS:
        text = getattr(update, field)
        if text is not UNSET:
            setattr(org, field, text or "")
    if org.country and not _COUNTRY_RE.match(org.country):
        errors["country"] = ["country_code_invalid"]
    if update.document_numbering is not UNSET:
        if update.document_numbering in DocumentNumbering.values:
            org.document_numbering = update.document_numbering
        else:
            errors["document_numbering"] = ["value_is_invalid"]
    if update.document_number_prefix is not UNSET:
        prefix = update.document_number_prefix or ""
        if 1 <= len(prefix) <= 10:
            org.document_number_prefix = prefix.upper()
        else:
            errors["document_number_prefix"] = ["value_is_invalid"]
    if update.net_payment_term is not UNSET:
        org.net_payment_term = update.net_payment_term
    if update.finalize_zero_amount_invoice is not UNSET:
        org.finalize_zero_amount_invoice = update.finalize_zero_amount_invoice
    if update.email_settings is not UNSET:
        settings_list = update.email_settings or []
        if all(item in _EMAIL_SETTINGS for item in settings_list):
            org.email_settings = list(settings_list)
        else:
            errors["email_settings"] = ["unsupported_value"]
    billing = or_none(update.billing_configuration) or OrganizationBillingConfiguration()
    if billing.invoice_grace_period is not UNSET:
        org.invoice_grace_period = billing.invoice_grace_period
    if billing.invoice_footer is not UNSET:
        org.invoice_footer = billing.invoice_footer or ""
    document_locale = or_none(billing.document_locale)
    if document_locale:
        org.document_locale = document_locale
    if errors:
        raise ValidationFailure(errors)
    org.save()
    entities.default_entity_mirror_organization(org)
    webhook_url = or_none(update.webhook_url)
    if webhook_url and not WebhookEndpoint.objects.filter(organization_id=org.pk, webhook_url=webhook_url).exists():
        # Lago's legacy single `webhook_url` registers an endpoint (signed with HMAC, all event types).
        webhook_endpoint_create(org, webhook_url=webhook_url, signature_algo="hmac")
    return org


# --- Customers --------------------------------------------------------------------------------

_CUSTOMER_TEXT_FIELDS = (
    "name", "firstname", "lastname", "email", "phone", "url", "logo_url", "legal_name",
    "legal_number", "tax_identification_number", "address_line1", "address_line2", "city",
    "zipcode", "state", "country",
)  # fmt: skip
_BILLING_PROVIDER_FIELDS = ("payment_provider", "payment_provider_code", "provider_customer_id")
_PROVIDER_SETTING_FIELDS = ("sync", "sync_with_provider", "provider_payment_methods")
PAYMENT_PROVIDERS = {"stripe", "gocardless", "adyen", "cashfree", "moneyhash"}


def _validate_customer(upsert: CustomerUpsert) -> dict[str, list[str]]:
    """The domain's rules on values the input serializer has typed (codes, formats, duplicates)."""
    errors: dict[str, list[str]] = {}
    currency = or_none(upsert.currency)
    if currency is not None and not money.is_currency(currency):
        errors["currency"] = ["value_is_invalid"]
    tz = or_none(upsert.timezone)
    if tz is not None and not timezone_valid(tz):
        errors["timezone"] = ["invalid_timezone"]
    country = or_none(upsert.country)
    if country and not _COUNTRY_RE.match(country.upper()):
        errors["country"] = ["country_code_invalid"]
    email = or_none(upsert.email)
    if email:
        addresses = [part.strip() for part in email.split(",")]
        if not all(_EMAIL_RE.match(address) for address in addresses):
            errors["email"] = ["invalid_email_format"]
    billing = or_none(upsert.billing_configuration)
    provider = or_none(billing.payment_provider) if billing is not None else None
    if provider is not None and provider not in PAYMENT_PROVIDERS:
        errors["billing_configuration.payment_provider"] = ["value_is_invalid"]
    keys = [item.key for item in or_none(upsert.metadata) or ()]
    if len(keys) != len(set(keys)):
        errors["metadata"] = ["duplicated_key"]
    return errors


def customer_validation_errors(
    organization: Organization, customer: Customer | None, upsert: CustomerUpsert
) -> dict[str, list[str]]:
    """Every reason to refuse this upsert, as `{field: [codes]}` (empty when it is fine)."""
    errors = _validate_customer(upsert)
    if upsert.skip_invoice_custom_sections and isinstance(upsert.invoice_custom_section_codes, list):
        # Lago's answer: skipping the sections and choosing some at once is contradictory.
        errors = merge_details(errors, {"invoice_custom_sections": ["skip_sections_and_selected_ids_sent_together"]})
    hooks.customer_taxes.get().validate(organization, or_none(upsert.tax_codes))
    # `currency` is the customer's default, never a lock: it may change whatever was billed before
    # (each subscription, wallet and invoice keeps its own; docs/billing-semantics.md §6.9).
    return errors


def customer_default_currency_set(customer: Customer, currency: str) -> None:
    """A customer without a currency takes the first one its billing uses (a subscription's plan, a
    wallet, a one-off invoice, a fixed-amount coupon), as Lago does; one with a currency keeps it:
    it is a default, not a lock (docs/billing-semantics.md §6.9). The caller holds the row lock."""
    if customer.currency:
        return
    customer.currency = currency
    customer.save(update_fields=["currency", "updated_at"])


def _apply_metadata(customer: Customer, items: tuple[MetadataEntry, ...]) -> None:
    """Lago replaces the metadata list: entries sent are kept or updated, the others removed."""
    existing = {entry.key: entry for entry in customer.metadata.all()}
    sent = set()
    for item in items:
        key = item.key
        sent.add(key)
        entry = existing.get(key)
        if entry is None:
            CustomerMetadata.objects.create(
                customer=customer,
                key=key,
                value=item.value or "",
                display_in_invoice=item.display_in_invoice,
            )
        else:
            entry.value = item.value or ""
            entry.display_in_invoice = item.display_in_invoice
            entry.save(update_fields=["value", "display_in_invoice", "updated_at"])
    customer.metadata.exclude(key__in=sent).delete()


def _next_customer_sequence(organization: Organization) -> tuple[int, bool, BillingEntity | None, bool]:
    """The next `sequential_id`, in one `UPDATE … RETURNING`: the row lock it takes holds concurrent
    creations in the organization until this transaction ends, so ids are unique and gapless.
    The same statement answers whether the organization has webhook endpoints (the outbox then
    skips its own read when it has none), its default billing entity's id and code (a new
    customer's entity when none is named; None when the organization has none yet) and whether
    that entity selected invoice custom sections (the representation reads them only then)."""
    quote = connection.ops.quote_name
    pk = Organization._meta.pk
    assert pk is not None
    table = quote(Organization._meta.db_table)
    org_id = f"{table}.{quote(pk.column)}"
    entities_table = quote(BillingEntity._meta.db_table)
    default = f"FROM {entities_table} WHERE {quote('organization_id')} = {org_id} AND {quote('is_default')}"
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {quote('customer_sequence')} = "  # noqa: S608 - identifiers from the models, the id a parameter
            f"{quote('customer_sequence')} + 1 WHERE {quote(pk.column)} = %s RETURNING {quote('customer_sequence')}, "
            + endpoints_exist_sql(org_id)
            + f", (SELECT {quote('id')} {default}), (SELECT {quote('code')} {default}), "
            + _default_entity_has_sections_sql(default),
            [pk.get_db_prep_value(organization.pk, connection)],
        )
        row = cursor.fetchone()
    if row is None:
        raise NotFoundFailure("organization")
    entity = None
    if row[2] is not None:
        entity_pk = BillingEntity._meta.pk
        assert entity_pk is not None
        entity_id = entity_pk.to_python(row[2])
        # The two columns read, the others deferred (Django's documented way to load a partial row).
        entity = BillingEntity.from_db(connection.alias, ["id", "code"], [entity_id, row[3]])
    return int(row[0]), bool(row[1]), entity, bool(row[4])


def _default_entity_has_sections_sql(default: str) -> str:
    """`EXISTS` a live section selected by the default entity (`default`: its `FROM … WHERE`)."""
    quote = connection.ops.quote_name
    links = quote(BillingEntityInvoiceCustomSection._meta.db_table)
    sections = quote(InvoiceCustomSection._meta.db_table)
    return (
        f"EXISTS (SELECT 1 FROM {links} JOIN {sections} ON {sections}.{quote('id')} = "  # noqa: S608 - identifiers from the models
        f"{links}.{quote('invoice_custom_section_id')} WHERE {sections}.{quote('deleted_at')} IS NULL AND "
        f"{links}.{quote('billing_entity_id')} = (SELECT {quote('id')} {default}))"
    )


def customer_upsert(organization: Organization, upsert: CustomerUpsert) -> tuple[Customer, bool]:
    """Create or update a customer by `external_id` (Lago's `POST /customers`).

    Returns (customer, created). Fields not sent (`UNSET`) leave the stored value alone.
    """
    customer, created, _ = _upsert(organization, upsert, represent=False)
    return customer, created


def customer_upsert_represented(organization: Organization, upsert: CustomerUpsert) -> tuple[Customer, CustomerShape]:
    """`customer_upsert`, with the customer object the API answers: the document its webhook
    carries (built once, after the upsert's last write, from the rows the upsert knows)."""
    customer, _, document = _upsert(organization, upsert, represent=True)
    assert document is not None
    return customer, document


def _upsert(
    organization: Organization, upsert: CustomerUpsert, *, represent: bool
) -> tuple[Customer, bool, CustomerShape | None]:
    external_id = upsert.external_id.strip()
    if not external_id:
        raise ValidationFailure.single("external_id", "value_is_mandatory")
    try:
        return _customer_upsert(organization, external_id, upsert, represent=represent)
    except IntegrityError:
        # Two requests created the same external id at once: the loser retries as an update.
        return _customer_upsert(organization, external_id, upsert, represent=represent)


def _locked_customer(p: Any) -> Any:
    """The live customer with this external id, `FOR UPDATE` (its row only), with its billing entity
    (the representation's `billing_entity_code`), whether the organization has
    webhook endpoints, whether the customer has metadata, and the taxes hook's own flags
    (`hooks.CustomerTaxes.locked_read_annotations`). `[:1]` on the model's ordering is `.first()`."""
    annotations = {
        "has_webhook_endpoints": endpoints_exist(),
        "has_metadata_rows": Exists(CustomerMetadata.objects.filter(customer_id=OuterRef("pk"))),
        **entities.section_flags(),
        **hooks.customer_taxes.get().locked_read_annotations(),
    }
    return (
        Customer.objects.select_for_update(of=("self",))
        .select_related("billing_entity")
        # the entity's logo, footer and e-mail settings, which the upsert never reads; this also
        # keeps the statement under psycopg's 4,096 bytes (longer SQL is parsed again at every call)
        .defer(*hooks.REPRESENTATION_DEFERRED)
        .filter(organization_id=p.organization, external_id=p.external_id, deleted_at__isnull=True)
        .annotate(**annotations)[:1]
    )


# Compiled once per process: building and compiling this queryset through the ORM cost more CPU
# than PostgreSQL spends answering it.
_LOCKED_CUSTOMER = PreparedQuery(_locked_customer, organization=uuid.UUID, external_id=str)


@transaction.atomic
def _customer_upsert(
    organization: Organization, external_id: str, upsert: CustomerUpsert, *, represent: bool
) -> tuple[Customer, bool, CustomerShape | None]:
    found = _LOCKED_CUSTOMER.fetch(organization=organization.pk, external_id=external_id)
    customer = found[0] if found else None
    has_endpoints, has_metadata = True, False
    # Whether the customer chose sections and its entity selected some (the representation's
    # `applicable_invoice_custom_sections`; None: unknown, read if needed).
    has_own_sections: bool = False
    entity_has_sections: bool | None = None
    if customer is not None:
        customer.organization = organization  # the row is filtered on it: no lazy read for the representation
        has_endpoints, has_metadata = customer.has_webhook_endpoints, customer.has_metadata_rows
        has_own_sections, entity_has_sections = customer.has_own_sections, customer.entity_has_sections
        remember_locked_row(customer)  # the audit trail's before-image (billing_project/core/rowimages.py)
    errors = customer_validation_errors(organization, customer, upsert)
    if errors:
        raise ValidationFailure(errors)

    section_codes = upsert.invoice_custom_section_codes
    sections = (  # read (404 on an unknown code) before anything is written
        entities.sections_by_codes(organization, section_codes) if isinstance(section_codes, list) else None
    )
    entity_code = upsert.billing_entity_code
    named_entity = (
        entities.billing_entity_get(organization, entity_code) if isinstance(entity_code, str) and entity_code else None
    )
    created = customer is None
    if customer is None:
        customer = Customer(organization=organization, external_id=external_id)
        customer.sequential_id, has_endpoints, default_entity, default_has_sections = _next_customer_sequence(
            organization
        )
        entity_has_sections = None if named_entity else default_has_sections
        customer.slug = f"{organization.document_number_prefix}-{customer.sequential_id:03d}"
        customer.billing_entity = named_entity or default_entity or entities.default_billing_entity(organization)
    elif entity_code is not UNSET:  # sent: the entity named, or the default one for null
        customer.billing_entity = named_entity or entities.default_billing_entity(organization)
        entity_has_sections = None

    for field in _CUSTOMER_TEXT_FIELDS:
        text = getattr(upsert, field)
        if text is not UNSET:
            text = text or ""
            setattr(customer, field, text.upper() if field == "country" else text)
    for field in ("currency", "timezone", "net_payment_term", "document_locale"):
        value = getattr(upsert, field)
        if value is not UNSET:
            setattr(customer, field, value)
    if upsert.customer_type is not UNSET:
        customer.customer_type = upsert.customer_type or ""
    if sections is not None:  # Lago: choosing sections (even none: its entity's) stops skipping them
        customer.skip_invoice_custom_sections = False
    elif upsert.skip_invoice_custom_sections is not UNSET and upsert.skip_invoice_custom_sections is not None:
        customer.skip_invoice_custom_sections = bool(upsert.skip_invoice_custom_sections)
        if customer.skip_invoice_custom_sections and not created:
            sections = []  # Lago: skipping drops the customer's own choice
    finalize_zero = or_none(upsert.finalize_zero_amount_invoice)
    if finalize_zero:
        customer.finalize_zero_amount_invoice = finalize_zero
    if upsert.shipping_address is not UNSET:
        customer.shipping_address = {k: v for k, v in (upsert.shipping_address or {}).items() if v is not None}
    billing = or_none(upsert.billing_configuration) or BillingConfiguration()
    if billing.invoice_grace_period is not UNSET:
        customer.invoice_grace_period = billing.invoice_grace_period
    if billing.document_locale is not UNSET:
        customer.document_locale = billing.document_locale
    for field in _BILLING_PROVIDER_FIELDS:
        value = getattr(billing, field)
        if value is not UNSET:
            setattr(customer, field, value)
    settings_sent = {field: getattr(billing, field) for field in _PROVIDER_SETTING_FIELDS}
    settings_sent = {field: value for field, value in settings_sent.items() if value is not UNSET}
    if settings_sent:
        customer.provider_settings = {**customer.provider_settings, **settings_sent}
    if created:
        insert_new(customer)  # `save()` (signals, audit trail included), its INSERT composed once per process
    else:
        update_existing(customer)  # `save()`, its UPDATE composed once per process

    # The rows of the representation's relations the upsert knows (none, read under the lock or
    # for a new customer), so the representation does not read them.
    related: dict[str, Sequence[Any]] = {}
    if sections is not None:
        entities.customer_sections_set(customer, sections or [])
    if upsert.metadata is not UNSET and upsert.metadata is not None:
        _apply_metadata(customer, upsert.metadata)
    elif not has_metadata:
        related["metadata"] = []
    related.update(hooks.customer_taxes.get().apply(customer, or_none(upsert.tax_codes), created=created))
    signals.customer_upserted.send(sender=Customer, customer=customer, created=created)
    built: list[CustomerShape] = []

    def document() -> CustomerShape:
        # Built once, after the last write of the upsert: the webhook's payload and the API's answer.
        if not built:
            own = sections if sections is not None else (None if has_own_sections else [])
            applicable = entities.customer_sections(customer, own=own, entity_has_sections=entity_has_sections)
            built.append(customer_payload(customer, related=related, sections=applicable))
        return built[0]

    # Recorded in the upsert's transaction (outbox), sent after commit; `endpoints_exist` (read by
    # a statement of the same transaction) spares the endpoint read when the organization has none.
    webhook_send(
        organization,
        webhook_type="customer.created" if created else "customer.updated",
        object_type="customer",
        payload=document,
        endpoints_exist=has_endpoints,
    )
    return customer, created, document() if represent else None


@transaction.atomic
def customer_delete(organization: Organization, external_id: str) -> Customer:
    """Soft delete (Lago): the customer disappears from the API, its billing history stays.

    Subscriptions are terminated by the subscriptions app, which listens to `customer_deleted`.
    """
    customer = (
        Customer.objects.select_for_update()
        .filter(organization=organization, external_id=external_id, deleted_at__isnull=True)
        .first()
    )
    if customer is None:
        raise NotFoundFailure("customer")
    remember_locked_row(customer)  # the audit trail's before-image (billing_project/core/rowimages.py)
    customer.deleted_at = timezone.now()
    customer.save(update_fields=["deleted_at", "updated_at"])
    customer_deleted.send(sender=Customer, customer=customer, organization=organization)
    return customer
