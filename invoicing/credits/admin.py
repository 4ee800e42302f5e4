"""Finance console for credits: wallets with their read-only ledger, credit notes with their items,
and a "create credit note" action on invoices that
shows the estimate before confirming. Every change is an admin action calling a service.

Imported at the bottom of `invoicing/admin.py`. Applied coupons with their remaining amounts and
periods are in the catalog admin (`catalog.admin.AppliedCouponAdmin`).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from billing_project.core.admin_pages import PdfAdminMixin, money_column
from billing_project.core.console import (
    ActionsOnlyAdmin,
    ReadOnlyAdmin,
    ReadOnlyInline,
    cents_from_major,
    decimal_column,
    major_units,
)
from billing_project.core.each_row import apply_each
from billing_project.core.errors import DomainError, ValidationFailure
from billing_project.core.money import exponent, format_amount
from customers.admin_columns import ChoiceColumns
from invoicing.credits.inputs import (
    CreditNoteCreate,
    CreditNoteEstimate,
    CreditNoteItemFields,
    CreditNoteUpdate,
    WalletTransactionCreate,
)
from invoicing.credits.models import (
    CreditNote,
    CreditNoteAppliedTax,
    CreditNoteItem,
    CreditNoteReason,
    RecurringTransactionRule,
    RefundStatus,
    Wallet,
    WalletTransaction,
)
from invoicing.credits.services import credit_notes as credit_note_services
from invoicing.credits.services import wallets as wallet_services
from invoicing.credits.services.documents import credit_note_generate_pdf as credit_note_services_pdf
from invoicing.models import Invoice


class WalletTransactionInline(ReadOnlyInline):
    model = WalletTransaction
    fields = ("created_at", "transaction_type", "transaction_status", "status", "source", "credits", "amount")

    credits = decimal_column("credit_amount", "credits")

    ordering = ("-created_at",)
    show_change_link = True

    amount = money_column("amount_cents", "amount", currency="wallet.currency")


class RecurringRuleInline(ChoiceColumns, ReadOnlyInline):
    model = RecurringTransactionRule
    fields = (
        "trigger", "interval", "method", "paid_credits", "granted_credits", "threshold_credits", "status",
        "payment_method_chosen",
    )  # fmt: skip


class CreditsForm(forms.Form):
    credits = forms.DecimalField(min_value=Decimal("0.00001"), decimal_places=5, max_digits=30)


def _wallet_action(modeladmin: Any, request: HttpRequest, queryset: QuerySet[Wallet], *, key: str, title: str):
    """An intermediate page asking for the credits, then one service call per wallet."""
    form = CreditsForm(request.POST if request.POST.get("confirm") == "yes" else None)
    if request.POST.get("confirm") == "yes" and form.is_valid():
        credits = form.cleaned_data["credits"]

        def transact(wallet: Wallet) -> object:
            fields = WalletTransactionCreate.from_body({"wallet_id": str(wallet.id), key: credits})
            return wallet_services.wallet_transaction_create(wallet.organization, fields)

        apply_each(
            modeladmin,
            request,
            queryset.select_related("organization"),
            transact,
            title=f"{title} ({credits} credits)",
            label=str,
            outcome=lambda name, _: name,
        )
        return None
    context = {
        **modeladmin.admin_site.each_context(request),
        "opts": modeladmin.model._meta,
        "title": title,
        "form": form,
        "queryset": queryset,
        "action": request.POST.get("action"),
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "admin/invoicing/wallet_credits.html", context)


@admin.register(Wallet)
class WalletAdmin(ChoiceColumns, ActionsOnlyAdmin):
    list_display = ("__str__", "customer", "status", "currency", "credits", "balance", "priority", "created_at")
    list_filter = ("status", "currency", "priority")
    search_fields = ("name", "code", "customer__external_id", "customer__email", "customer__name")
    list_select_related = ("customer",)
    show_full_result_count = False
    inlines = [RecurringRuleInline, WalletTransactionInline]
    actions = ["top_up", "grant", "void_credits", "terminate"]
    readonly_fields = [
        "organization", "customer", "name", "code", "status", "currency", "rate_amount", "priority", "balance",
        "credits_balance", "consumed_credits", "ongoing_balance", "credits_ongoing_balance", "expiration_at",
        "terminated_at", "applies_to_fee_types", "applies_to_billable_metric_codes",
        "paid_top_up_min_amount_cents", "paid_top_up_max_amount_cents", "metadata", "payment_method_chosen",
        "billing_entity", "purchase_order_number", "invoice_sections_chosen",
    ]  # fmt: skip
    fields = readonly_fields

    balance = money_column("balance_cents", "balance")

    credits = decimal_column("credits_balance", "credits", ordering="credits_balance")

    ongoing_balance = money_column("ongoing_balance_cents", "ongoing balance")

    @admin.action(description="Top up (paid credits, billed on a credit invoice)…", permissions=["change"])
    def top_up(self, request: HttpRequest, queryset: QuerySet[Wallet]) -> HttpResponse | None:
        return _wallet_action(self, request, queryset, key="paid_credits", title="Top up")

    @admin.action(description="Grant free credits…", permissions=["change"])
    def grant(self, request: HttpRequest, queryset: QuerySet[Wallet]) -> HttpResponse | None:
        return _wallet_action(self, request, queryset, key="granted_credits", title="Grant")

    @admin.action(description="Void credits…", permissions=["change"])
    def void_credits(self, request: HttpRequest, queryset: QuerySet[Wallet]) -> HttpResponse | None:
        return _wallet_action(self, request, queryset, key="voided_credits", title="Void credits")

    @admin.action(description="Terminate selected wallets (remaining credits voided)", permissions=["change"])
    def terminate(self, request: HttpRequest, queryset: QuerySet[Wallet]) -> None:
        names = []
        for wallet in queryset.select_related("organization"):
            wallet_services.wallet_terminate(wallet.organization, wallet_id=wallet.id)
            names.append(str(wallet))
        self.message_user(request, "Terminated: " + ", ".join(names))


@admin.register(WalletTransaction)
class WalletTransactionAdmin(ChoiceColumns, ReadOnlyAdmin):
    list_display = (
        "created_at",
        "wallet",
        "transaction_type",
        "transaction_status",
        "status",
        "credits",
        "amount",
    )
    list_filter = ("transaction_type", "transaction_status", "status", "source")
    search_fields = ("wallet__name", "wallet__code", "wallet__customer__external_id", "invoice__number")
    list_select_related = ("wallet",)
    readonly_fields = ("payment_method_chosen",)

    credits = decimal_column("credit_amount", "credits", ordering="credit_amount")

    amount = money_column("amount_cents", "amount", currency="wallet.currency")


class CreditNoteItemInline(ReadOnlyInline):
    model = CreditNoteItem
    fields = ("fee", "amount_cents", "precise_amount_cents", "amount_currency")


class CreditNoteTaxInline(ReadOnlyInline):
    model = CreditNoteAppliedTax
    fields = ("tax_code", "tax_rate", "base_amount_cents", "amount_cents")


@admin.register(CreditNote)
class CreditNoteAdmin(PdfAdminMixin, ActionsOnlyAdmin):
    pdf_kwarg = "credit_note_id"
    list_display = ("number", "customer", "credit_status", "refund_status", "reason", "total", "balance", "created_at")
    list_filter = ("credit_status", "refund_status", "reason", "currency", "automatic")
    search_fields = ("number", "invoice__number", "customer__external_id", "customer__email")
    list_select_related = ("customer", "invoice")
    show_full_result_count = False
    inlines = [CreditNoteItemInline, CreditNoteTaxInline]
    actions = ["void_notes", "refund_succeeded", "refund_failed"]
    readonly_fields = [
        "organization", "customer", "invoice", "number", "issuing_date", "credit_status", "refund_status", "reason",
        "description", "currency", "total", "credit", "balance", "refund", "offset", "taxes",
        "coupons_adjustment_amount_cents", "automatic", "voided_at", "refunded_at", "metadata", "pdf",
    ]  # fmt: skip
    fields = readonly_fields

    def _money(self, obj: CreditNote, cents: int) -> str:
        return format_amount(cents, obj.currency)

    @admin.display(description="PDF")
    def pdf(self, obj: CreditNote) -> str:
        if obj.pk is None:
            return "-"
        return format_html(
            '<a href="{}">Download the PDF</a>', reverse("admin:invoicing_creditnote_pdf", args=[obj.pk])
        )

    def pdf_document(self, request: HttpRequest, pk: Any) -> CreditNote | HttpResponse:
        note = credit_note_services_pdf(pk)
        if note is None or not note.file:
            return HttpResponse("No PDF for this credit note.", status=404)
        return note

    total = money_column("total_amount_cents", "total")
    credit = money_column("credit_amount_cents", "credit")
    balance = money_column("balance_amount_cents", "balance")
    refund = money_column("refund_amount_cents", "refund")
    offset = money_column("offset_amount_cents", "offset")
    taxes = money_column("taxes_amount_cents", "taxes")

    def _each(
        self, request: HttpRequest, queryset: QuerySet[CreditNote], title: str, apply: Callable[[CreditNote], object]
    ) -> None:
        apply_each(
            self,
            request,
            queryset.select_related("organization"),
            apply,
            title=title,
            label=lambda note: note.number,
            outcome=lambda number, _: number,
        )

    def _mark_refunds(self, request: HttpRequest, queryset: QuerySet[CreditNote], status: RefundStatus) -> None:
        fields = CreditNoteUpdate(refund_status=status)
        self._each(
            request,
            queryset,
            f"Refund {status.value}",
            lambda n: credit_note_services.credit_note_update(n.organization, credit_note_id=n.id, fields=fields),
        )

    @admin.action(description="Void the remaining balance of selected credit notes", permissions=["change"])
    def void_notes(self, request: HttpRequest, queryset: QuerySet[CreditNote]) -> None:
        void = credit_note_services.credit_note_void
        self._each(request, queryset, "Voided", lambda n: void(n.organization, credit_note_id=n.id))

    @admin.action(description="Mark refunds as succeeded (manual)", permissions=["change"])
    def refund_succeeded(self, request: HttpRequest, queryset: QuerySet[CreditNote]) -> None:
        self._mark_refunds(request, queryset, RefundStatus.SUCCEEDED)

    @admin.action(description="Mark refunds as failed (manual)", permissions=["change"])
    def refund_failed(self, request: HttpRequest, queryset: QuerySet[CreditNote]) -> None:
        self._mark_refunds(request, queryset, RefundStatus.FAILED)


# --------------------------------------------------------------------- invoices: create a credit note


class _CreditNoteForm(forms.Form):
    """Amounts typed in the invoice's currency (`12.50`), read as cents by `cents()`."""

    currency = "USD"

    def cents(self, name: str) -> int:
        value = self.cleaned_data.get(name)
        return cents_from_major(value, self.currency) if value else 0

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        assert cleaned is not None  # Form.clean returns cleaned_data; the stubs allow None
        for name, value in list(cleaned.items()):
            if isinstance(value, Decimal):
                try:
                    cents_from_major(value, self.currency)
                except forms.ValidationError as exc:
                    self.add_error(name, exc)
        return cleaned


