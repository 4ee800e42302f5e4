"""Finance console: events, event errors, usage rollups and ClickHouse backfills, read-only here."""

from __future__ import annotations

from django.contrib import admin

from billing_project.core.console import ReadOnlyAdmin, ReadOnlyInline, decimal_column
from metering.models import ClickHouseBackfill, Event, EventError, UsageRollup


class EventErrorInline(ReadOnlyInline):
    """What keeps the event from being billed as it is (ingestion problems, failed in-advance fees)."""

    model = EventError
    fields = ("error_code", "message", "created_at")
    show_change_link = True


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    inlines = [EventErrorInline]
    list_display = ("transaction_id", "code", "external_subscription_id", "timestamp", "value", "organization")
    list_select_related = ("organization",)
    search_fields = ("=transaction_id", "=external_subscription_id", "=code", "=external_customer_id")
    list_filter = ("organization",)
    date_hierarchy = None
    ordering = ("-timestamp",)


@admin.register(EventError)
class EventErrorAdmin(ReadOnlyAdmin):
    list_display = (
        "transaction_id",
        "error_code",
        "code",
        "external_subscription_id",
        "message",
        "created_at",
        "organization",
    )
    list_select_related = ("organization",)
    list_filter = ("error_code", "organization")
    search_fields = ("=transaction_id", "=external_subscription_id", "=code")


@admin.register(UsageRollup)
class UsageRollupAdmin(ReadOnlyAdmin):
    list_display = (
        "external_subscription_id",
        "code",
        "hour",
        "dimensions_key",
        "events_count",
        "sum_of_values",
        "max_of_values",
        "organization",
    )
    list_select_related = ("organization",)
    list_filter = ("organization",)
    search_fields = ("=external_subscription_id", "=code")
    ordering = ("-hour",)

    sum_of_values = decimal_column("value_sum", "sum of values", ordering="value_sum")
    max_of_values = decimal_column("value_max", "max of values", ordering="value_max")


@admin.register(ClickHouseBackfill)
class ClickHouseBackfillAdmin(ReadOnlyAdmin):
    """Where each organization's copy to ClickHouse stands (`manage.py clickhouse_backfill`;
    docs/metering.md, "Switching ClickHouse on"). Reads use ClickHouse only when complete."""

    list_display = (
        "organization",
        "target",
        "status",
        "events_copied",
        "verified_events",
        "verified_at",
        "from_timestamp",
        "last_error",
    )
    list_select_related = ("organization",)
    list_filter = ("status", "target")
    search_fields = ("organization__name", "=target")
    ordering = ("status", "-updated_at")
