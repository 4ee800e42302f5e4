"""Finance console: invoices (fees inline, read-only), fees and billing runs.

Money never changes here by hand: finalize, refresh, void (with a confirmation page), mark paid
and the PDF are admin actions calling the same services as the API.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import FileResponse, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from billing_project.core.console import ReadOnlyAdmin, ReadOnlyInline, console_view
from billing_project.core.errors import DomainError
from billing_project.core.money import format_amount
from invoicing.models import BillingRun, Fee, Invoice, InvoiceStatus, InvoiceSubscription, PaymentStatus
from invoicing.services import lifecycle
from invoicing.services.documents import invoice_generate_pdf


class FeeInline(ReadOnlyInline):
    model = Fee
    fields = ("fee_type", "invoice_display_name", "units", "precise_unit_amount", "amount", "taxes", "grouped_by")
    readonly_fields = fields
    ordering = ("created_at",)

    @admin.display(description="amount")
    def amount(self, obj: Fee) -> str:
        return format_amount(obj.amount_cents, obj.currency)

    @admin.display(description="taxes")
    def taxes(self, obj: Fee) -> str:
        return format_amount(obj.taxes_amount_cents, obj.currency)


class BillingPeriodInline(ReadOnlyInline):
    model = InvoiceSubscription
    fields = (
        "subscription",
        "invoicing_reason",
        "from_datetime",
        "to_datetime",
        "charges_from_datetime",
        "charges_to_datetime",
    )
    readonly_fields = fields


class OverdueFilter(admin.SimpleListFilter):
    title = "overdue"
    parameter_name = "overdue"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Overdue"), ("no", "Not overdue")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Invoice]) -> QuerySet[Invoice]:
        if self.value() == "yes":
            return queryset.filter(payment_overdue=True)
        if self.value() == "no":
            return queryset.filter(payment_overdue=False)
        return queryset


def _each(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Invoice], title: str, apply) -> None:
    done, refused = [], []
    for invoice in queryset.select_related("organization"):
        try:
            result = apply(invoice)
        except DomainError as exc:
            refused.append(f"{invoice.number or invoice.id} ({exc})")
        else:
            done.append(f"{result.number} → {result.status}/{result.payment_status}")
    if done:
        modeladmin.message_user(request, f"{title}: " + "; ".join(done), messages.SUCCESS)
    if refused:
        modeladmin.message_user(request, "Refused: " + "; ".join(refused), messages.ERROR)


@admin.register(Invoice)
class InvoiceAdmin(admin.ModelAdmin):
    list_display = (
        "number",
        "customer",
        "invoice_type",
        "status",
        "payment_status",
        "total",
        "issuing_date",
        "overdue",
        "pdf",
    )
    list_filter = ("status", "payment_status", "currency", OverdueFilter, "invoice_type")
    search_fields = ("number", "customer__external_id", "customer__name", "customer__email")
    list_select_related = ("customer", "organization")
    show_full_result_count = False
    date_hierarchy = "issuing_date"
    inlines = [BillingPeriodInline, FeeInline]
    actions = ["finalize_drafts", "refresh_drafts", "void_invoices", "mark_paid", "download_pdf"]
    readonly_fields = [
        "organization", "customer", "number", "invoice_type", "status", "payment_status", "payment_overdue",
        "currency", "issuing_date", "payment_due_date", "net_payment_term", "finalize_at", "finalized_at",
        "voided_at", "fees", "coupons", "taxes", "total", "total_due", "credits", "metadata", "file",
    ]  # fmt: skip
    fields = readonly_fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="total", ordering="total_amount_cents")
    def total(self, obj: Invoice) -> str:
        return format_amount(obj.total_amount_cents, obj.currency)

    @admin.display(description="total due")
    def total_due(self, obj: Invoice) -> str:
        return format_amount(obj.total_due_amount_cents, obj.currency)

    @admin.display(description="fees")
    def fees(self, obj: Invoice) -> str:
        return format_amount(obj.fees_amount_cents, obj.currency)

    @admin.display(description="coupons")
    def coupons(self, obj: Invoice) -> str:
        return format_amount(obj.coupons_amount_cents, obj.currency)

    @admin.display(description="taxes")
    def taxes(self, obj: Invoice) -> str:
        return format_amount(obj.taxes_amount_cents, obj.currency)

    @admin.display(description="overdue", boolean=True)
    def overdue(self, obj: Invoice) -> bool:
        return obj.payment_overdue

    @admin.display(description="PDF")
    def pdf(self, obj: Invoice) -> str:
        if obj.status not in (InvoiceStatus.FINALIZED, InvoiceStatus.VOIDED):
            return "-"
        return format_html('<a href="{}">PDF</a>', reverse("admin:invoicing_invoice_pdf", args=[obj.pk]))

    def get_urls(self) -> list[Any]:
        from django.urls import path

        return [
            path(
                "<uuid:invoice_id>/pdf/",
                console_view(self.admin_site, self.pdf_view, permission="invoicing.view_invoice"),
                name="invoicing_invoice_pdf",
            ),
            *super().get_urls(),
        ]

    def pdf_view(self, request: HttpRequest, invoice_id: Any) -> HttpResponse:
        invoice = Invoice.objects.filter(id=invoice_id).first()
        if invoice is None or invoice.status not in (InvoiceStatus.FINALIZED, InvoiceStatus.VOIDED):
            return HttpResponse("No PDF for this invoice.", status=404)
        invoice = invoice_generate_pdf(invoice.id) or invoice
        return FileResponse(invoice.file.open("rb"), content_type="application/pdf", filename=f"{invoice.number}.pdf")

    @admin.action(description="Finalize selected drafts", permissions=["change"])
    def finalize_drafts(self, request: HttpRequest, queryset: QuerySet[Invoice]) -> None:
        _each(
            self, request, queryset, "Finalized", lambda i: lifecycle.invoice_finalize(i.organization, invoice_id=i.id)
        )

    @admin.action(description="Refresh selected drafts (late usage)", permissions=["change"])
    def refresh_drafts(self, request: HttpRequest, queryset: QuerySet[Invoice]) -> None:
        _each(
            self, request, queryset, "Refreshed", lambda i: lifecycle.invoice_refresh(i.organization, invoice_id=i.id)
        )

    @admin.action(description="Mark selected invoices as paid (manual payment)", permissions=["change"])
    def mark_paid(self, request: HttpRequest, queryset: QuerySet[Invoice]) -> None:
        _each(
            self, request, queryset, "Marked paid",
            lambda i: lifecycle.invoice_update(i.organization, invoice_id=i.id, payment_status=PaymentStatus.SUCCEEDED),
        )  # fmt: skip

    @admin.action(description="Download the PDF of the selected invoice", permissions=["view"])
    def download_pdf(self, request: HttpRequest, queryset: QuerySet[Invoice]) -> HttpResponse | None:
        invoice = queryset.first()
        if invoice is None or queryset.count() != 1:
            self.message_user(request, "Select exactly one invoice.", messages.WARNING)
            return None
        return self.pdf_view(request, invoice.id)

    @admin.action(description="Void selected invoices…", permissions=["change"])
    def void_invoices(self, request: HttpRequest, queryset: QuerySet[Invoice]) -> HttpResponse | None:
        if request.POST.get("confirm") != "yes":
            context = {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": "Void invoices",
                "explanation": (
                    "Voiding is final: nothing will be due on these invoices, their coupons are given back, "
                    "and they keep their numbers. Only finalized invoices can be voided."
                ),
                "rows": [{"invoice": i, "total": format_amount(i.total_amount_cents, i.currency)} for i in queryset],
                "queryset": queryset,
                "action": "void_invoices",
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(request, "admin/invoicing/confirm_action.html", context)
        _each(self, request, queryset, "Voided", lambda i: lifecycle.invoice_void(i.organization, invoice_id=i.id))
        return None


@admin.register(Fee)
class FeeAdmin(ReadOnlyAdmin):
    list_display = ("id", "fee_type", "invoice_display_name", "customer", "amount", "payment_status", "created_at")
    list_filter = ("fee_type", "payment_status", "currency")
    search_fields = ("invoice__number", "customer__external_id", "subscription__external_id", "invoice_display_name")
    list_select_related = ("customer", "invoice")
    show_full_result_count = False

    @admin.display(description="amount", ordering="amount_cents")
    def amount(self, obj: Fee) -> str:
        return format_amount(obj.amount_cents, obj.currency)


@admin.register(BillingRun)
class BillingRunAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at", "at", "trigger", "status", "customers_due", "subscriptions_due", "invoices_created",
        "customers_failed", "customers_missing", "duration",
    )  # fmt: skip
    list_filter = ("status", "trigger", "dry_run")
    list_select_related = ("organization",)
    readonly_fields = (
        "organization", "trigger", "at", "dry_run", "status", "customers_due", "subscriptions_due",
        "invoices_created", "customers_failed", "failures", "batches_total", "batches_reported",
        "customers_missing", "missing", "retries", "oldest_due_at", "created_at", "finished_at",
    )  # fmt: skip

    @admin.display(description="duration")
    def duration(self, obj: BillingRun) -> str:
        end = obj.finished_at or timezone.now()
        return f"{(end - obj.created_at).total_seconds():.1f}s"


from invoicing import credit_admin  # noqa: E402  (wallets, wallet transactions, credit notes)

credit_admin.register_invoice_action(InvoiceAdmin)