def _credit_note_form(invoice: Invoice, data: Any = None) -> _CreditNoteForm:
    currency = invoice.currency
    places = exponent(currency)
    fields: dict[str, forms.Field] = {}
    for fee in invoice.fees.order_by("created_at", "id"):
        fields[f"fee_{fee.id}"] = forms.DecimalField(
            label=f"{fee.invoice_display_name or fee.fee_type} ({format_amount(fee.amount_cents, fee.currency)})",
            min_value=Decimal(0),
            max_value=major_units(fee.amount_cents, currency),
            max_digits=20,
            decimal_places=places,
            required=False,
            help_text=f"Amount to credit before tax, in {currency}",
        )
    for name, label in (("credit_amount", "Credit"), ("refund_amount", "Refund"), ("offset_amount", "Offset")):
        fields[name] = forms.DecimalField(
            label=f"{label} ({currency})", min_value=Decimal(0), max_digits=20, decimal_places=places,
            required=False, initial=0,
        )  # fmt: skip
    fields["reason"] = forms.ChoiceField(choices=CreditNoteReason.choices, initial=CreditNoteReason.OTHER)
    form_class = type("CreditNoteForm", (_CreditNoteForm,), {**fields, "currency": currency})
    return form_class(data)


@admin.action(description="Create a credit note (shows the estimate first)…", permissions=["change"])
def create_credit_note(modeladmin: Any, request: HttpRequest, queryset: QuerySet[Invoice]) -> HttpResponse | None:
    if queryset.count() != 1:
        modeladmin.message_user(request, "Select exactly one finalized invoice.", messages.ERROR)
        return None
    invoice = queryset.select_related("organization", "customer").get()
    step = request.POST.get("step")
    form = _credit_note_form(invoice, request.POST if step else None)
    estimate = None
    error = None
    if step and form.is_valid():
        items = tuple(
            CreditNoteItemFields(fee_id=name[4:], amount_cents=form.cents(name))
            for name, value in form.cleaned_data.items()
            if name.startswith("fee_") and value
        )
        try:
            if not items:
                raise ValidationFailure.single("items", "must_be_an_array")
            if step == "confirm":
                note = credit_note_services.credit_note_create(
                    invoice.organization,
                    CreditNoteCreate(
                        invoice_id=invoice.id,
                        items=items,
                        credit_amount_cents=form.cents("credit_amount"),
                        refund_amount_cents=form.cents("refund_amount"),
                        offset_amount_cents=form.cents("offset_amount"),
                        reason=CreditNoteReason(form.cleaned_data["reason"]),
                    ),
                )
                modeladmin.message_user(
                    request,
                    f"Credit note {note.number} created ({format_amount(note.total_amount_cents, note.currency)})",
                )
                return None
            estimate = credit_note_services.credit_note_estimate(
                invoice.organization, CreditNoteEstimate(invoice_id=invoice.id, items=items)
            )
        except DomainError as exc:
            error = str(exc)
    context = {
        **modeladmin.admin_site.each_context(request),
        "opts": modeladmin.model._meta,
        "title": f"Create a credit note on {invoice.number}",
        "invoice": invoice,
        "form": form,
        "estimate": estimate,
        "money": {
            k: format_amount(v, invoice.currency)
            for k, v in (estimate or {}).items()
            if k.endswith("_amount_cents") and isinstance(v, int)
        },
        "error": error,
        "queryset": queryset,
        "action": "create_credit_note",
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "admin/invoicing/create_credit_note.html", context)


def register_invoice_action(invoice_admin_class: Any) -> None:
    actions = list(invoice_admin_class.actions or [])
    if create_credit_note not in actions:
        invoice_admin_class.actions = [*actions, create_credit_note]
