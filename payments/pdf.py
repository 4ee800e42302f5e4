"""The payment receipt PDF, drawn with the document layout engine (billing_project/core/pdf_canvas.py,
as the invoice PDFs, docs/invoicing.md §3): the receipt's number and date, who paid whom, the amount,
the method and reference, and the invoices the payment settled. No network, no file read but fonts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from billing_project.core.money import format_amount
from billing_project.core.pdf_canvas import MUTED, Border, Cell, Column, Layout, RowStyle, Style, TableRow
from billing_project.core.pdf_canvas import fonts as pdf_fonts
from invoicing.models import Invoice
from invoicing.services import lifecycle
from payments.models import PaymentReceipt


@dataclass(frozen=True)
class ReceiptInvoice:
    number: str
    total: str  # formatted with its currency
    due: str


@dataclass(frozen=True)
class ReceiptDocument:
    number: str
    paid_at: str  # ISO date
    issuer: str
    issuer_email: str
    payer: str
    payer_email: str
    amount: str  # formatted with its currency
    method: str
    reference: str
    invoices: tuple[ReceiptInvoice, ...]


def receipt_document(receipt: PaymentReceipt) -> ReceiptDocument:
    payment = receipt.payment
    customer = payment.customer
    organization = receipt.organization
    invoices: list[Invoice] = []
    if payment.invoice is not None:
        invoices = [payment.invoice]
    elif payment.payment_request is not None:
        invoices = list(payment.payment_request.invoices.all())
    if payment.payment_type == "manual":
        method = "Manual payment"
    else:
        method = payment.connection.provider.title() if payment.connection else "Provider"
    # The receipt is issued by the entity that billed what it pays (Lago's receipt belongs to that
    # entity; docs/billing-entities.md §3); a payment of no invoice, by the organization.
    issuer: Any = lifecycle.invoice_billing_entity(invoices[0]) if invoices else organization
    return ReceiptDocument(
        number=receipt.number,
        paid_at=(payment.paid_at or payment.created_at).date().isoformat(),
        issuer=issuer.legal_name or issuer.name,
        issuer_email=issuer.email or "",
        payer=customer.legal_name or customer.name or customer.external_id,
        payer_email=customer.email or "",
        amount=format_amount(payment.amount_cents, payment.currency),
        method=method,
        reference=payment.reference or payment.provider_payment_id or "",
        invoices=tuple(
            ReceiptInvoice(
                invoice.number,
                format_amount(invoice.total_amount_cents, invoice.currency),
                format_amount(invoice.total_due_amount_cents, invoice.currency),
            )
            for invoice in invoices
        ),
    )


_BODY = Style(10, color="#222222")
_BOLD = Style(10, bold=True, color="#222222")
_TITLE = Style(18, bold=True, color="#222222", leading=24)
_MUTED = Style(10, color=MUTED)
_TOTAL = Style(14, bold=True, color="#222222")
_ROW = RowStyle(padding=(4, 4, 4, 4), border_bottom=Border(0.5, "#cccccc"))
_HALVES = (Column(0.5), Column(0.5))
_LABEL_VALUE = (Column(0.5), Column(0.5, "right"))
_INVOICE_COLUMNS = (Column(0.5), Column(0.25, "right"), Column(0.25, "right"))


def render_receipt_pdf(receipt: PaymentReceipt) -> bytes:
    return draw_receipt(receipt_document(receipt))


def draw_receipt(document: ReceiptDocument) -> bytes:
    margin = 2 / 2.54 * 72
    layout = Layout(pdf_fonts(), title=f"Receipt {document.number}", margins=(margin, margin, margin, margin))
    layout.text("Receipt", _TITLE)
    layout.text(f"Number {document.number} · Paid on {document.paid_at}", _MUTED)
    layout.space(12)
    layout.row(
        _HALVES,
        [
            [Cell("From", _BOLD), Cell(document.issuer), Cell(document.issuer_email)],
            [Cell("Paid by", _BOLD), Cell(document.payer), Cell(document.payer_email)],
        ],
        _ROW,
    )
    layout.space(12)
    layout.row(_LABEL_VALUE, [Cell("Amount paid", _BOLD), Cell(document.amount, _TOTAL)], _ROW)
    layout.row(_LABEL_VALUE, [Cell("Payment method", _BOLD), Cell(document.method)], _ROW)
    if document.reference:
        layout.row(_LABEL_VALUE, [Cell("Reference", _BOLD), Cell(document.reference)], _ROW)
    if document.invoices:
        layout.space(12)
        layout.table(
            _INVOICE_COLUMNS,
            [Cell("Invoice", _BOLD), Cell("Total", _BOLD), Cell("Still due", _BOLD)],
            _ROW,
            [TableRow((Cell(i.number), Cell(i.total), Cell(i.due)), _ROW) for i in document.invoices],
        )
    return layout.render()
