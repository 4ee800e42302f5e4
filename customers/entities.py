"""Billing entities (Lago's multi-entity billing) and invoice custom sections: typed inputs, reads
and writes (docs/billing-entities.md).

An organization bills through one or more entities; its default entity (`is_default`, id = the
organization's id) is created with the organization and mirrors the organization's own billing
fields, so `PUT /organizations` and `PUT /billing_entities/{default}` keep saying the same thing.
The entity's default taxes are catalog's (`customers.hooks.billing_entity_taxes`).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils.text import slugify

from billing_project.core import money
from billing_project.core.errors import NotFoundFailure, ValidationFailure
from billing_project.core.found import found
from billing_project.core.inputs import UNSET, Fields, Unset, built, one, or_none
from billing_project.core.models import save_unique
from customers import hooks
from customers.models import (
    BillingEntity,
    BillingEntityInvoiceCustomSection,
    Customer,
    CustomerInvoiceCustomSection,
    DocumentNumbering,
    EntityDocumentNumbering,
    InvoiceCustomSection,
    Organization,
    timezone_valid,
)
from customers.section_choice import InvoiceSections, SectionChoice

_COUNTRY_RE = re.compile(r"^[A-Z]{2}$")
_EMAIL_RE = re.compile(r"^[^@\s,]+@[^@\s,]+\.[^@\s,]+$")
_LOGO_RE = re.compile(r"^data:(image/(?:png|jpe?g));base64,(.+)$", re.DOTALL)
LOGO_MAX_BYTES = 800 * 1024  # Lago's limit
ENTITY_EMAIL_SETTINGS = {"invoice.finalized", "credit_note.created", "payment_receipt.created", "payment.failed"}

# Fields the organization and its default entity share (the organization's copy is what
# `GET /organizations` answers; the entity's is what invoices use).
MIRRORED_TEXT = (
    "legal_name", "legal_number", "tax_identification_number", "email", "address_line1", "address_line2",
    "city", "state", "zipcode", "country",
)  # fmt: skip
MIRRORED_VALUES = (
    "default_currency", "timezone", "document_number_prefix", "document_locale", "finalize_zero_amount_invoice",
    "net_payment_term", "invoice_grace_period", "invoice_footer", "email_settings",
)  # fmt: skip


# --- inputs -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class EntityBillingConfiguration:
    invoice_footer: str | Unset | None = UNSET
    invoice_grace_period: int | Unset | None = UNSET
    document_locale: str | Unset | None = UNSET


@dataclass(frozen=True)
class BillingEntityFields(Fields):
    """Lago's `billing_entity` body: on create `code` and `name` are required; on update only the
    fields sent change (`code` is never changed)."""

    code: str | Unset | None = UNSET
    name: str | Unset | None = UNSET
    legal_name: str | Unset | None = UNSET
    legal_number: str | Unset | None = UNSET
    tax_identification_number: str | Unset | None = UNSET
    email: str | Unset | None = UNSET
    phone: str | Unset | None = UNSET
    address_line1: str | Unset | None = UNSET
    address_line2: str | Unset | None = UNSET
    city: str | Unset | None = UNSET
    state: str | Unset | None = UNSET
    zipcode: str | Unset | None = UNSET
    country: str | Unset | None = UNSET
    default_currency: str | Unset | None = UNSET
    timezone: str | Unset | None = UNSET
    document_numbering: str | Unset | None = UNSET
    document_number_prefix: str | Unset | None = UNSET
    finalize_zero_amount_invoice: bool | Unset | None = UNSET
    net_payment_term: int | Unset | None = UNSET
    eu_tax_management: bool | Unset | None = UNSET
    email_settings: list[str] | Unset | None = UNSET
    logo: str | Unset | None = UNSET
    billing_configuration: EntityBillingConfiguration | Unset | None = UNSET
    tax_codes: list[str] | Unset | None = UNSET
    invoice_custom_section_codes: list[str] | Unset | None = UNSET

    nested_fields = built(billing_configuration=one(EntityBillingConfiguration))


@dataclass(frozen=True)
class SectionFields(Fields):
    """Lago's `invoice_custom_section` body (create: `code` and `name` required)."""

    code: str | Unset | None = UNSET
    name: str | Unset | None = UNSET
    description: str | Unset | None = UNSET
    display_name: str | Unset | None = UNSET
    details: str | Unset | None = UNSET
    applied_to_organization: bool | Unset | None = UNSET


