"""Finance console: organizations, API keys (secret shown once), customers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Q
from django.http import HttpRequest

from billing_project.core.api import permissions as api_permissions
from billing_project.core.console import ConditionFilter, ReadOnlyInline
from customers import entities, services
from customers.entities import BillingEntityFields, EntityBillingConfiguration, SectionFields
from customers.inputs import CustomerUpsert
from customers.models import (
    LEGAL_AND_ADDRESS,
    ApiKey,
    BillingEntity,
    Customer,
    CustomerMetadata,
    InvoiceCustomSection,
    Organization,
)


class ApiKeyInline(ReadOnlyInline):
    model = ApiKey
    fields = ("name", "prefix", "created_at", "last_used_at", "revoked_at")
    readonly_fields = fields
    show_change_link = True


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ("name", "default_currency", "timezone", "document_numbering", "created_at")
    search_fields = ("name", "legal_name", "email")
    list_filter = ("default_currency", "document_numbering")
    readonly_fields = ("id", "created_at", "updated_at", "customer_sequence")
    inlines = [ApiKeyInline]
    fieldsets = (
        (None, {"fields": ("id", "name", "default_currency", "timezone", "email")}),
        (
            "Legal and address",
            {"fields": LEGAL_AND_ADDRESS},
        ),
        (
            "Invoicing",
            {
                "fields": (
                    "document_numbering",
                    "document_number_prefix",
                    "net_payment_term",
                    "invoice_grace_period",
                    "finalize_zero_amount_invoice",
                    "invoice_footer",
                    "document_locale",
                    "email_settings",
                )
            },
        ),
        ("System", {"fields": ("customer_sequence", "created_at", "updated_at")}),
    )

    def save_model(self, request: HttpRequest, obj: Organization, form: Any, change: bool) -> None:
        if not change:
            obj.document_number_prefix = obj.document_number_prefix or services.default_document_prefix(
                obj.name, obj.id
            )
        super().save_model(request, obj, form, change)


class ApiKeyScopeFilter(ConditionFilter):
    title = "scope"
    parameter_name = "scope"
    conditions = {
        "full": ("full access", Q(permissions__isnull=True)),
        "scoped": ("scoped", Q(permissions__isnull=False)),
    }


class ApiKeyAdminForm(forms.ModelForm):
    class Meta:
        model = ApiKey
        fields = ("organization", "name", "permissions")

    def clean_permissions(self) -> Any:
        value = self.cleaned_data.get("permissions")
        codes = api_permissions.permissions_errors(value)
        if codes:
            raise forms.ValidationError(
                f"{', '.join(codes)}: use null for full access, or a map of resources "
                f"({', '.join(api_permissions.RESOURCES)}) to a list of read/write"
            )
        return value


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    form = ApiKeyAdminForm
    list_display = ("prefix", "name", "organization", "scope", "created_at", "last_used_at", "revoked_at")
    list_filter = ("organization", ApiKeyScopeFilter)
    search_fields = ("prefix", "name", "organization__name")
    list_select_related = ("organization",)
    fields = ("organization", "name", "prefix", "permissions", "created_at", "last_used_at", "revoked_at")
    actions = ["revoke_keys", "make_read_only", "give_full_access"]

    def get_readonly_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> tuple[str, ...]:
        if obj is None:
            return ("prefix", "created_at", "last_used_at", "revoked_at")
        return ("organization", "prefix", "created_at", "last_used_at", "revoked_at")

    @admin.display(description="scope")
    def scope(self, obj: ApiKey) -> str:
        return obj.scope

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        if change:
            if "permissions" in form.changed_data:
                obj.permissions = services.api_key_set_permissions(obj, permissions=obj.permissions).permissions
            super().save_model(request, obj, form, change)
            return
        api_key, raw_key = services.api_key_create(obj.organization, name=obj.name, permissions=obj.permissions)
        obj.pk = api_key.pk
        obj.prefix = api_key.prefix
        obj.key_hash = api_key.key_hash
        obj.created_at = api_key.created_at
        messages.warning(
            request,
            f"API key created: {raw_key} — copy it now, it is stored only as a hash and will not be shown again.",
        )

    @admin.action(description="Make selected API keys read-only", permissions=["change"])
    def make_read_only(self, request: HttpRequest, queryset: Any) -> None:
        for api_key in queryset:
            services.api_key_set_permissions(api_key, permissions=api_permissions.read_only_permissions())
        self.message_user(request, f"{queryset.count()} API key(s) are now read-only.")

    @admin.action(description="Give selected API keys full access", permissions=["change"])
    def give_full_access(self, request: HttpRequest, queryset: Any) -> None:
        for api_key in queryset:
            services.api_key_set_permissions(api_key, permissions=None)
        self.message_user(request, f"{queryset.count()} API key(s) now have full access.")

    @admin.action(description="Revoke selected API keys", permissions=["change"])
    def revoke_keys(self, request: HttpRequest, queryset: Any) -> None:
        count = 0
        for api_key in queryset:
            if api_key.revoked_at is None:
                services.api_key_revoke(api_key)
                count += 1
        self.message_user(request, f"Revoked {count} API key(s).")


class CustomerMetadataInline(admin.TabularInline):
    model = CustomerMetadata
    extra = 0
    fields = ("key", "value", "display_in_invoice")


_BILLING_CONFIGURATION_FIELDS = (
    "invoice_grace_period",
    "payment_provider",
    "payment_provider_code",
    "provider_customer_id",
)


def customer_form_payload(form: forms.ModelForm, obj: Customer) -> CustomerUpsert:
    """The changed admin fields as the upsert service's input (fields it does not take are left out)."""
    data: dict[str, Any] = {"external_id": obj.external_id}
    billing: dict[str, Any] = {}
    for field in form.changed_data:
        if field not in form.cleaned_data or field in {"organization", "external_id"}:
            continue
        value = form.cleaned_data[field]
        if field in _BILLING_CONFIGURATION_FIELDS:
            billing[field] = value if field == "invoice_grace_period" else (value or None)
        elif field == "provider_settings":
            billing.update(value or {})
        elif field in {"currency", "timezone", "document_locale"}:
            data[field] = value or None
        elif field == "billing_entity":
            data["billing_entity_code"] = value.code if value is not None else None
        else:
            data[field] = value
    if billing:
        data["billing_configuration"] = billing
    return CustomerUpsert.from_validated(data)


