"""Finance console: invoices (fees inline, read-only), fees and billing runs.

Money never changes here by hand: finalize, refresh, void (with a confirmation page), mark paid
and the PDF are admin actions calling the same services as the API.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from billing_project.core.admin_pages import PdfAdminMixin, money_column
from billing_project.core.console import (
    ActionsOnlyAdmin,
    ConditionFilter,
    ReadOnlyAdmin,
    ReadOnlyInline,
    TotalsChangeListMixin,
    currency_totals,
    decimal_column,
    decimal_display,
)
from billing_project.core.each_row import apply_each
from billing_project.core.money import format_amount
from customers.entities import sections_by_ids
from customers.payment_choice import payment_method_description
from invoicing import selectors
from invoicing.credits import admin as credit_admin  # wallets, wallet transactions, credit notes
from invoicing.models import BillingRun, Fee, Invoice, InvoiceStatus, InvoiceSubscription, InvoiceType, PaymentStatus
from invoicing.services import lifecycle
from invoicing.services.documents import invoice_generate_pdf


class FeeInline(ReadOnlyInline):
    model = Fee
    fields = ("fee_type", "invoice_display_name", "quantity", "unit_price", "amount", "taxes", "grouped_by")

    quantity = decimal_column("units", "units")

    @admin.display(description="unit price")
    def unit_price(self, obj: Fee) -> str:
        return f"{decimal_display(obj.precise_unit_amount)} {obj.currency}"

    ordering = ("created_at",)

    amount = money_column("amount_cents", "amount")
    taxes = money_column("taxes_amount_cents", "taxes")


class BillingPeriodInline(ReadOnlyInline):
    model = InvoiceSubscription
    fields = (
        "subscription", "invoicing_reason", "from_datetime", "to_datetime", "charges_from_datetime",
        "charges_to_datetime",
    )  # fmt: skip


class OverdueFilter(ConditionFilter):
    title = "overdue"
    parameter_name = "overdue"
    conditions = {"yes": ("Overdue", Q(payment_overdue=True)), "no": ("Not overdue", Q(payment_overdue=False))}


class DueFilter(admin.SimpleListFilter):
    """Amount due (total less paid and offset by credit notes) of finalized invoices; overdue
    counts from the payment due date, in the organization's timezone."""

    title = "amount due"
    parameter_name = "due"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("open", "Something due"), ("overdue", "Due and past due date"), ("settled", "Nothing due")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Invoice]) -> QuerySet[Invoice]:
        value = self.value()
        if value not in {"open", "overdue", "settled"}:
            return queryset
        open_ids = selectors.open_invoices().values("id")
        if value == "settled":
            return queryset.exclude(id__in=open_ids)
        queryset = queryset.filter(id__in=open_ids)
        if value == "overdue":
            queryset = queryset.filter(payment_due_date__lt=timezone.now().date())
        return queryset


def _each(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Invoice], title: str, apply) -> None:
    apply_each(
        modeladmin,
        request,
        queryset.select_related("organization"),
        apply,
        title=title,
        label=display_number,
        outcome=lambda name, result: (
            f"{name} → {display_number(result)}: {result.status}, payment {result.payment_status}"
        ),
    )


def display_number(invoice: Invoice) -> str:
    """A draft has no number yet (it gets one when finalized): it shows as a draft, not as the
    placeholder the API carries for Lago's clients."""
    if invoice.status == InvoiceStatus.DRAFT:
        return f"Draft {str(invoice.pk)[:8]}"
    return invoice.number or str(invoice.pk)[:8]


def status_badge(invoice: Invoice) -> str:
    kind = {"draft": "muted", "finalized": "info", "voided": "muted", "failed": "bad", "pending": "warn"}
    return format_html('<span class="badge badge-{}">{}</span>', kind.get(invoice.status, "muted"), invoice.status)


def payment_badge(invoice: Invoice, today: Any = None) -> str:
    """What the customer's payment stands at, in words that mean what they say."""
    if invoice.status == InvoiceStatus.VOIDED:
        return format_html('<span class="badge badge-muted">{}</span>', "nothing due (voided)")
    if invoice.status == InvoiceStatus.DELETED:
        return format_html('<span class="badge badge-muted">{}</span>', "nothing due (deleted draft)")
    if invoice.status == InvoiceStatus.DRAFT:
        return format_html('<span class="badge badge-muted">{}</span>', "not issued")
    if invoice.payment_status == PaymentStatus.SUCCEEDED:
        return format_html('<span class="badge badge-ok">{}</span>', "paid")
    today = today or timezone.now().date()
    if invoice.payment_overdue or invoice.payment_due_date < today:
        days = (today - invoice.payment_due_date).days
        return format_html('<span class="badge badge-bad">overdue {} d</span>', max(days, 0))
    if invoice.payment_status == PaymentStatus.FAILED:
        return format_html('<span class="badge badge-bad">{}</span>', "payment failed")
    return format_html('<span class="badge badge-warn">due {}</span>', invoice.payment_due_date.isoformat())


