"""Finance console: alerts with their thresholds (and when each last fired), triggered alerts,
lifetime usage and the usage thresholds it crossed, each linked to its progressive invoice and to
the period-end invoice that deducted it. Ledgers are read-only; changes go through services."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from billing_project.core import console
from billing_project.core.console import ReadOnlyInline
from billing_project.core.money import format_amount
from billing_project.core.money_column import money_column
from invoicing.models import Invoice
from subscriptions.models import Subscription
from usage_monitoring import selectors
from usage_monitoring.models import (
    Alert,
    AlertThreshold,
    AppliedUsageThreshold,
    LifetimeUsage,
    TriggeredAlert,
    UsageActivity,
)
from usage_monitoring.representation import decimal_string
from usage_monitoring.services import alerts as alert_services
from usage_monitoring.services import evaluation

_PLAN_CURRENCY = "subscription.plan.amount_currency"  # what the usage amounts are in


class ReadOnlyAdmin(console.ReadOnlyAdmin):
    def has_manage_permission(self, request: HttpRequest) -> bool:
        """Actions that change state through a service (the rows themselves stay read-only)."""
        opts = self.model._meta
        return request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}")


def _invoice_link(invoice: Invoice | None) -> str:
    if invoice is None:
        return "-"
    url = reverse("admin:invoicing_invoice_change", args=[invoice.pk])
    return format_html(
        '<a href="{}">{}</a> ({})',
        url,
        invoice.number or invoice.pk,
        format_amount(invoice.total_amount_cents, invoice.currency),
    )


def _subscription_link(organization_id: Any, external_id: str) -> str:
    sub = (
        Subscription.objects.filter(organization_id=organization_id, external_id=external_id)
        .order_by("-created_at")
        .first()
    )
    if sub is None:
        return external_id
    return format_html(
        '<a href="{}">{}</a>', reverse("admin:subscriptions_subscription_change", args=[sub.pk]), external_id
    )


class AlertThresholdInline(ReadOnlyInline):
    model = AlertThreshold
    fields = ("code", "threshold_value", "recurring", "last_triggered_at")

    @admin.display(description="value")
    def threshold_value(self, obj: AlertThreshold) -> str:
        return decimal_string(obj.value)


class TriggeredAlertInline(ReadOnlyInline):
    model = TriggeredAlert
    fields = ("triggered_at", "previous_value", "current_value", "crossed_thresholds", "period_key")
    max_num = 0
    ordering = ("-triggered_at",)


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
    list_display = (
        "code",
        "alert_type",
        "subscription",
        "wallet",
        "billable_metric",
        "thresholds_summary",
        "last_triggered_at",
        "last_processed_at",
        "organization",
        "deleted_at",
    )
    list_filter = ("alert_type", ("deleted_at", admin.EmptyFieldListFilter), "organization")
    search_fields = ("=code", "=external_subscription_id", "name")
    list_select_related = ("organization", "billable_metric", "wallet")
    fields = (
        "id",
        "organization",
        "subscription",
        "wallet",
        "alert_type",
        "code",
        "name",
        "billable_metric",
        "previous_value",
        "period_key",
        "last_processed_at",
        "last_triggered_at",
        "deleted_at",
        "created_at",
    )
    inlines = [AlertThresholdInline, TriggeredAlertInline]
    actions = ["delete_alerts"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Alert]:
        return super().get_queryset(request).prefetch_related("thresholds")

    @admin.display(description="subscription")
    def subscription(self, obj: Alert) -> str:
        if not obj.external_subscription_id:
            return "-"
        return _subscription_link(obj.organization_id, obj.external_subscription_id)

    @admin.display(description="thresholds")
    def thresholds_summary(self, obj: Alert) -> str:
        parts = [f"{decimal_string(t.value)}{' (recurring)' if t.recurring else ''}" for t in obj.thresholds.all()]
        return ", ".join(parts)

    @admin.action(description="Delete the selected alerts", permissions=["manage"])
    def delete_alerts(self, request: HttpRequest, queryset: QuerySet[Alert]) -> None:
        done = 0
        for alert in queryset.filter(deleted_at__isnull=True).select_related("organization"):
            alert_services.alert_delete(
                alert.organization, external_subscription_id=alert.external_subscription_id, code=alert.code
            )
            done += 1
        self.message_user(request, f"{done} alert(s) deleted.", messages.SUCCESS)


@admin.register(TriggeredAlert)
class TriggeredAlertAdmin(ReadOnlyAdmin):
    list_display = (
        "triggered_at",
        "alert",
        "external_subscription_id",
        "previous_value",
        "current_value",
        "organization",
    )
    list_filter = ("alert__alert_type", "organization")
    search_fields = ("=external_subscription_id", "=alert__code")
    list_select_related = ("alert", "organization")


class _AppliedThresholdColumns:
    """The columns an applied threshold shows in its list and inside its subscription's page."""

    threshold_amount = money_column("amount_cents", _PLAN_CURRENCY, "threshold")

    @admin.display(description="progressive invoice")
    def progressive_invoice(self, obj: AppliedUsageThreshold) -> str:
        return _invoice_link(obj.invoice)

    @admin.display(description="deducted on (period-end invoice)")
    def deducted_on(self, obj: AppliedUsageThreshold) -> str:
        return _invoice_link(selectors.deducted_on(obj.invoice)) if obj.invoice else "-"


