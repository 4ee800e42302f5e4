"""Invoice and credit-note PDFs, rendered from a Django template with xhtml2pdf (pure Python).

Interface
---------
``render_invoice_pdf(document: InvoiceDocument) -> bytes`` and
``render_credit_note_pdf(document: CreditNoteDocument) -> bytes`` return the bytes of a PDF
rendered from ``invoicing/templates/invoicing/invoice.html`` (one template, two variants).

The documents are plain frozen dataclasses, so the billing run can build them from its rows
without this module touching the ORM: ``Party`` (organization or customer), ``DocumentLine`` (one
per fee: description, service period, units, unit price, tax rate, amount excluding tax),
``DocumentTax`` (one per tax rate: base and amount), and the totals of
``invoicing.calculation.InvoiceTotals`` (``InvoiceDocument.from_totals`` copies them) or of
``CreditNoteAmounts`` (``CreditNoteDocument.from_amounts``).
Money is integer minor units and is shown through ``billing_project.core.money.format_amount``
(e.g. ``1,234.50 EUR``); unit prices are Decimals in major units shown with at least the
currency's decimals.

Why xhtml2pdf: it installs from PyPI with no system libraries (reportlab + pure-Python HTML/CSS),
unlike WeasyPrint (Pango/Cairo) or wkhtmltopdf (a binary); its CSS 2.1 subset is enough for a
table-based invoice. The renderer never fetches anything: its resource policy refuses the network
and every local file outside the font directory (``_resource_policy``). Text is set in DejaVu Sans
when the system has it (wide Unicode coverage), else in the built-in Helvetica (Latin-1 only).
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.template.loader import render_to_string

from billing_project.core.money import exponent, format_amount

if TYPE_CHECKING:
    from invoicing.calculation import CreditNoteAmounts, InvoiceTotals

TEMPLATE = "invoicing/invoice.html"
_UNICODE_FONT_CANDIDATES = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    Path("/usr/share/fonts/dejavu/DejaVuSans.ttf"),
)
_UNICODE_BOLD_CANDIDATES = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
    Path("/usr/share/fonts/dejavu/DejaVuSans-Bold.ttf"),
)


class PdfRenderError(RuntimeError):
    """xhtml2pdf reported an error while laying out the document."""


@dataclass(frozen=True)
class Party:
    """The issuer or the customer as printed on the document."""

    name: str
    legal_name: str = ""
    address_lines: tuple[str, ...] = ()
    email: str = ""
    tax_identification_number: str = ""
    legal_number: str = ""  # company registration number
    external_id: str = ""


@dataclass(frozen=True)
class DocumentLine:
    """One fee (or credit-note item). ``amount_cents`` excludes tax."""

    description: str
    amount_cents: int
    units: Decimal | None = None
    unit_amount: Decimal | None = None  # major units, e.g. Decimal("0.0002")
    taxes_rate: Decimal | None = None  # percent, the sum of the fee's rates
    period_from: date | None = None
    period_to: date | None = None
    details: tuple[str, ...] = ()  # e.g. graduated tiers, filter values
    group: str = ""  # a heading shared by consecutive lines, e.g. the subscription and its plan


@dataclass(frozen=True)
class DocumentTax:
    name: str
    rate: Decimal
    base_amount_cents: int  # the taxable amount (after coupons)
    amount_cents: int
    code: str = ""


@dataclass(frozen=True)
class InvoiceDocument:
    number: str
    issuing_date: date
    currency: str
    organization: Party
    customer: Party
    lines: tuple[DocumentLine, ...]
    fees_amount_cents: int
    sub_total_excluding_taxes_amount_cents: int
    taxes_amount_cents: int
    sub_total_including_taxes_amount_cents: int
    total_amount_cents: int
    taxes: tuple[DocumentTax, ...] = ()
    coupons_amount_cents: int = 0
    progressive_billing_credit_amount_cents: int = 0
    credit_notes_amount_cents: int = 0
    prepaid_credit_amount_cents: int = 0
    payment_due_date: date | None = None
    net_payment_term: int | None = None  # days
    billing_period_from: date | None = None
    billing_period_to: date | None = None
    invoice_type: str = "subscription"
    status: str = "finalized"  # a draft is watermarked
    purchase_order_number: str = ""
    payment_instructions: str = ""
    footer: str = ""

    @classmethod
    def from_totals(
        cls, totals: InvoiceTotals, *, lines: tuple[DocumentLine, ...] | list[DocumentLine], **fields: object
    ) -> InvoiceDocument:
        """A document whose money comes from ``invoicing.calculation.calculate_invoice``."""
        return cls(
            currency=totals.currency,
            lines=tuple(lines),
            taxes=_document_taxes(totals.applied_taxes, "fees_amount_cents"),
            **_amounts(totals, _INVOICE_AMOUNTS),
            **fields,  # type: ignore[arg-type]
        )


@dataclass(frozen=True)
class CreditNoteDocument:
    number: str
    invoice_number: str
    issuing_date: date
    currency: str
    organization: Party
    customer: Party
    lines: tuple[DocumentLine, ...]
    sub_total_excluding_taxes_amount_cents: int
    taxes_amount_cents: int
    total_amount_cents: int
    taxes: tuple[DocumentTax, ...] = ()
    coupons_adjustment_amount_cents: int = 0
    credit_amount_cents: int = 0
    refund_amount_cents: int = 0
    offset_amount_cents: int = 0
    reason: str = ""
    description: str = ""
    footer: str = ""

    @classmethod
    def from_amounts(
        cls,
        amounts: CreditNoteAmounts,
        *,
        currency: str,
        lines: tuple[DocumentLine, ...] | list[DocumentLine],
        **fields: object,
    ) -> CreditNoteDocument:
        """A document whose money comes from ``invoicing.calculation.credit_note_amounts``."""
        return cls(
            currency=currency,
            lines=tuple(lines),
            taxes=_document_taxes(amounts.applied_taxes, "base_amount_cents"),
            **_amounts(amounts, _CREDIT_NOTE_AMOUNTS),
            **fields,  # type: ignore[arg-type]
        )


# The amounts a document copies from the calculation that made them (never recomputed here).
_INVOICE_AMOUNTS = (
    "fees_amount_cents",
    "coupons_amount_cents",
    "progressive_billing_credit_amount_cents",
    "sub_total_excluding_taxes_amount_cents",
    "taxes_amount_cents",
    "sub_total_including_taxes_amount_cents",
    "credit_notes_amount_cents",
    "prepaid_credit_amount_cents",
    "total_amount_cents",
)
_CREDIT_NOTE_AMOUNTS = (
    "sub_total_excluding_taxes_amount_cents",
    "coupons_adjustment_amount_cents",
    "taxes_amount_cents",
    "total_amount_cents",
)


def _amounts(source: object, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: getattr(source, name) for name in names}


def _document_taxes(applied: Iterable[Any], base: str) -> tuple[DocumentTax, ...]:
    """The applied taxes as the document lists them; `base` names the taxed amount's attribute."""
    return tuple(
        DocumentTax(t.tax_name or t.tax_code, t.tax_rate, getattr(t, base), t.amount_cents, t.tax_code) for t in applied
    )