# --- reads ------------------------------------------------------------------------------------


def billing_entity_list(organization: Organization) -> QuerySet[BillingEntity]:
    return BillingEntity.objects.filter(organization=organization).order_by("created_at", "id")


def billing_entity_get(organization: Organization, code: str) -> BillingEntity:
    return found(BillingEntity.objects.filter(organization=organization, code=code).first(), "billing_entity")


def default_billing_entity(organization: Organization) -> BillingEntity:
    entity = BillingEntity.objects.filter(organization=organization, is_default=True).first()
    if entity is None:  # an organization written around `organization_create` (fixtures)
        entity = billing_entity_create_default(organization)
    return entity


def customer_billing_entity(customer: Customer) -> BillingEntity:
    """The customer's entity; the organization's default one for a row written without it."""
    if customer.billing_entity_id is not None:
        return customer.billing_entity  # type: ignore[return-value]
    return default_billing_entity(customer.organization)


def billing_entity_ids(organization: Organization, codes: Sequence[str] | None) -> list[Any] | None:
    """The ids of the entities a list's `billing_entity_codes[]` names (None: no filter); an unknown
    code is a 404 `billing_entity_not_found`, as Lago's lists answer."""
    if not codes:
        return None
    wanted = set(codes)
    ids = dict(BillingEntity.objects.filter(organization=organization, code__in=wanted).values_list("code", "id"))
    if len(ids) != len(wanted):
        raise NotFoundFailure("billing_entity")
    return list(ids.values())


def document_entity_code(entity_id: Any, customer: Customer) -> str:
    """The code of a document's billing entity (`entity_id`, null when not yet written: the
    customer's): read through the customer's entity, loaded with the customer, when it is that one."""
    if entity_id is None or entity_id == customer.billing_entity_id:
        return customer_billing_entity(customer).code
    entity = BillingEntity.objects.filter(pk=entity_id).only("code").first()
    return entity.code if entity is not None else customer_billing_entity(customer).code


def billing_entity_resolve(organization: Organization, code: str | None) -> BillingEntity:
    """Lago's resolution: the entity with this code (404 `billing_entity_not_found`), else the default."""
    return billing_entity_get(organization, code) if code else default_billing_entity(organization)


def section_list(organization: Organization) -> QuerySet[InvoiceCustomSection]:
    return InvoiceCustomSection.live.filter(organization=organization).order_by("name", "id")


def section_get(organization: Organization, code: str) -> InvoiceCustomSection:
    return found(
        InvoiceCustomSection.live.filter(organization=organization, code=code).first(), "invoice_custom_section"
    )


def sections_by_codes(organization: Organization, codes: Sequence[str]) -> list[InvoiceCustomSection]:
    """The live sections with these codes, in the order given; 404 naming the first unknown one."""
    by_code = {s.code: s for s in InvoiceCustomSection.live.filter(organization=organization, code__in=list(codes))}
    missing = [code for code in codes if code not in by_code]
    if missing:
        raise NotFoundFailure("invoice_custom_section")
    return [by_code[code] for code in dict.fromkeys(codes)]


def sections_by_ids(organization_id: Any, ids: Sequence[Any]) -> list[InvoiceCustomSection]:
    """The live sections of the organization among these ids (a stored choice), by name."""
    if not ids:
        return []
    return list(
        InvoiceCustomSection.live.filter(organization_id=organization_id, pk__in=list(ids)).order_by("name", "id")
    )


def section_choice_description(choice: SectionChoice, organization_id: Any) -> str:
    """A stored choice in words, for the finance console."""
    if choice.skip:
        return "none (skipped)"
    sections = sections_by_ids(organization_id, choice.section_ids)
    if not sections:
        return "the customer's (none chosen)"
    return ", ".join(f"{section.name} ({section.code})" for section in sections)


def entity_sections(entity: BillingEntity) -> list[InvoiceCustomSection]:
    """The sections the entity selected for its invoices (live ones, by name)."""
    return list(InvoiceCustomSection.live.filter(entity_links__billing_entity=entity).order_by("name", "id").distinct())


