"""The invoice page: the invoice as a document (header, period, fees with units and unit prices,
taxes per rate, credits, totals, payments, PDF preview) and buttons for what its state allows.
Buttons run the invoice list's actions (same services as the API) or the record-payment form."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from billing_project.core.console import cents_from_major, console_view, decimal_display, major_units, money
from billing_project.core.errors import DomainError, ValidationFailure
from billing_project.core.money import exponent
from invoicing.admin import InvoiceAdmin, display_number, payment_badge, status_badge
from invoicing.models import Invoice, InvoiceStatus, PaymentStatus
from invoicing.selectors import invoice_amount_due
from payments.models import EmailKind, Payment
from payments.services import collection, emails


class RecordPaymentForm(forms.Form):
    amount = forms.DecimalField(min_value=Decimal("0"), max_digits=20, decimal_places=3)
    reference = forms.CharField(max_length=40, help_text="Bank transfer reference, cheque number... (40 characters).")
    paid_at = forms.DateTimeField(
        required=False, help_text="When the money arrived (UTC, e.g. 2026-10-31 14:00); empty: now."
    )

    def __init__(self, *args: Any, currency: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.currency = currency
        places = exponent(currency)
        self.fields["amount"].label = f"Amount ({currency})"
        self.fields["amount"].help_text = f"In {currency}, {places} decimal{'s' if places != 1 else ''} at most."

    def clean_amount(self) -> int:
        amount = self.cleaned_data["amount"]
        cents = cents_from_major(amount, self.currency)
        if cents <= 0:
            raise forms.ValidationError("More than zero.")
        return cents


class ConsoleInvoiceAdmin(InvoiceAdmin):
    change_form_template = "console/invoice.html"

    def get_urls(self) -> list[Any]:
        return [
            path(
                "<uuid:invoice_id>/record-payment/",
                console_view(self.admin_site, self.record_payment_view, permission="payments.add_payment"),
                name="invoicing_invoice_record_payment",
            ),
            path(
                "<uuid:invoice_id>/resend-email/",
                console_view(self.admin_site, self.resend_email_view, permission="invoicing.change_invoice"),
                name="invoicing_invoice_resend_email",
            ),
            *super().get_urls(),
        ]

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        try:
            invoice = Invoice.objects.select_related("customer", "organization").filter(pk=object_id).first()
        except ValidationError:  # a malformed id: the admin answers that it does not exist
            invoice = None
        extra = dict(extra_context or {})
        if invoice is not None and self.has_view_permission(request, invoice):
            extra.update(self.document_context(request, invoice))
        return super().change_view(request, object_id, form_url, extra)

    def document_context(self, request: HttpRequest, invoice: Invoice) -> dict[str, Any]:
        currency = invoice.currency
        today = timezone.now().date()
        fees = [
            {
                "name": fee.invoice_display_name
                or (fee.charge.billable_metric.name if fee.charge_id else fee.fee_type),
                "type": fee.fee_type,
                "units": decimal_display(fee.units),
                "unit_price": f"{decimal_display(fee.precise_unit_amount)} {currency}",
                "amount": money(fee.amount_cents, currency),
                "taxes": money(fee.taxes_amount_cents, currency),
                "period": _period(fee.properties),
            }
            for fee in invoice.fees.select_related("charge__billable_metric").order_by("created_at", "id")
        ]
        taxes = [
            {
                "name": f"{tax.tax_name} ({decimal_display(tax.tax_rate)} %)",
                "base": money(tax.fees_amount_cents, currency),
                "amount": money(tax.amount_cents, currency),
            }
            for tax in invoice.applied_taxes.order_by("tax_code")
        ]
        due = invoice_amount_due(invoice)
        user = request.user
        may_change = user.has_perm("invoicing.change_invoice")
        return {
            "title": f"Invoice {display_number(invoice)}",
            "subtitle": None,
            "invoice": invoice,
            "label": display_number(invoice),
            "status_badge": status_badge(invoice),
            "payment_badge": payment_badge(invoice, today),
            "doc_fees": fees,
            "doc_taxes": taxes,
            "periods": list(invoice.invoice_subscriptions.select_related("subscription").order_by("from_datetime")),
            "totals": _totals(invoice),
            "amount_due": money(due, currency),
            "due_cents": due,
            "payment_rows": [
                {
                    "payment": p,
                    "amount": money(p.amount_cents, p.currency),
                    "when": p.paid_at or p.created_at,
                }
                for p in Payment.objects.filter(invoice=invoice).order_by("-created_at")
            ],
            "credit_notes": [
                {"note": n, "total": money(n.total_amount_cents, n.currency)}
                for n in invoice.credit_notes.order_by("-created_at")
            ],
            "has_pdf": invoice.status in (InvoiceStatus.FINALIZED, InvoiceStatus.VOIDED),
            "buttons": {
                "finalize": may_change and invoice.status == InvoiceStatus.DRAFT,
                "refresh": may_change and invoice.status == InvoiceStatus.DRAFT,
                "void": may_change and invoice.status == InvoiceStatus.FINALIZED,
                "credit_note": may_change and invoice.status == InvoiceStatus.FINALIZED,
                "resend_email": may_change and invoice.status in (InvoiceStatus.FINALIZED, InvoiceStatus.VOIDED),
                "record_payment": user.has_perm("payments.add_payment")
                and invoice.status == InvoiceStatus.FINALIZED
                and invoice.payment_status != PaymentStatus.SUCCEEDED
                and due > 0,
            },
        }

    def resend_email_view(self, request: HttpRequest, invoice_id: Any) -> HttpResponse:
        """E-mail the invoice again to the customer's billing addresses, through the same service
        as `POST /invoices/{id}/resend_email` (a row in the e-mail log, retried if the server fails).
        Only a POST sends; a GET returns to the invoice."""
        invoice = get_object_or_404(Invoice.objects.select_related("organization", "customer"), pk=invoice_id)
        back = HttpResponseRedirect(reverse("admin:invoicing_invoice_change", args=[invoice.pk]))
        if request.method != "POST":
            return back
        try:
            row = emails.document_resend(invoice.organization, kind=EmailKind.INVOICE_FINALIZED, document_id=invoice.id)
        except ValidationFailure:
            messages.error(request, f"{display_number(invoice)} was not sent: the customer has no e-mail address.")
        except DomainError as exc:
            messages.error(request, f"{display_number(invoice)} was not sent: {exc}.")
        else:
            messages.success(request, f"{display_number(invoice)} is being e-mailed to {', '.join(row.recipients)}.")
        return back

    def record_payment_view(self, request: HttpRequest, invoice_id: Any) -> HttpResponse:
        """Money received out of band: a payment row through the same service as `POST /payments`
        (partial payments add up; the invoice is paid once nothing is due)."""
        invoice = get_object_or_404(Invoice.objects.select_related("organization", "customer"), pk=invoice_id)
        due = invoice_amount_due(invoice)
        form = RecordPaymentForm(
            request.POST or None,
            currency=invoice.currency,
            initial={"amount": major_units(due, invoice.currency)},
        )
        error = None
        if request.method == "POST" and form.is_valid():
            try:
                payment = collection.payment_create_manual(
                    invoice.organization,
                    invoice_id=invoice.id,
                    amount_cents=form.cleaned_data["amount"],
                    reference=form.cleaned_data["reference"],
                    paid_at=form.cleaned_data.get("paid_at"),
                )
            except ValidationFailure as exc:
                error = "; ".join(f"{k}: {', '.join(map(str, v))}" for k, v in exc.details.items())  # type: ignore[union-attr]
            except DomainError as exc:
                error = str(exc)
            else:
                invoice.refresh_from_db()
                messages.success(
                    request,
                    f"Payment of {money(payment.amount_cents, payment.currency)} recorded on {display_number(invoice)}; "
                    f"left to pay: {money(invoice_amount_due(invoice), invoice.currency)}.",
                )
                return HttpResponseRedirect(reverse("admin:invoicing_invoice_change", args=[invoice.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Record a payment on {display_number(invoice)}",
            "invoice": invoice,
            "amount_due": money(due, invoice.currency),
            "form": form,
            "error": error,
        }
        return TemplateResponse(request, "console/record_payment.html", context)


def _totals(invoice: Invoice) -> list[tuple[str, str]]:
    """The invoice's totals top to bottom; deductions that are zero are left out."""
    always, deduction, when_any = "always", "deduction", "when any"
    lines = (
        ("Fees", invoice.fees_amount_cents, always),
        ("Coupons", invoice.coupons_amount_cents, deduction),
        ("Progressive billing already invoiced", invoice.progressive_billing_credit_amount_cents, deduction),
        ("Subtotal excluding taxes", invoice.sub_total_excluding_taxes_amount_cents, always),
        ("Taxes", invoice.taxes_amount_cents, always),
        ("Subtotal including taxes", invoice.sub_total_including_taxes_amount_cents, always),
        ("Credit notes", invoice.credit_notes_amount_cents, deduction),
        ("Prepaid credits", invoice.prepaid_credit_amount_cents, deduction),
        ("Total", invoice.total_amount_cents, always),
        ("Paid", invoice.total_paid_amount_cents, always),
        ("Offset by credit notes", invoice.total_offsetted_credit_note_amount_cents, when_any),
    )
    return [
        (label, f"-{money(cents, invoice.currency)}" if shown == deduction else money(cents, invoice.currency))
        for label, cents, shown in lines
        if shown == always or cents
    ]


def _period(properties: dict[str, Any] | None) -> str:
    properties = properties or {}
    start, end = properties.get("from_datetime"), properties.get("to_datetime")
    if not start or not end:
        return ""
    try:
        return f"{dt.datetime.fromisoformat(start):%Y-%m-%d} → {dt.datetime.fromisoformat(end):%Y-%m-%d}"
    except (TypeError, ValueError):
        return ""