SAVED_FILTERS = (
    ("Something due", "due=open"),
    ("Overdue", "due=overdue"),
    ("Failed payments", "status__exact=finalized&payment_status__exact=failed"),
    ("Drafts", "status__exact=draft"),
    ("Voided", "status__exact=voided"),
)


@admin.register(Invoice)
class InvoiceAdmin(PdfAdminMixin, TotalsChangeListMixin, ActionsOnlyAdmin):
    pdf_kwarg = "invoice_id"
    list_display = (
        "number_display",
        "customer",
        "status_display",
        "payment_display",
        "total",
        "amount_due",
        "issuing_date",
        "payment_due_date",
    )
    list_display_links = ("number_display",)
    list_filter = (
        "status", "payment_status", DueFilter, "currency", OverdueFilter, "invoice_type", "organization",
    )  # fmt: skip
    search_fields = ("number", "customer__external_id", "customer__name", "customer__email")
    list_select_related = ("customer", "organization")
    show_full_result_count = False
    date_hierarchy = "issuing_date"
    saved_filters = SAVED_FILTERS
    list_title = "Invoices"
    inlines = [BillingPeriodInline, FeeInline]
    actions = ["finalize_drafts", "refresh_drafts", "void_invoices", "download_pdf"]
    readonly_fields = [
        "organization", "customer", "number_display", "invoice_type", "status", "payment_status", "payment_overdue",
        "currency", "issuing_date", "payment_due_date", "net_payment_term", "finalize_at", "finalized_at",
        "voided_at", "fees", "coupons", "taxes", "total", "total_due", "credits", "metadata", "payment_method_chosen",
        "billing_entity", "purchase_order_number", "sections_printed",
    ]  # fmt: skip
    fields = readonly_fields

    def totals(self, queryset: QuerySet[Invoice]) -> list[tuple[str, list[str]]]:
        due = selectors.open_invoices().filter(id__in=queryset.values("id"))
        return [
            ("Totals of this list, per currency", currency_totals(queryset, amount="total_amount_cents")),
            ("Amount due", currency_totals(due, amount="amount_due")),
        ]

    def response_action(self, request: HttpRequest, queryset: QuerySet[Invoice]) -> HttpResponse | None:
        """A button on an invoice's page runs the list's action; back to that page after it."""
        response = super().response_action(request, queryset)
        back = request.POST.get("_return_to")
        selected = request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)
        if back == "invoice" and len(selected) == 1 and response is not None and response.status_code == 302:
            return HttpResponseRedirect(reverse("admin:invoicing_invoice_change", args=[selected[0]]))
        return response

    @admin.display(description="invoice custom sections")
    def sections_printed(self, obj: Invoice) -> str:
        """What the invoice printed (finalized), else what was chosen for it."""
        if obj.applied_invoice_custom_sections:
            return ", ".join(f"{s['display_name']} ({s['code']})" for s in obj.applied_invoice_custom_sections)
        if obj.status != InvoiceStatus.DRAFT:
            return "none"
        if not obj.with_customer_sections and not obj.invoice_custom_section_ids:
            return "none (skipped)"
        chosen = ", ".join(s.name for s in sections_by_ids(obj.organization_id, obj.invoice_custom_section_ids))
        customer = "the customer's" if obj.with_customer_sections else ""
        return " + ".join(part for part in (chosen, customer) if part)

    @admin.display(description="payment method")
    def payment_method_chosen(self, obj: Invoice) -> str:
        """A one-off invoice's own choice; the others are collected as their subscription or wallet
        top-up chose (docs/payments.md §12)."""
        if obj.invoice_type == InvoiceType.ONE_OFF:
            return payment_method_description(obj, obj.organization_id)
        if obj.invoice_type == InvoiceType.CREDIT:
            return "as its wallet top-up (or wallet) chose"
        if obj.invoice_type == InvoiceType.ADD_ON:
            return "the customer's default method"
        return "as its subscription chose"

    @admin.display(description="number", ordering="number")
    def number_display(self, obj: Invoice) -> str:
        return display_number(obj)

    @admin.display(description="status", ordering="status")
    def status_display(self, obj: Invoice) -> str:
        return status_badge(obj)

    @admin.display(description="payment", ordering="payment_status")
    def payment_display(self, obj: Invoice) -> str:
        return payment_badge(obj)

    total = money_column("total_amount_cents", "total", ordering="total_amount_cents")

    @admin.display(description="amount due")
    def amount_due(self, obj: Invoice) -> str:
        due = selectors.invoice_amount_due(obj)
        return format_amount(due, obj.currency) if due else "-"

    total_due = money_column("total_due_amount_cents", "total due")
    fees = money_column("fees_amount_cents", "fees")
    coupons = money_column("coupons_amount_cents", "coupons")
    taxes = money_column("taxes_amount_cents", "taxes")

    def pdf_document(self, request: HttpRequest, pk: Any) -> Invoice | HttpResponse:
        invoice = Invoice.objects.filter(id=pk).first()
        if invoice is None or invoice.status not in (InvoiceStatus.FINALIZED, InvoiceStatus.VOIDED):
            return HttpResponse("No PDF for this invoice.", status=404)
        return invoice_generate_pdf(invoice.id) or invoice

    @admin.action(description="Finalize selected drafts…", permissions=["change"])
    def finalize_drafts(self, request: HttpRequest, queryset: QuerySet[Invoice]) -> HttpResponse | None:
        if request.POST.get("confirm") != "yes":
            today = timezone.now().date()
            rows = [
                {
                    "invoice": i,
                    "label": display_number(i),
                    "total": format_amount(i.total_amount_cents, i.currency),
                    "effect": (
                        f"issuing date {i.issuing_date} → today ({today}, in the customer's timezone), "
                        f"payment due {today + timedelta(days=i.net_payment_term)}, the next number of the sequence, "
                        "usage refreshed, coupons, credits and taxes applied, invoice sent"
                        if i.status == InvoiceStatus.DRAFT
                        else "refused (not a draft)"
                    ),
                }
                for i in queryset.select_related("customer")
            ]
            return self._confirm(
                request,
                queryset,
                action="finalize_drafts",
                title="Finalize invoices",
                button="Finalize",
                explanation=(
                    "Finalizing is final: the invoice gets its number, today's issuing date and its due date, "
                    "and can then only be voided or credited."
                ),
                rows=rows,
            )
        _each(
            self, request, queryset, "Finalized", lambda i: lifecycle.invoice_finalize(i.organization, invoice_id=i.id)
        )
        return None

    @admin.action(description="Refresh selected drafts (late usage)", permissions=["change"])
    def refresh_drafts(self, request: HttpRequest, queryset: QuerySet[Invoice]) -> None:
        _each(
            self, request, queryset, "Refreshed", lambda i: lifecycle.invoice_refresh(i.organization, invoice_id=i.id)
        )

    @admin.action(description="Download the PDF of the selected invoice", permissions=["view"])
    def download_pdf(self, request: HttpRequest, queryset: QuerySet[Invoice]) -> HttpResponse | None:
        invoice = queryset.first()
        if invoice is None or queryset.count() != 1:
            self.message_user(request, "Select exactly one invoice.", messages.WARNING)
            return None
        return self.pdf_view(request, invoice_id=invoice.id)

    def _confirm(
        self, request: HttpRequest, queryset: QuerySet[Invoice], *, action: str, title: str, button: str,
        explanation: str, rows: list[dict[str, Any]],
    ) -> HttpResponse:  # fmt: skip
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": title,
            "button": button,
            "explanation": explanation,
            "rows": rows,
            "queryset": queryset,
            "action": action,
            "return_to": request.POST.get("_return_to", ""),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/invoicing/confirm_action.html", context)

    @admin.action(description="Void selected invoices…", permissions=["change"])
    def void_invoices(self, request: HttpRequest, queryset: QuerySet[Invoice]) -> HttpResponse | None:
        if request.POST.get("confirm") != "yes":
            rows = [
                {
                    "invoice": i,
                    "label": display_number(i),
                    "total": format_amount(i.total_amount_cents, i.currency),
                    "effect": "void" if i.status == InvoiceStatus.FINALIZED else "refused (only finalized invoices)",
                }
                for i in queryset
            ]
            return self._confirm(
                request,
                queryset,
                action="void_invoices",
                title="Void invoices",
                button="Void invoices",
                explanation=(
                    "Voiding is final: nothing will be due on these invoices, their coupons are given back, "
                    "and they keep their numbers. Only finalized invoices can be voided."
                ),
                rows=rows,
            )
        _each(self, request, queryset, "Voided", lambda i: lifecycle.invoice_void(i.organization, invoice_id=i.id))
        return None


@admin.register(Fee)
class FeeAdmin(ReadOnlyAdmin):
    list_display = ("id", "fee_type", "invoice_display_name", "customer", "amount", "payment_status", "created_at")
    list_filter = ("fee_type", "payment_status", "currency")
    search_fields = ("invoice__number", "customer__external_id", "subscription__external_id", "invoice_display_name")
    list_select_related = ("customer", "invoice")
    show_full_result_count = False

    amount = money_column("amount_cents", "amount", ordering="amount_cents")


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


credit_admin.register_invoice_action(InvoiceAdmin)