class CustomerAdminForm(forms.ModelForm):
    class Meta:
        model = Customer
        fields = "__all__"

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        assert cleaned is not None  # Form.clean returns cleaned_data; the stubs allow None
        organization = cleaned.get("organization") or getattr(self.instance, "organization", None)
        if organization is None or self.errors:
            return cleaned
        existing = self.instance if self.instance.pk else None
        probe = Customer(external_id=cleaned.get("external_id") or self.instance.external_id)
        errors = services.customer_validation_errors(organization, existing, customer_form_payload(self, probe))
        for field, codes in errors.items():
            target = field.split(".")[-1]
            message = ", ".join(codes)
            if target in self.fields:
                self.add_error(target, message)
            else:
                self.add_error(None, f"{field}: {message}")
        return cleaned


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    form = CustomerAdminForm
    list_display = ("external_id", "name", "email", "currency", "country", "organization", "created_at", "deleted_at")
    list_filter = ("organization", "currency", "country", "customer_type", ("deleted_at", admin.EmptyFieldListFilter))
    search_fields = ("external_id", "name", "email", "legal_name", "firstname", "lastname")
    list_select_related = ("organization",)
    readonly_fields = ("id", "sequential_id", "slug", "created_at", "updated_at", "deleted_at")
    inlines = [CustomerMetadataInline]
    show_full_result_count = False
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "organization",
                    "external_id",
                    "id",
                    "sequential_id",
                    "slug",
                    "name",
                    "firstname",
                    "lastname",
                    "customer_type",
                )
            },
        ),
        ("Contact", {"fields": ("email", "phone", "url", "logo_url")}),
        (
            "Legal and address",
            {
                "fields": (
                    *LEGAL_AND_ADDRESS,
                    "shipping_address",
                )
            },
        ),
        (
            "Billing",
            {
                "fields": (
                    "billing_entity",
                    "currency",
                    "timezone",
                    "net_payment_term",
                    "invoice_grace_period",
                    "finalize_zero_amount_invoice",
                    "document_locale",
                )
            },
        ),
        (
            "Payment provider",
            {"fields": ("payment_provider", "payment_provider_code", "provider_customer_id", "provider_settings")},
        ),
        ("System", {"fields": ("created_at", "updated_at", "deleted_at")}),
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Customer | None = None) -> tuple[str, ...]:
        fields = tuple(self.readonly_fields)
        return (*fields, "organization", "external_id") if obj else fields

    def save_model(self, request: HttpRequest, obj: Customer, form: Any, change: bool) -> None:
        """Saves go through the upsert service, so the admin obeys the API's rules."""
        customer, _ = services.customer_upsert(obj.organization, customer_form_payload(form, obj))
        obj.pk = customer.pk
        obj.refresh_from_db()

    def delete_model(self, request: HttpRequest, obj: Customer) -> None:
        services.customer_delete(obj.organization, obj.external_id)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for customer in queryset.filter(deleted_at__isnull=True):
            services.customer_delete(customer.organization, customer.external_id)


# --- billing entities and invoice custom sections (docs/billing-entities.md) ------------------

_ENTITY_FIELDS = (
    "name", "legal_name", "legal_number", "tax_identification_number", "email", "phone", "address_line1",
    "address_line2", "city", "state", "zipcode", "country", "default_currency", "timezone", "document_numbering",
    "document_number_prefix", "finalize_zero_amount_invoice", "net_payment_term", "eu_tax_management",
)  # fmt: skip
_ENTITY_BILLING = ("invoice_footer", "invoice_grace_period", "document_locale")