class AppliedUsageThresholdInline(_AppliedThresholdColumns, ReadOnlyInline):
    model = AppliedUsageThreshold
    fields = ("threshold_amount", "recurring", "lifetime_amount", "created_at", "progressive_invoice", "deducted_on")

    lifetime_amount = money_column("lifetime_usage_amount_cents", _PLAN_CURRENCY, "lifetime usage when reached")


_USAGE_COLUMNS = ("historical", "invoiced", "current", "total")


@admin.register(LifetimeUsage)
class LifetimeUsageAdmin(ReadOnlyAdmin):
    list_display = ("external_subscription_id", *_USAGE_COLUMNS, "recalculated_at", "organization")
    list_select_related = ("organization", "subscription__plan")
    search_fields = ("=external_subscription_id",)
    list_filter = ("organization",)
    fields = (
        "id",
        "organization",
        "subscription",
        "external_subscription_id",
        *_USAGE_COLUMNS,
        "recalculated_at",
    )
    inlines = [AppliedUsageThresholdInline]
    actions = ["recalculate"]

    historical = money_column("external_historical_usage_amount_cents", _PLAN_CURRENCY, "external historical usage")
    invoiced = money_column("invoiced_usage_amount_cents", _PLAN_CURRENCY, "invoiced usage")
    current = money_column("current_usage_amount_cents", _PLAN_CURRENCY, "current period usage")
    total = money_column("total_amount_cents", _PLAN_CURRENCY, "lifetime usage")

    @admin.action(description="Recalculate now (alerts and progressive billing included)", permissions=["manage"])
    def recalculate(self, request: HttpRequest, queryset: QuerySet[LifetimeUsage]) -> None:
        for row in queryset.select_related("organization"):
            evaluation.subscription_evaluate(
                row.organization, external_subscription_id=row.external_subscription_id, force=True
            )
        self.message_user(request, f"{queryset.count()} subscription(s) recalculated.", messages.SUCCESS)


@admin.register(AppliedUsageThreshold)
class AppliedUsageThresholdAdmin(_AppliedThresholdColumns, ReadOnlyAdmin):
    list_display = ("subscription", "threshold_amount", "recurring", "created_at", "progressive_invoice", "deducted_on")
    list_select_related = ("subscription__plan", "invoice", "organization")
    search_fields = ("=subscription__external_id", "=invoice__number")
    list_filter = ("recurring", "organization")
    readonly_fields = [f.name for f in AppliedUsageThreshold._meta.fields] + ["progressive_invoice", "deducted_on"]


@admin.register(UsageActivity)
class UsageActivityAdmin(ReadOnlyAdmin):
    list_display = ("external_subscription_id", "marked_at", "processed_at", "organization")
    list_select_related = ("organization",)
    search_fields = ("=external_subscription_id",)


# --- the subscription page ----------------------------------------------------------------------


def usage_monitoring_summary(obj: Subscription) -> str:
    """Alerts (thresholds, last triggered) and progressive-billing thresholds reached, on the
    subscription page (the hook `subscriptions.hooks.usage_monitoring_summary`, filled in
    `UsageMonitoringConfig.ready()`: subscriptions cannot import us)."""
    if obj is None or obj.pk is None:
        return "-"
    rows = [
        (
            reverse("admin:usage_monitoring_alert_change", args=[a.pk]),
            a.code,
            a.alert_type,
            ", ".join(f"{decimal_string(t.value)}{' ↻' if t.recurring else ''}" for t in a.thresholds.all()),
            a.last_triggered_at.strftime("%Y-%m-%d %H:%M UTC") if a.last_triggered_at else "never",
        )
        for a in selectors.alert_list(obj.organization, obj.external_id)
    ]
    alerts = (
        format_html_join("", '<li><a href="{}">{}</a> ({}): {} — last triggered {}</li>', rows)
        if rows
        else format_html("<li>{}</li>", "no alerts")
    )
    lifetime = selectors.lifetime_usage_row(obj)
    if lifetime is None:
        return format_html("<ul>{}</ul>", alerts)
    link = reverse("admin:usage_monitoring_lifetimeusage_change", args=[lifetime.pk])
    return format_html(
        '<ul>{}</ul><a href="{}">Lifetime usage {}</a>',
        alerts,
        link,
        format_amount(lifetime.total_amount_cents, obj.plan.amount_currency),
    )