def section_flags() -> dict[str, Exists]:
    """`has_own_sections` and `entity_has_sections` as `EXISTS` columns of a customer read, so
    that `applicable_sections` reads nothing for customers without any (the usual case)."""
    live = {"invoice_custom_section__deleted_at__isnull": True}
    return {
        "has_own_sections": Exists(CustomerInvoiceCustomSection.objects.filter(customer_id=OuterRef("pk"), **live)),
        "entity_has_sections": Exists(
            BillingEntityInvoiceCustomSection.objects.filter(billing_entity_id=OuterRef("billing_entity_id"), **live)
        ),
    }


def applicable_sections(customers: Sequence[Customer]) -> dict[Any, list[InvoiceCustomSection]]:
    """Lago's applicable invoice custom sections of each customer (by id), in two reads at most
    whatever the number of customers: none when the customer skips them, else its own choice, else
    its billing entity's selection (live sections, by name). Customers read with `section_flags()`
    are read only where the flags say there is something to read; a customer row written without an
    entity falls back on its organization's default entity, read once per organization."""
    wanted = [c for c in customers if not c.skip_invoice_custom_sections]
    result: dict[Any, list[InvoiceCustomSection]] = {c.pk: [] for c in customers}
    own = [c.pk for c in wanted if getattr(c, "has_own_sections", True)]
    if own:
        links = CustomerInvoiceCustomSection.objects.filter(
            customer_id__in=own, invoice_custom_section__deleted_at__isnull=True
        ).select_related("invoice_custom_section")
        for link in links.order_by("invoice_custom_section__name", "invoice_custom_section_id"):
            result[link.customer_id].append(link.invoice_custom_section)
    defaults: dict[Any, Any] = {}  # the organization's default entity, read once per organization

    def entity_id(customer: Customer) -> Any:
        if customer.billing_entity_id is not None:
            return customer.billing_entity_id
        if customer.organization_id not in defaults:
            defaults[customer.organization_id] = default_billing_entity(customer.organization).pk
        return defaults[customer.organization_id]

    entity_of = {
        c.pk: entity_id(c)
        for c in wanted
        if not result[c.pk] and (getattr(c, "entity_has_sections", True) or c.billing_entity_id is None)
    }
    if entity_of:
        by_entity: dict[Any, list[InvoiceCustomSection]] = {}
        entity_links = BillingEntityInvoiceCustomSection.objects.filter(
            billing_entity_id__in=set(entity_of.values()), invoice_custom_section__deleted_at__isnull=True
        ).select_related("invoice_custom_section")
        for entity_link in entity_links.order_by("invoice_custom_section__name", "invoice_custom_section_id"):
            by_entity.setdefault(entity_link.billing_entity_id, []).append(entity_link.invoice_custom_section)
        for customer_id, entity_id in entity_of.items():
            result[customer_id] = list(by_entity.get(entity_id, []))
    return result


def invoices_sections(items: Sequence[tuple[Customer, InvoiceSections]]) -> list[list[InvoiceCustomSection]]:
    """The sections each invoice prints (one item an invoice: its customer and what was decided
    when it was created, `customers.section_choice.InvoiceSections`): the live sections chosen
    and, when asked, the customer's applicable ones, by name. Three reads at most whatever the
    number of invoices, none when nothing applies."""
    customers = {customer.pk: customer for customer, chosen in items if chosen.with_customer}
    applicable = applicable_sections(list(customers.values())) if customers else {}
    ids = {section_id for _, chosen in items for section_id in chosen.section_ids}
    found: dict[str, InvoiceCustomSection] = {}
    if ids:
        organizations = {customer.organization_id for customer, _ in items}
        rows = InvoiceCustomSection.live.filter(pk__in=list(ids), organization_id__in=organizations)
        found = {str(section.pk): section for section in rows}
    result: list[list[InvoiceCustomSection]] = []
    for customer, chosen in items:
        sections = {str(s.pk): s for s in applicable.get(customer.pk, [])} if chosen.with_customer else {}
        sections.update({sid: found[sid] for sid in chosen.section_ids if sid in found})
        result.append(sorted(sections.values(), key=lambda section: (section.name, str(section.pk))))
    return result