def _form_errors(form: forms.ModelForm, failure: Exception) -> None:
    from billing_project.core.errors import NotFoundFailure, ValidationFailure

    if isinstance(failure, ValidationFailure):
        for field, codes in failure.details.items():
            message = ", ".join(str(code) for code in (codes if isinstance(codes, list) else [codes]))
            form.add_error(field if field in form.fields else None, f"{field}: {message}")
    elif isinstance(failure, NotFoundFailure):
        form.add_error(None, failure.code)


class BillingEntityForm(forms.ModelForm):
    class Meta:
        model = BillingEntity
        fields = ("organization", "code", *_ENTITY_FIELDS, *_ENTITY_BILLING, "email_settings", "logo")

    def validate_unique(self) -> None:
        """Uniqueness is the service's rule, reported with its code."""

    def fields_input(self) -> BillingEntityFields:
        data = {name: self.cleaned_data.get(name) for name in (*_ENTITY_FIELDS, "email_settings", "logo")}
        billing = EntityBillingConfiguration(**{name: self.cleaned_data.get(name) for name in _ENTITY_BILLING})
        return BillingEntityFields(code=self.cleaned_data.get("code"), billing_configuration=billing, **data)


class _SavedByServices:
    """An admin whose rows are written by the entity services: `update(organization, code, fields)`
    for a change, `create(organization, fields)` for a new row, `fields` the form's `fields_input()`."""

    create: Callable[..., Any]
    update: Callable[..., Any]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if change:
            saved = self.update(obj.organization, obj.code, form.fields_input())
        else:
            saved = self.create(form.cleaned_data["organization"], form.fields_input())
        obj.pk = saved.pk
        obj.refresh_from_db()


@admin.register(BillingEntity)
class BillingEntityAdmin(_SavedByServices, admin.ModelAdmin):
    """Entities are created and changed through the same services as the API; never deleted
    (customers and invoices keep pointing at them)."""

    create = staticmethod(entities.billing_entity_create)
    update = staticmethod(entities.billing_entity_update)

    form = BillingEntityForm
    list_display = ("code", "name", "legal_name", "is_default", "default_currency", "organization", "created_at")
    list_filter = ("is_default", "default_currency")
    search_fields = ("code", "name", "legal_name", "tax_identification_number")
    list_select_related = ("organization",)
    readonly_fields = ("id", "is_default", "created_at", "updated_at")

    def get_readonly_fields(self, request: HttpRequest, obj: BillingEntity | None = None) -> tuple[str, ...]:
        fields = tuple(self.readonly_fields)
        return (*fields, "organization", "code") if obj else fields

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form_class = super().get_form(request, obj, change=change, **kwargs)

        class Checked(form_class):  # type: ignore[misc, valid-type]
            def clean(self) -> dict[str, Any]:
                cleaned = super().clean()
                organization = obj.organization if obj is not None else cleaned.get("organization")
                if self.errors or organization is None:
                    return cleaned
                from django.db import transaction

                from billing_project.core.errors import DomainError

                try:  # a dry run: the service's own checks, rolled back
                    with transaction.atomic():
                        if obj is None:
                            entities.billing_entity_create(organization, self.fields_input())
                        else:
                            entities.billing_entity_update(organization, obj.code, self.fields_input())
                        transaction.set_rollback(True)
                except DomainError as failure:
                    _form_errors(self, failure)
                return cleaned

        return Checked


class InvoiceCustomSectionForm(forms.ModelForm):
    class Meta:
        model = InvoiceCustomSection
        fields = ("organization", "code", "name", "display_name", "details", "description")

    def validate_unique(self) -> None:
        """Uniqueness among live sections is the service's rule."""

    def fields_input(self) -> SectionFields:
        names = ("code", "name", "display_name", "details", "description")
        return SectionFields(**{name: self.cleaned_data.get(name) for name in names})


@admin.register(InvoiceCustomSection)
class InvoiceCustomSectionAdmin(_SavedByServices, admin.ModelAdmin):
    create = staticmethod(entities.section_create)
    update = staticmethod(entities.section_update)
    form = InvoiceCustomSectionForm
    list_display = ("code", "name", "display_name", "organization", "created_at")
    search_fields = ("code", "name")
    list_select_related = ("organization",)
    readonly_fields = ("id", "created_at", "updated_at", "deleted_at")

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).filter(deleted_at__isnull=True)

    def get_readonly_fields(self, request: HttpRequest, obj: InvoiceCustomSection | None = None) -> tuple[str, ...]:
        fields = tuple(self.readonly_fields)
        return (*fields, "organization", "code") if obj else fields

    def delete_model(self, request: HttpRequest, obj: InvoiceCustomSection) -> None:
        entities.section_delete(obj.organization, obj.code)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for section in queryset:
            entities.section_delete(section.organization, section.code)
