"""The audit log in the finance console: read-only, searchable, filtered, no full counts."""

from __future__ import annotations

import contextlib
import json
import uuid
from typing import Any

from django.contrib import admin
from django.utils.html import format_html, format_html_join

from audit.models import AuditLogEntry
from billing_project.core.console import ReadOnlyAdmin


@admin.register(AuditLogEntry)
class AuditLogEntryAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "action",
        "content_type",
        "object_id",
        "object_repr",
        "actor_type",
        "actor_label",
        "organization",
        "ip_address",
    )
    list_filter = ("action", "actor_type", ("content_type", admin.RelatedOnlyFieldListFilter))
    search_fields = ("=object_id", "actor_label", "=actor_id", "organization__name", "=request_id", "object_repr")
    date_hierarchy = "created_at"
    list_select_related = ("content_type", "organization")
    readonly_fields = (
        "created_at",
        "organization",
        "actor_type",
        "actor_id",
        "actor_label",
        "content_type",
        "object_id",
        "object_repr",
        "action",
        "changes_table",
        "ip_address",
        "request_id",
    )
    exclude = ("changes",)

    def get_search_results(self, request: Any, queryset: Any, search_term: str) -> Any:
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        term = search_term.strip()
        if term:
            # An organization id pasted as is.
            with contextlib.suppress(ValueError):
                queryset |= self.model.objects.filter(organization_id=uuid.UUID(term))
        return queryset, may_have_duplicates

    @admin.display(description="changes (before → after)")
    def changes_table(self, obj: AuditLogEntry) -> str:
        rows = []
        for field, values in sorted((obj.changes or {}).items()):
            before, after = [*values, None, None][:2] if isinstance(values, list) else (None, values)
            rows.append((field, json.dumps(before), json.dumps(after)))
        if not rows:
            return "—"
        body = format_html_join("", "<tr><th>{}</th><td><code>{}</code></td><td><code>{}</code></td></tr>", rows)
        return format_html(
            "<table><thead><tr><th>field</th><th>before</th><th>after</th></tr></thead><tbody>{}</tbody></table>",
            body,
        )