def customer_sections(
    customer: Customer,
    *,
    own: Sequence[InvoiceCustomSection] | None = None,
    entity_has_sections: bool | None = None,
) -> list[InvoiceCustomSection]:
    """`applicable_sections` of one customer. What the caller knows is not read again: `own`, the
    customer's own choice (it just wrote it, or created the customer); `entity_has_sections`,
    whether its entity selected any (None: unknown)."""
    if customer.skip_invoice_custom_sections:
        return []
    if own is None:
        return applicable_sections([customer])[customer.pk]
    if own:
        return sorted(own, key=lambda section: (section.name, str(section.pk)))
    if entity_has_sections is False:
        return []
    return entity_sections(customer_billing_entity(customer))


# --- writes -----------------------------------------------------------------------------------


def _entity_code(name: str) -> str:
    return (slugify(name).replace("-", "_") or "default")[:255]


def billing_entity_create_default(organization: Organization) -> BillingEntity:
    """The organization's default entity, from its fields (its id is the organization's)."""
    entity = BillingEntity(id=organization.id, organization=organization, is_default=True)
    entity.code = _entity_code(organization.name)
    entity.name = organization.name
    _copy_mirrored(organization, entity)
    entity.document_numbering = _entity_numbering(organization.document_numbering)
    try:
        with transaction.atomic():
            entity.save(force_insert=True)
    except IntegrityError:  # created concurrently
        return BillingEntity.objects.get(organization=organization, is_default=True)
    return entity


def _entity_numbering(organization_numbering: str) -> str:
    if organization_numbering == DocumentNumbering.PER_ORGANIZATION:
        return EntityDocumentNumbering.PER_BILLING_ENTITY
    return EntityDocumentNumbering.PER_CUSTOMER


def _organization_numbering(entity_numbering: str) -> str:
    if entity_numbering == EntityDocumentNumbering.PER_BILLING_ENTITY:
        return DocumentNumbering.PER_ORGANIZATION
    return DocumentNumbering.PER_CUSTOMER


def _copy_mirrored(source: Any, target: Any) -> None:
    for field in (*MIRRORED_TEXT, *MIRRORED_VALUES):
        value = getattr(source, field)
        setattr(target, field, list(value) if isinstance(value, list) else value)


def default_entity_mirror_organization(organization: Organization) -> None:
    """After `PUT /organizations`: the default entity says what the organization says (in the
    caller's transaction)."""
    entity = BillingEntity.objects.select_for_update().filter(organization=organization, is_default=True).first()
    if entity is None:
        billing_entity_create_default(organization)
        return
    _copy_mirrored(organization, entity)
    entity.document_numbering = _entity_numbering(organization.document_numbering)
    entity.save()


def _apply(entity: BillingEntity, fields: BillingEntityFields, *, creating: bool) -> dict[str, list[str]]:
    """Write the fields sent onto the entity; the reasons to refuse, as `{field: [codes]}`."""
    errors: dict[str, list[str]] = {}
    if creating:
        code = (or_none(fields.code) or "").strip()
        if not code:
            errors["code"] = ["value_is_mandatory"]
        entity.code = code
    if fields.name is not UNSET or creating:
        name = (or_none(fields.name) or "").strip()
        if not name:
            errors["name"] = ["value_is_mandatory"]
        entity.name = name
    for field in ("legal_name", "legal_number", "tax_identification_number", "phone", "address_line1",
                  "address_line2", "city", "state", "zipcode"):  # fmt: skip
        value = getattr(fields, field)
        if value is not UNSET:
            setattr(entity, field, value or "")
    if fields.country is not UNSET:
        country = (fields.country or "").upper()
        if country and not _COUNTRY_RE.match(country):
            errors["country"] = ["country_code_invalid"]
        entity.country = country
    if fields.email is not UNSET:
        email = (fields.email or "").strip()
        if email and not _EMAIL_RE.match(email):
            errors["email"] = ["invalid_email_format"]
        entity.email = email
    if fields.default_currency is not UNSET:
        currency = (fields.default_currency or "").upper()
        if not money.is_currency(currency):
            errors["default_currency"] = ["value_is_invalid"]
        entity.default_currency = currency
    if fields.timezone is not UNSET and fields.timezone is not None:
        if not timezone_valid(fields.timezone):
            errors["timezone"] = ["invalid_timezone"]
        entity.timezone = fields.timezone
    if fields.document_numbering is not UNSET and fields.document_numbering is not None:
        if fields.document_numbering not in EntityDocumentNumbering.values:
            errors["document_numbering"] = ["value_is_invalid"]
        entity.document_numbering = fields.document_numbering
    if fields.document_number_prefix is not UNSET:
        prefix = (fields.document_number_prefix or "").upper()
        if not 1 <= len(prefix) <= 10 and not (creating and not prefix):
            errors["document_number_prefix"] = ["value_is_invalid"]
        entity.document_number_prefix = prefix
    if fields.finalize_zero_amount_invoice is not UNSET and fields.finalize_zero_amount_invoice is not None:
        entity.finalize_zero_amount_invoice = fields.finalize_zero_amount_invoice
    if fields.net_payment_term is not UNSET and fields.net_payment_term is not None:
        entity.net_payment_term = fields.net_payment_term
    if fields.eu_tax_management is not UNSET:
        entity.eu_tax_management = bool(fields.eu_tax_management)
    if fields.email_settings is not UNSET:
        settings_list = list(fields.email_settings or [])
        if not all(item in ENTITY_EMAIL_SETTINGS for item in settings_list):
            errors["email_settings"] = ["unsupported_value"]
        entity.email_settings = settings_list
    if fields.logo is not UNSET:
        logo = fields.logo or ""
        if logo and not _logo_valid(logo):
            errors["logo"] = ["invalid_content_type_or_size"]
        entity.logo = logo
    billing = or_none(fields.billing_configuration) or EntityBillingConfiguration()
    if billing.invoice_footer is not UNSET:
        footer = billing.invoice_footer or ""
        if len(footer) > 600:
            errors["invoice_footer"] = ["value_is_too_long"]
        entity.invoice_footer = footer
    if billing.invoice_grace_period is not UNSET and billing.invoice_grace_period is not None:
        entity.invoice_grace_period = billing.invoice_grace_period
    locale = or_none(billing.document_locale)
    if locale:
        entity.document_locale = locale
    return errors