@dataclass(frozen=True)
class _Row:
    label: str
    amount: str
    strong: bool = False
    note: str = ""
    grand: bool = False


@dataclass
class _Context:
    kind: str
    title: str
    document: InvoiceDocument | CreditNoteDocument
    lines: list[dict[str, object]] = field(default_factory=list)
    totals: list[_Row] = field(default_factory=list)
    taxes: list[dict[str, str]] = field(default_factory=list)
    meta: list[tuple[str, str]] = field(default_factory=list)
    payment_terms: str = ""
    draft: bool = False
    font_regular: str = ""
    font_bold: str = ""


def render_invoice_pdf(document: InvoiceDocument) -> bytes:
    currency = document.currency
    money = _money(currency)
    meta = [("Invoice number", document.number), ("Issue date", _date(document.issuing_date))]
    if document.payment_due_date:
        meta.append(("Due date", _date(document.payment_due_date)))
    if document.billing_period_from and document.billing_period_to:
        meta.append(("Billing period", f"{_date(document.billing_period_from)} – {_date(document.billing_period_to)}"))
    if document.purchase_order_number:
        meta.append(("Purchase order", document.purchase_order_number))
    meta.append(("Currency", currency))

    rows = [_Row("Sub total", money(document.fees_amount_cents))]
    if document.progressive_billing_credit_amount_cents:
        rows.append(_Row("Usage already billed", money(-document.progressive_billing_credit_amount_cents)))
    if document.coupons_amount_cents:
        rows.append(_Row("Coupons", money(-document.coupons_amount_cents)))
    rows.append(_Row("Sub total excluding tax", money(document.sub_total_excluding_taxes_amount_cents), strong=True))
    rows += _tax_rows(document.taxes, money)
    if not document.taxes:
        rows.append(_Row("Tax", money(document.taxes_amount_cents)))
    rows.append(_Row("Sub total including tax", money(document.sub_total_including_taxes_amount_cents), strong=True))
    if document.credit_notes_amount_cents:
        rows.append(_Row("Credit notes", money(-document.credit_notes_amount_cents)))
    if document.prepaid_credit_amount_cents:
        rows.append(_Row("Prepaid credits", money(-document.prepaid_credit_amount_cents)))
    rows.append(_Row(f"Total due ({currency})", money(document.total_amount_cents), grand=True))

    context = _Context(
        kind="invoice",
        title="Invoice",
        document=document,
        lines=_lines(document.lines, currency),
        totals=rows,
        meta=meta,
        payment_terms=_payment_terms(document),
        draft=document.status == "draft",
    )
    return _render(context)


