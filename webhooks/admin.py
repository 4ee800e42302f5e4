"""Finance console: webhook endpoints, and deliveries as a read-only ledger with retry actions."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from billing_project.core.console import ReadOnlyAdmin, ReadOnlyInline
from billing_project.core.errors import DomainError, NotAllowedFailure
from webhooks import services, targets
from webhooks.inputs import WebhookEndpointFields
from webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

ENDPOINT_FIELDS = ("webhook_url", "signature_algo", "name", "event_types")


class WebhookEndpointAdminForm(forms.ModelForm):
    event_types = forms.CharField(
        required=False,
        help_text="Comma-separated webhook types (e.g. customer.created, invoice.created). Empty: every type.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = ("organization", "webhook_url", "signature_algo", "name", "event_types")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk and self.instance.event_types:
            self.initial["event_types"] = ", ".join(self.instance.event_types)

    def clean_event_types(self) -> list[str] | None:
        raw = self.cleaned_data.get("event_types") or ""
        items = [item.strip() for item in raw.split(",") if item.strip()]
        return items or None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or self.cleaned_data
        organization = cleaned.get("organization") or getattr(self.instance, "organization", None)
        if organization is None or self.errors:
            return cleaned
        data = WebhookEndpointFields.from_validated({field: cleaned.get(field) for field in ENDPOINT_FIELDS})
        existing = self.instance if self.instance.pk else None
        errors = services.webhook_endpoint_validation_errors(organization, existing, data)
        for field, codes in errors.items():
            message = ", ".join(codes)
            if "url_resolves_to_private_address" in codes:
                message = targets.PRIVATE_TARGET_MESSAGE
            if field in self.fields:
                self.add_error(field, message)
            else:
                self.add_error(None, f"{field}: {message}")
        return cleaned

    def validate_unique(self) -> None:
        """Uniqueness is checked by the service (with Lago's error codes)."""


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointAdminForm
    list_display = ("webhook_url", "name", "organization", "signature_algo", "event_types_display", "created_at")
    list_filter = ("signature_algo", "organization")
    search_fields = ("webhook_url", "name", "organization__name")
    list_select_related = ("organization",)
    readonly_fields = ("id", "created_at", "updated_at")
    actions = ["retry_failed_deliveries"]

    @admin.display(description="Event types")
    def event_types_display(self, obj: WebhookEndpoint) -> str:
        return ", ".join(obj.event_types) if obj.event_types else "all"

    @admin.display(description="HMAC secret (the organization's, for hmac endpoints)")
    def hmac_secret(self, obj: WebhookEndpoint) -> str:
        return obj.organization.webhook_hmac_key

    def get_readonly_fields(self, request: HttpRequest, obj: WebhookEndpoint | None = None) -> tuple[str, ...]:
        fields = tuple(self.readonly_fields)
        if obj is None:
            return fields
        if request.user.has_perm("webhooks.change_webhookendpoint"):
            fields = (*fields, "hmac_secret")
        return (*fields, "organization")

    def save_model(self, request: HttpRequest, obj: WebhookEndpoint, form: Any, change: bool) -> None:
        """Saves go through the services, so the admin obeys the API's rules (limit, URL, private targets)."""
        data = {field: form.cleaned_data.get(field) for field in ENDPOINT_FIELDS}
        if change:
            saved = services.webhook_endpoint_update(
                obj.organization, lago_id=obj.pk, data=WebhookEndpointFields.from_validated(data)
            )
        else:
            saved = services.webhook_endpoint_create(obj.organization, **data)
        obj.pk = saved.pk
        obj.refresh_from_db()

    def delete_model(self, request: HttpRequest, obj: WebhookEndpoint) -> None:
        services.webhook_endpoint_delete(obj.organization, lago_id=obj.pk)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        for endpoint in queryset.select_related("organization"):
            services.webhook_endpoint_delete(endpoint.organization, lago_id=endpoint.pk)

    @admin.action(description="Retry all failed deliveries of the selected endpoints", permissions=["change"])
    def retry_failed_deliveries(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        total = 0
        for endpoint in queryset.select_related("organization"):
            total += services.webhook_endpoint_retry_failed(endpoint.organization, lago_id=endpoint.pk)
        self.message_user(request, f"Queued {total} failed delivery(ies) for a new attempt.")


class WebhookAttemptInline(ReadOnlyInline):
    model = WebhookAttempt
    fields = ("number", "started_at", "duration_ms", "http_status", "succeeded", "error", "response_excerpt")
    readonly_fields = fields
    can_delete = False
    ordering = ("number",)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    """A ledger: nothing is edited here. State changes are the retry actions, which call services."""

    list_display = (
        "created_at",
        "webhook_type",
        "status",
        "attempts_count",
        "last_http_status",
        "next_attempt_at",
        "webhook_url",
        "organization",
    )
    list_filter = ("status", "webhook_type", "object_type", "organization")
    search_fields = ("=id", "webhook_url", "webhook_type", "organization__name")
    list_select_related = ("organization", "endpoint")
    date_hierarchy = "created_at"
    inlines = [WebhookAttemptInline]
    fields = (
        "id",
        "organization",
        "endpoint",
        "webhook_url",
        "webhook_type",
        "object_type",
        "status",
        "attempts_count",
        "last_attempt_at",
        "next_attempt_at",
        "delivered_at",
        "last_http_status",
        "last_error",
        "payload_display",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields
    actions = ["retry_now", "retry_all_failed_for_endpoint"]

    @admin.display(description="Payload")
    def payload_display(self, obj: WebhookDelivery) -> str:
        try:
            pretty = json.dumps(obj.payload, indent=2, ensure_ascii=False)
        except ValueError:
            pretty = obj.body
        return format_html("<pre style='white-space: pre-wrap'>{}</pre>", pretty)

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("webhooks.change_webhookdelivery")

    @admin.action(description="Retry now", permissions=["retry"])
    def retry_now(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        queued, skipped = 0, []
        for delivery in queryset.select_related("organization"):
            try:
                services.webhook_delivery_retry(delivery.organization, lago_id=delivery.pk)
                queued += 1
            except NotAllowedFailure as exc:
                skipped.append(f"{delivery.pk} ({exc.code})")
        self.message_user(request, f"Queued {queued} delivery(ies) for a new attempt.")
        if skipped:
            self.message_user(request, f"Not retried: {', '.join(skipped)}", level=messages.WARNING)

    @admin.action(description="Retry all failed deliveries for the endpoint(s) of the selection", permissions=["retry"])
    def retry_all_failed_for_endpoint(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        total = 0
        endpoints = {
            (delivery.organization, delivery.endpoint_id)
            for delivery in queryset.select_related("organization").filter(endpoint__isnull=False)
        }
        for organization, endpoint_id in endpoints:
            try:
                total += services.webhook_endpoint_retry_failed(organization, lago_id=endpoint_id)
            except DomainError as exc:  # the endpoint was deleted meanwhile
                self.message_user(request, f"Endpoint {endpoint_id}: {exc}", level=messages.WARNING)
        self.message_user(request, f"Queued {total} failed delivery(ies) of {len(endpoints)} endpoint(s).")