def _logo_valid(logo: str) -> bool:
    match = _LOGO_RE.match(logo)
    if match is None:
        return False
    try:
        data = base64.b64decode(match.group(2), validate=False)
    except (binascii.Error, ValueError):
        return False
    return 0 < len(data) <= LOGO_MAX_BYTES


def _set_sections(entity: BillingEntity, codes: Sequence[str]) -> None:
    sections = sections_by_codes(entity.organization, codes)
    keep = {s.pk for s in sections}
    entity.section_links.exclude(invoice_custom_section_id__in=keep).delete()
    have = set(entity.section_links.values_list("invoice_custom_section_id", flat=True))
    BillingEntityInvoiceCustomSection.objects.bulk_create(
        [BillingEntityInvoiceCustomSection(billing_entity=entity, invoice_custom_section=s) for s in sections
         if s.pk not in have]
    )  # fmt: skip


@transaction.atomic
def billing_entity_create(organization: Organization, fields: BillingEntityFields) -> BillingEntity:
    """Lago's `POST /billing_entities`. 422 `value_already_exist` on a code in use."""
    entity = BillingEntity(organization=organization)
    entity.default_currency = organization.default_currency
    entity.timezone = organization.timezone
    entity.document_locale = organization.document_locale
    errors = _apply(entity, fields, creating=True)
    if entity.code and BillingEntity.objects.filter(organization=organization, code=entity.code).exists():
        errors["code"] = ["value_already_exist"]
    if errors:
        raise ValidationFailure(errors)
    if not entity.document_number_prefix:  # Lago: the name's first 3 letters and the id's last 4
        letters = "".join(ch for ch in entity.name.upper() if ch.isalnum())[:3] or "BXB"
        entity.document_number_prefix = f"{letters}-{entity.id.hex[-4:].upper()}"
    if not BillingEntity.objects.filter(organization=organization, is_default=True).exists():
        entity.is_default = True
    save_unique(entity, force_insert=True)
    return entity