def render_credit_note_pdf(document: CreditNoteDocument) -> bytes:
    currency = document.currency
    money = _money(currency)
    meta = [
        ("Credit note number", document.number),
        ("Issue date", _date(document.issuing_date)),
        ("Credited invoice", document.invoice_number),
    ]
    if document.reason:
        meta.append(("Reason", document.reason.replace("_", " ").capitalize()))
    meta.append(("Currency", currency))
    rows = [_Row("Sub total", money(sum(line.amount_cents for line in document.lines)))]
    if document.coupons_adjustment_amount_cents:
        rows.append(_Row("Coupons adjustment", money(-document.coupons_adjustment_amount_cents)))
    rows.append(_Row("Sub total excluding tax", money(document.sub_total_excluding_taxes_amount_cents), strong=True))
    rows += _tax_rows(document.taxes, money)
    if not document.taxes:
        rows.append(_Row("Tax", money(document.taxes_amount_cents)))
    rows.append(_Row(f"Total credited ({currency})", money(document.total_amount_cents), grand=True))
    if document.credit_amount_cents:
        rows.append(_Row("Credited to the customer's balance", money(document.credit_amount_cents)))
    if document.refund_amount_cents:
        rows.append(_Row("Refunded", money(document.refund_amount_cents)))
    if document.offset_amount_cents:
        rows.append(_Row("Offset against the invoice", money(document.offset_amount_cents)))
    context = _Context(
        kind="credit_note",
        title="Credit note",
        document=document,
        lines=_lines(document.lines, currency),
        totals=rows,
        meta=meta,
        payment_terms=document.description,
    )
    return _render(context)


# -------------------------------------------------------------------------------------- helpers


def format_quantity(value: Decimal | None) -> str:
    """Units as plain decimals with thousands separators, no exponent: 1,000,000 / 0.6466."""
    if value is None:
        return ""
    text = f"{value.normalize():,f}"
    return text


def format_unit_amount(value: Decimal | None, currency: str) -> str:
    """A unit price in major units, with at least the currency's decimals (0.0002 USD, 10.00 EUR)."""
    if value is None:
        return ""
    places = max(exponent(currency), -value.normalize().as_tuple().exponent)  # type: ignore[operator]
    return f"{value:,.{places}f} {currency}"


def _money(currency: str):
    def money(cents: int) -> str:
        return format_amount(cents, currency)

    return money


def _date(value: date) -> str:
    return value.strftime("%d %b %Y")


def _rate(rate: Decimal) -> str:
    return f"{rate.normalize():f}%"


def _tax_rows(taxes: tuple[DocumentTax, ...], money) -> list[_Row]:
    return [
        _Row(f"{tax.name} ({_rate(tax.rate)})", money(tax.amount_cents), note=f"on {money(tax.base_amount_cents)}")
        for tax in taxes
    ]


def _lines(lines: tuple[DocumentLine, ...], currency: str) -> list[dict[str, object]]:
    rendered: list[dict[str, object]] = []
    previous_group = ""
    for line in lines:
        group_header = line.group if line.group and line.group != previous_group else ""
        previous_group = line.group
        period = ""
        if line.period_from and line.period_to:
            period = f"{_date(line.period_from)} – {_date(line.period_to)}"
        rendered.append(
            {
                "group_header": group_header,
                "description": line.description,
                "details": line.details,
                "period": period,
                "units": format_quantity(line.units),
                "unit_amount": format_unit_amount(line.unit_amount, currency),
                "taxes_rate": _rate(line.taxes_rate) if line.taxes_rate is not None else "",
                "amount": format_amount(line.amount_cents, currency),
            }
        )
    return rendered


def _payment_terms(document: InvoiceDocument) -> str:
    if document.total_amount_cents <= 0:
        return "Nothing to pay: this invoice is fully settled by credits."
    parts = []
    if document.net_payment_term is not None and document.payment_due_date:
        if document.net_payment_term == 0:
            parts.append(f"Payment is due on receipt ({_date(document.payment_due_date)}).")
        else:
            parts.append(
                f"Payment is due within {document.net_payment_term} days, by {_date(document.payment_due_date)}."
            )
    elif document.payment_due_date:
        parts.append(f"Payment is due by {_date(document.payment_due_date)}.")
    if document.payment_instructions:
        parts.append(document.payment_instructions)
    return " ".join(parts)


def _font(candidates: tuple[Path, ...]) -> str:
    for path in candidates:
        if path.is_file():
            return path.as_posix()
    return ""


def _resource_policy(font_path: str):
    """No network at all; local reads only in the font's directory (none without a font)."""
    from xhtml2pdf.config.resources import ResourceAccessPolicy

    return ResourceAccessPolicy(
        allow_remote=False,
        base_dir=Path(font_path).parent if font_path else None,
        max_resources=4,
        max_render_seconds=120,
    )


def _render(context: _Context) -> bytes:
    from xhtml2pdf import pisa  # imported lazily: it loads reportlab, which is slow to import

    context.font_regular = _font(_UNICODE_FONT_CANDIDATES)
    context.font_bold = _font(_UNICODE_BOLD_CANDIDATES) or context.font_regular
    html = render_to_string(TEMPLATE, {"c": context, "doc": context.document})
    out = io.BytesIO()
    status = pisa.CreatePDF(
        html,
        dest=out,
        encoding="utf-8",
        resource_policy=_resource_policy(context.font_regular),
    )
    if status.err:
        raise PdfRenderError(f"xhtml2pdf reported {status.err} error(s)")
    return out.getvalue()
