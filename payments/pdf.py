"""The payment receipt PDF, from `payments/templates/payments/receipt.html` with xhtml2pdf (as the
invoice PDFs, docs/invoicing.md §3): no network, no local file read."""

from __future__ import annotations

import io
from typing import Any

from django.template.loader import render_to_string

from billing_project.core.money import format_amount
from payments.models import PaymentReceipt

TEMPLATE = "payments/receipt.html"


def receipt_context(receipt: PaymentReceipt) -> dict[str, Any]:
    payment = receipt.payment
    customer = payment.customer
    organization = receipt.organization
    invoices: list[Any]
    if payment.invoice_id:
        invoices = [payment.invoice]
    elif payment.payment_request_id:
        invoices = list(payment.payment_request.invoices.all()) if payment.payment_request else []
    else:
        invoices = []
    method = "Manual payment" if payment.payment_type == "manual" else (payment.connection.provider.title()
                                                                         if payment.connection else "Provider")  # fmt: skip
    return {
        "receipt": receipt,
        "organization": organization,
        "customer": customer,
        "payment": payment,
        "paid_at": (payment.paid_at or payment.created_at).date().isoformat(),
        "amount": format_amount(payment.amount_cents, payment.currency),
        "method": method,
        "reference": payment.reference or payment.provider_payment_id,
        "invoices": [
            {
                "number": invoice.number,
                "total": format_amount(invoice.total_amount_cents, invoice.currency),
                "due": format_amount(invoice.total_due_amount_cents, invoice.currency),
            }
            for invoice in invoices
        ],
    }


def render_receipt_html(receipt: PaymentReceipt) -> str:
    return render_to_string(TEMPLATE, receipt_context(receipt))


def render_receipt_pdf(receipt: PaymentReceipt) -> bytes:
    from xhtml2pdf import pisa
    from xhtml2pdf.config.resources import ResourceAccessPolicy

    out = io.BytesIO()
    status = pisa.CreatePDF(
        render_receipt_html(receipt),
        dest=out,
        encoding="utf-8",
        resource_policy=ResourceAccessPolicy(allow_remote=False, base_dir=None, max_resources=0, max_render_seconds=60),
    )
    if status.err:
        raise RuntimeError(f"xhtml2pdf reported {status.err} error(s)")
    return out.getvalue()