@transaction.atomic
def billing_entity_update(organization: Organization, code: str, fields: BillingEntityFields) -> BillingEntity:
    """Lago's `PUT /billing_entities/{code}`: only the fields sent change; `tax_codes` and
    `invoice_custom_section_codes` replace the entity's lists (404 on an unknown code)."""
    entity = found(
        BillingEntity.objects.select_for_update().filter(organization=organization, code=code).first(), "billing_entity"
    )
    errors = _apply(entity, fields, creating=False)
    if errors:
        raise ValidationFailure(errors)
    tax_codes = or_none(fields.tax_codes)
    if fields.tax_codes is not UNSET:
        hooks.billing_entity_taxes.get().validate(organization, list(tax_codes or []))
    section_codes = fields.invoice_custom_section_codes
    if section_codes is not UNSET:
        _set_sections(entity, list(section_codes or []))
    entity.save()
    if fields.tax_codes is not UNSET:
        hooks.billing_entity_taxes.get().apply(entity, list(tax_codes or []))
    if entity.is_default:
        _mirror_to_organization(entity)
    return entity


def _mirror_to_organization(entity: BillingEntity) -> None:
    org = Organization.objects.select_for_update().get(pk=entity.organization_id)
    _copy_mirrored(entity, org)
    org.document_numbering = _organization_numbering(entity.document_numbering)
    org.save()


# --- invoice custom sections ------------------------------------------------------------------


def customer_sections_set(customer: Customer, sections: Sequence[InvoiceCustomSection]) -> None:
    """The customer's own choice of sections (Lago's `invoice_custom_section_codes`): exactly these
    (none: its entity's apply), in the caller's transaction."""
    keep = {section.pk for section in sections}
    if not customer._state.adding:
        customer.section_links.exclude(invoice_custom_section_id__in=keep).delete()
        have = set(customer.section_links.values_list("invoice_custom_section_id", flat=True))
    else:
        have = set()
    CustomerInvoiceCustomSection.objects.bulk_create(
        [
            CustomerInvoiceCustomSection(customer=customer, invoice_custom_section=s)
            for s in sections
            if s.pk not in have
        ]
    )


def _apply_section(section: InvoiceCustomSection, fields: SectionFields, *, creating: bool) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if creating:
        section.code = (or_none(fields.code) or "").strip()
        if not section.code:
            errors["code"] = ["value_is_mandatory"]
    if fields.name is not UNSET or creating:
        section.name = (or_none(fields.name) or "").strip()
        if not section.name:
            errors["name"] = ["value_is_mandatory"]
    for field in ("description", "display_name", "details"):
        value = getattr(fields, field)
        if value is not UNSET:
            setattr(section, field, value or "")
    return errors


def _apply_to_default_entity(section: InvoiceCustomSection, applied: bool | Unset | None) -> None:
    """Lago's deprecated `applied_to_organization`: select (or deselect) the section on the
    organization's default entity."""
    if applied is UNSET or applied is None:
        return
    entity = default_billing_entity(section.organization)
    if applied:
        BillingEntityInvoiceCustomSection.objects.get_or_create(billing_entity=entity, invoice_custom_section=section)
    else:
        BillingEntityInvoiceCustomSection.objects.filter(billing_entity=entity, invoice_custom_section=section).delete()


@transaction.atomic
def section_create(organization: Organization, fields: SectionFields) -> InvoiceCustomSection:
    section = InvoiceCustomSection(organization=organization)
    errors = _apply_section(section, fields, creating=True)
    if section.code and InvoiceCustomSection.live.filter(organization=organization, code=section.code).exists():
        errors["code"] = ["value_already_exist"]
    if errors:
        raise ValidationFailure(errors)
    save_unique(section, force_insert=True)
    _apply_to_default_entity(section, fields.applied_to_organization)
    return section


@transaction.atomic
def section_update(organization: Organization, code: str, fields: SectionFields) -> InvoiceCustomSection:
    section = found(
        InvoiceCustomSection.live.select_for_update().filter(organization=organization, code=code).first(),
        "invoice_custom_section",
    )
    errors = _apply_section(section, fields, creating=False)
    if errors:
        raise ValidationFailure(errors)
    section.save()
    _apply_to_default_entity(section, fields.applied_to_organization)
    return section


@transaction.atomic
def section_delete(organization: Organization, code: str) -> InvoiceCustomSection:
    """Soft delete: entities and customers stop selecting it; invoices keep the text they printed."""
    from django.utils import timezone

    section = found(
        InvoiceCustomSection.live.select_for_update().filter(organization=organization, code=code).first(),
        "invoice_custom_section",
    )
    section.deleted_at = timezone.now()
    section.save(update_fields=["deleted_at", "updated_at"])
    section.entity_links.all().delete()
    section.customer_links.all().delete()
    return section
