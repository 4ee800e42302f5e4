"""Finance console: the analytics dashboard (all four staff roles) and CSV exports."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from billing_project.core.console import ReadOnlyAdmin, console_view
from billing_project.core.money import UnknownCurrency, format_amount, from_cents, is_currency
from customers.models import Organization
from reporting import selectors, services
from reporting.charts import bar_chart
from reporting.models import AnalyticsDashboard, Export, ExportStatus


class ExportForm(forms.ModelForm):
    class Meta:
        model = Export
        fields = ["organization", "resource_type", "from_date", "to_date"]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        assert data is not None  # Form.clean returns cleaned_data; the stubs allow None
        if data.get("from_date") and data.get("to_date") and data["from_date"] > data["to_date"]:
            raise forms.ValidationError("The range ends before it starts.")
        return data


@admin.register(Export)
class ExportAdmin(admin.ModelAdmin):
    form = ExportForm
    list_display = (
        "created_at",
        "organization",
        "resource_type",
        "from_date",
        "to_date",
        "status",
        "row_count",
        "requested_by",
        "download",
    )
    list_filter = ("status", "resource_type")
    search_fields = ("organization__name", "requested_by")
    list_select_related = ("organization",)
    date_hierarchy = "created_at"
    show_full_result_count = False
    actions = ["retry"]
    readonly_fields = (
        "status",
        "row_count",
        "requested_by",
        "error",
        "download",
        "started_at",
        "completed_at",
        "created_at",
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Export | None = None) -> tuple[str, ...]:
        if obj is not None:  # an export is a record: nothing changes after the request
            return ("organization", "resource_type", "from_date", "to_date", *self.readonly_fields)
        return ()

    def get_fields(self, request: HttpRequest, obj: Export | None = None) -> list[str]:
        if obj is None:
            return ["organization", "resource_type", "from_date", "to_date"]
        return ["organization", "resource_type", "from_date", "to_date", *self.readonly_fields]

    def has_change_permission(self, request: HttpRequest, obj: Export | None = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Export, form: forms.ModelForm, change: bool) -> None:
        created = services.export_request(
            obj.organization,
            resource_type=obj.resource_type,
            from_date=obj.from_date,
            to_date=obj.to_date,
        )
        obj.pk, obj._state.adding = created.pk, False
        messages.info(request, "The export is being produced; refresh this list for its download link.")

    @admin.display(description="file")
    def download(self, obj: Export) -> str:
        if obj.status != ExportStatus.COMPLETED or not obj.file:
            return "-"
        return format_html('<a href="{}">download CSV</a>', reverse("admin:reporting_export_download", args=[obj.pk]))

    def get_urls(self) -> list:
        extra = [
            path(
                "<uuid:export_id>/download/",
                console_view(self.admin_site, self.download_view, permission="reporting.view_export"),
                name="reporting_export_download",
            )
        ]
        return extra + super().get_urls()

    def download_view(self, request: HttpRequest, export_id: Any) -> FileResponse:
        export = get_object_or_404(Export, pk=export_id)
        if export.status != ExportStatus.COMPLETED or not export.file:
            raise PermissionDenied
        filename = f"{export.resource_type}_{export.from_date:%Y%m%d}_{export.to_date:%Y%m%d}.csv"
        return FileResponse(export.file.open("rb"), as_attachment=True, filename=filename, content_type="text/csv")

    @admin.action(description="Produce the selected failed or pending exports again", permissions=["add"])
    def retry(self, request: HttpRequest, queryset: QuerySet[Export]) -> None:
        from reporting.tasks import export_run

        ids = [
            str(pk)
            for pk in queryset.filter(status__in=[ExportStatus.FAILED, ExportStatus.PENDING]).values_list(
                "pk", flat=True
            )
        ]
        for export_id in ids:
            export_run.delay(export_id)
        self.message_user(request, f"{len(ids)} export(s) queued again.")


def _major(cents: int | None, currency: str) -> float:
    """Chart heights only (never stored or summed): the amount in major units."""
    if not cents:
        return 0
    try:
        return float(from_cents(int(cents), currency))
    except UnknownCurrency:
        return float(cents)


@admin.register(AnalyticsDashboard)
class AnalyticsDashboardAdmin(ReadOnlyAdmin):
    """The analytics dashboard: gross revenue, MRR, invoiced usage, overdue balances, churn and
    net revenue retention for one organization and currency, as SVG bar charts and tables."""

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        organizations = list(Organization.objects.order_by("name").only("id", "name", "default_currency"))
        organization = None
        wanted = request.GET.get("organization")
        for candidate in organizations:
            if str(candidate.id) == wanted:
                organization = candidate
        if organization is None and organizations:
            organization = organizations[0]
        months = request.GET.get("months", "12")
        months_count = int(months) if months.isdigit() and 1 <= int(months) <= selectors.MAX_MONTHS else 12
        currency = (request.GET.get("currency") or "").upper()
        if not is_currency(currency):
            currency = organization.default_currency if organization else "USD"
        context = {
            **self.admin_site.each_context(request),
            "title": "Analytics dashboard",
            "opts": self.model._meta,
            "organizations": organizations,
            "organization": organization,
            "currency": currency,
            "months": months_count,
            "sections": self._sections(organization, currency, months_count) if organization else [],
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/reporting/dashboard.html", context)

    def _sections(self, organization: Any, currency: str, months: int) -> list[dict[str, Any]]:
        def money(value: float | int) -> str:
            return f"{Decimal(str(value)):,.2f} {currency}" if value else f"0 {currency}"

        def month_label(row: dict[str, Any]) -> str:
            return row["month"][:7]

        sections = []
        gross = selectors.gross_revenue_series(organization, months=months, currency=currency)
        mrr = selectors.mrr(organization, months=months, currency=currency)
        overdue_rows = {
            r["month"]: r for r in selectors.overdue_balances(organization, months=months, currency=currency)
        }
        usage: dict[str, int] = {}
        for row in selectors.invoiced_usage(organization, months=months, currency=currency):
            usage[row["month"]] = usage.get(row["month"], 0) + row["amount_cents"]
        labels = [month_label(row) for row in gross]
        keys = [row["month"] for row in gross]
        for title, cents in (
            ("Gross revenue", [row["amount_cents"] or 0 for row in gross]),
            ("MRR (end of month)", [row["amount_cents"] or 0 for row in mrr]),
            ("Invoiced usage", [usage.get(key, 0) for key in keys]),
            ("Overdue balances (by due month)", [overdue_rows.get(key, {}).get("amount_cents", 0) for key in keys]),
        ):
            sections.append(
                {
                    "title": title,
                    "chart": bar_chart(labels, [_major(c, currency) for c in cents], fmt=money),
                    "rows": [(label, format_amount(c, currency)) for label, c in zip(labels, cents, strict=True)],
                }
            )
        churn = {r["month"]: r for r in selectors.churn(organization, months=months, currency=currency)}
        nrr = {r["month"]: r for r in selectors.net_revenue_retention(organization, months=months, currency=currency)}
        for title, source, field in (
            ("Customer churn rate", churn, "churn_rate"),
            ("Net revenue retention", nrr, "net_revenue_retention"),
        ):
            ratios = [source.get(key, {}).get(field) for key in keys]
            sections.append(
                {
                    "title": title,
                    "chart": bar_chart(
                        labels, [float(Decimal(r) * 100) if r else 0 for r in ratios], fmt=lambda v: f"{v:.1f}%"
                    ),
                    "rows": [
                        (label, f"{Decimal(r) * 100:.2f}%" if r is not None else "-")
                        for label, r in zip(labels, ratios, strict=True)
                    ],
                }
            )
        return sections
