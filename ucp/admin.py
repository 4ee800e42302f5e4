"""Finance console: an organization's UCP settings and the platforms it knows. Saving goes
through the services (a signing key is made on first save; API keys are shown once)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest

from billing_project.core.console import ReadOnlyAdmin
from billing_project.core.errors import DomainError
from billing_project.core.money import format_amount
from ucp.models import Checkout, OrderEvent, UcpListing, UcpPlatform, UcpSettings
from ucp.services import setup


@admin.register(UcpSettings)
class UcpSettingsAdmin(admin.ModelAdmin):
    list_display = ("organization", "slug", "enabled", "public_base_url", "platform_policy", "require_signatures")
    list_filter = ("enabled", "platform_policy", "require_signatures")
    search_fields = ("slug", "organization__name", "public_base_url")
    list_select_related = ("organization",)
    readonly_fields = ("signing_kid", "created_at", "updated_at")
    autocomplete_fields = ()
    actions = ["rotate_signing_key"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    fields = (
        "organization",
        "enabled",
        "slug",
        "public_base_url",
        "namespace",
        "payment_connection",
        "platform_policy",
        "require_signatures",
        "rate_limit_per_minute",
        "checkout_ttl_minutes",
        "require_buyer_email",
        "terms_url",
        "privacy_url",
        "signing_kid",
        "created_at",
        "updated_at",
    )

    def save_model(self, request: HttpRequest, obj: UcpSettings, form: Any, change: bool) -> None:
        try:
            saved = setup.ucp_settings_save(
                obj.organization,
                slug=obj.slug,
                public_base_url=obj.public_base_url,
                enabled=obj.enabled,
                platform_policy=obj.platform_policy,
                require_signatures=obj.require_signatures,
                payment_connection=obj.payment_connection,
                rate_limit_per_minute=obj.rate_limit_per_minute,
                terms_url=obj.terms_url,
                privacy_url=obj.privacy_url,
                namespace=obj.namespace,
                require_buyer_email=obj.require_buyer_email,
                checkout_ttl_minutes=obj.checkout_ttl_minutes,
            )
        except DomainError as exc:
            self.message_user(request, f"Not saved: {exc}", messages.ERROR)
            return
        obj.pk = saved.pk

    @admin.action(description="Rotate the signing key")
    def rotate_signing_key(self, request: HttpRequest, queryset: QuerySet[UcpSettings]) -> None:
        for row in queryset:
            setup.ucp_signing_key_rotate(row)
        self.message_user(request, f"New signing key for {queryset.count()} organization(s).")


@admin.register(UcpPlatform)
class UcpPlatformAdmin(admin.ModelAdmin):
    list_display = ("name", "profile_url", "organization", "enabled", "created_at")
    list_filter = ("enabled",)
    search_fields = ("name", "profile_url", "organization__name")
    list_select_related = ("organization",)
    fields = ("organization", "name", "profile_url", "profile", "enabled", "created_at", "updated_at")
    readonly_fields = ("created_at", "updated_at")
    actions = ["issue_api_key"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    @admin.action(description="Issue a new API key (shown once)")
    def issue_api_key(self, request: HttpRequest, queryset: QuerySet[UcpPlatform]) -> None:
        for platform in queryset:
            _, raw = setup.platform_register(
                platform.organization,
                profile_url=platform.profile_url,
                name=platform.name,
                profile=platform.profile,
                with_api_key=True,
            )
            self.message_user(request, f"API key for {platform}: {raw} (shown once)", messages.WARNING)


@admin.register(UcpListing)
class UcpListingAdmin(admin.ModelAdmin):
    """What the organization sells through UCP: a plan or an add-on per row."""

    list_display = ("__str__", "organization", "plan", "add_on", "enabled")
    list_filter = ("enabled",)
    search_fields = ("title", "plan__code", "add_on__code", "organization__name")
    list_select_related = ("organization", "plan", "add_on")
    raw_id_fields = ("plan", "add_on")


@admin.register(Checkout)
class CheckoutAdmin(ReadOnlyAdmin):
    """UCP checkout sessions and the orders they became (written by the UCP API only)."""

    list_display = (
        "public_id",
        "organization",
        "status",
        "total_display",
        "platform_profile_url",
        "order_public_id",
        "customer",
        "subscription",
        "invoice",
        "created_at",
    )
    list_filter = ("status", "currency")
    search_fields = ("public_id", "order_public_id", "platform_profile_url", "customer__email", "customer__external_id")
    list_select_related = ("organization", "customer", "subscription", "invoice")

    @admin.display(description="Total")
    def total_display(self, obj: Checkout) -> str:
        total = next((t.get("amount") for t in obj.totals if t.get("type") == "total"), 0)
        return format_amount(int(total or 0), obj.currency)


@admin.register(OrderEvent)
class OrderEventAdmin(ReadOnlyAdmin):
    list_display = (
        "checkout",
        "event_type",
        "webhook_url",
        "attempts",
        "last_status",
        "delivered_at",
        "failed_at",
        "created_at",
    )
    list_filter = ("event_type",)
    search_fields = ("checkout__public_id", "checkout__order_public_id", "webhook_url")
    list_select_related = ("checkout",)
