"""Invoice and credit-note PDFs, drawn with the layout engine of billing_project/core/pdf_canvas.py.

Interface
---------
``render_invoice_pdf(document: InvoiceDocument) -> bytes`` and
``render_credit_note_pdf(document: CreditNoteDocument) -> bytes`` return the bytes of a PDF (one
layout, two variants).

The documents are plain frozen dataclasses, so the billing run can build them from its rows
without this module touching the ORM: ``Party`` (organization or customer), ``DocumentLine`` (one
per fee: description, service period, units, unit price, tax rate, amount excluding tax),
``DocumentTax`` (one per tax rate: base and amount), and the totals of
``invoicing.calculation.InvoiceTotals`` (``InvoiceDocument.from_totals`` copies them) or of
``CreditNoteAmounts`` (``CreditNoteDocument.from_amounts``).
Money is integer minor units and is shown through ``billing_project.core.money.format_amount``
(e.g. ``1,234.50 EUR``); unit prices are Decimals in major units shown with at least the
currency's decimals.

Why not HTML: an invoice is text, rules and tables at fixed places; laying it out in Python and
drawing it on reportlab's canvas takes 5–7 ms, where an HTML template through xhtml2pdf took
55–450 ms (docs/invoicing.md §3). Text is drawn as the characters it is (nothing is interpreted or
fetched), in DejaVu Sans when the system has it, else the built-in Helvetica (Latin-1 only).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from billing_project.core.money import exponent, format_amount
from billing_project.core.pdf_canvas import (
    MUTED,
    UNICODE_BOLD_CANDIDATES,
    UNICODE_FONT_CANDIDATES,
    Border,
    Cell,
    Column,
    Layout,
    RowStyle,
    Style,
    TableRow,
)
from billing_project.core.pdf_canvas import fonts as pdf_fonts

if TYPE_CHECKING:
    from invoicing.calculation import CreditNoteAmounts, InvoiceTotals

# The fonts looked for (a test replaces them with none to check the built-in fallback).
_UNICODE_FONT_CANDIDATES = UNICODE_FONT_CANDIDATES
_UNICODE_BOLD_CANDIDATES = UNICODE_BOLD_CANDIDATES


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


@dataclass(frozen=True, kw_only=True)
class _Document:
    """What an invoice's and a credit note's document both print."""

    number: str
    issuing_date: date
    currency: str
    organization: Party
    customer: Party
    lines: tuple[DocumentLine, ...]
    sub_total_excluding_taxes_amount_cents: int
    taxes_amount_cents: int
    total_amount_cents: int
    taxes: tuple[DocumentTax, ...] = ()
    footer: str = ""

    @classmethod
    def _calculated(
        cls,
        source: Any,
        amounts: tuple[str, ...],
        tax_base: str,
        *,
        currency: str,
        lines: tuple[DocumentLine, ...] | list[DocumentLine],
        **fields: object,
    ) -> Any:
        """A document whose money (`amounts`, and the applied taxes on their `tax_base`) is copied
        from the calculation that made it (`source`), never recomputed here."""
        return cls(
            currency=currency,
            lines=tuple(lines),
            taxes=document_taxes(source.applied_taxes, tax_base),
            **_amounts(source, amounts),
            **fields,  # type: ignore[arg-type]
        )


@dataclass(frozen=True, kw_only=True)
class InvoiceDocument(_Document):
    fees_amount_cents: int
    sub_total_including_taxes_amount_cents: int
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
    # Invoice custom sections (docs/billing-entities.md §4): (display name, details), printed in order.
    sections: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_totals(
        cls, totals: InvoiceTotals, *, lines: tuple[DocumentLine, ...] | list[DocumentLine], **fields: object
    ) -> InvoiceDocument:
        """A document whose money comes from ``invoicing.calculation.calculate_invoice``."""
        return cls._calculated(
            totals, _INVOICE_AMOUNTS, "fees_amount_cents", currency=totals.currency, lines=lines, **fields
        )


@dataclass(frozen=True, kw_only=True)
class CreditNoteDocument(_Document):
    invoice_number: str
    coupons_adjustment_amount_cents: int = 0
    credit_amount_cents: int = 0
    refund_amount_cents: int = 0
    offset_amount_cents: int = 0
    reason: str = ""
    description: str = ""

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
        return cls._calculated(
            amounts, _CREDIT_NOTE_AMOUNTS, "base_amount_cents", currency=currency, lines=lines, **fields
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


def document_taxes(applied: Iterable[Any], base: str) -> tuple[DocumentTax, ...]:
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
    rows += _taxed_rows(document, money)
    rows.append(_Row("Sub total including tax", money(document.sub_total_including_taxes_amount_cents), strong=True))
    if document.credit_notes_amount_cents:
        rows.append(_Row("Credit notes", money(-document.credit_notes_amount_cents)))
    if document.prepaid_credit_amount_cents:
        rows.append(_Row("Prepaid credits", money(-document.prepaid_credit_amount_cents)))
    rows.append(_Row(f"Total due ({currency})", money(document.total_amount_cents), grand=True))

    return _document_pdf(
        "invoice", "Invoice", document, rows, meta, _payment_terms(document), draft=document.status == "draft"
    )


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
    rows += _taxed_rows(document, money)
    rows.append(_Row(f"Total credited ({currency})", money(document.total_amount_cents), grand=True))
    if document.credit_amount_cents:
        rows.append(_Row("Credited to the customer's balance", money(document.credit_amount_cents)))
    if document.refund_amount_cents:
        rows.append(_Row("Refunded", money(document.refund_amount_cents)))
    if document.offset_amount_cents:
        rows.append(_Row("Offset against the invoice", money(document.offset_amount_cents)))
    return _document_pdf("credit_note", "Credit note", document, rows, meta, document.description)


def _taxed_rows(document: InvoiceDocument | CreditNoteDocument, money: Callable[[int], str]) -> list[_Row]:
    """The sub total excluding tax, then a row per tax applied (one "Tax" row when none is)."""
    rows = [_Row("Sub total excluding tax", money(document.sub_total_excluding_taxes_amount_cents), strong=True)]
    rows += _tax_rows(document.taxes, money)
    if not document.taxes:
        rows.append(_Row("Tax", money(document.taxes_amount_cents)))
    return rows


def _document_pdf(
    kind: str,
    title: str,
    document: InvoiceDocument | CreditNoteDocument,
    totals: list[_Row],
    meta: list[tuple[str, str]],
    payment_terms: str,
    *,
    draft: bool = False,
) -> bytes:
    """An invoice's or a credit note's PDF: its lines, `totals` and `meta`."""
    context = _Context(
        kind=kind,
        title=title,
        document=document,
        lines=_lines(document.lines, document.currency),
        totals=totals,
        meta=meta,
        payment_terms=payment_terms,
        draft=draft,
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


# -------------------------------------------------------------------------------------- drawing

_BODY = Style(9)
_MUTED = Style(9, color=MUTED)
_SMALL = Style(8)
_SMALL_MUTED = Style(8, color=MUTED)
_DETAIL = Style(7.5, color=MUTED)
_TITLE = Style(20, bold=True, color="#111827", leading=26)
_DRAFT = Style(11, bold=True, color="#b91c1c")
_PARTY_TITLE = Style(8, color=MUTED)
_PARTY_NAME = Style(11, bold=True)
_HEADING = Style(8, bold=True, color="#374151")
_GROUP = Style(9, bold=True)
_STRONG = Style(9, bold=True)
_GRAND = Style(12, bold=True)

_LINE_COLUMNS = (
    Column(0.40),
    Column(0.12, "right"),
    Column(0.17, "right"),
    Column(0.09, "right"),
    Column(0.22, "right"),
)
_LINE_HEADER = RowStyle(padding=(4, 3, 4, 3), background="#f3f4f6", border_bottom=Border(1, "#111827"))
_LINE_ROW = RowStyle(padding=(5, 3, 3, 3), border_bottom=Border(0.5, "#d1d5db"))
_GROUP_ROW = RowStyle(padding=(8, 3, 3, 3), border_bottom=Border(0.5, "#9ca3af"))
_EMPTY_ROW = RowStyle(padding=(5, 3, 3, 3))
_TOTAL_COLUMNS = (Column(0.68), Column(0.32, "right"))
_TOTAL_ROW = RowStyle(padding=(3, 3, 3, 3))
_STRONG_ROW = RowStyle(padding=(3, 3, 3, 3), border_top=Border(0.5, "#9ca3af"))
_GRAND_ROW = RowStyle(padding=(5, 3, 3, 3), border_top=Border(1.2, "#111827"))
_META_COLUMNS = (Column(0.45, "right"), Column(0.55, "right"))
_META_ROW = RowStyle(padding=(1.5, 0, 1.5, 4))


def _party_cells(party: Party, *, customer: bool) -> list[Cell]:
    name = party.legal_name or party.name
    cells = [Cell(name, _PARTY_NAME)]
    if customer and party.legal_name and party.legal_name != party.name:
        cells.append(Cell(party.name))
    cells += [Cell(line) for line in party.address_lines]
    if party.email:
        cells.append(Cell(party.email))
    if party.tax_identification_number:
        cells.append(Cell(f"Tax ID: {party.tax_identification_number}", _SMALL))
    if not customer and party.legal_number:
        cells.append(Cell(f"Registration no.: {party.legal_number}", _SMALL))
    if customer and party.external_id:
        cells.append(Cell(f"Customer ID: {party.external_id}", _SMALL_MUTED))
    return cells


def _line_rows(lines: list[dict[str, object]]) -> list[TableRow]:
    rows: list[TableRow] = []
    for line in lines:
        if line["group_header"]:
            rows.append(TableRow((Cell(str(line["group_header"]), _GROUP),), _GROUP_ROW, span=True))
        below = tuple((text, _DETAIL) for text in (line["period"], *line["details"]) if text)  # type: ignore[misc]
        rows.append(
            TableRow(
                (
                    Cell(str(line["description"]), below=below),
                    Cell(str(line["units"])),
                    Cell(str(line["unit_amount"])),
                    Cell(str(line["taxes_rate"])),
                    Cell(str(line["amount"])),
                ),
                _LINE_ROW,
            )
        )
    if not rows:
        rows.append(TableRow((Cell("No fees.", _MUTED),), _EMPTY_ROW, span=True))
    return rows


def _render(context: _Context) -> bytes:
    document = context.document
    layout = Layout(
        pdf_fonts(_UNICODE_FONT_CANDIDATES, _UNICODE_BOLD_CANDIDATES), title=f"{context.title} {document.number}"
    )

    # Heading: the issuer on the left, the title and the document's facts on the right.
    top = layout.y
    layout.row([Column(1)], [_party_cells(document.organization, customer=False)], x=0, width=0.48, split=True)
    left_end, layout.y = layout.y, top
    layout.text(context.title, _TITLE, x=0.48, width=0.52, align="right")
    if context.draft:
        layout.text("DRAFT — not a final invoice", _DRAFT, x=0.48, width=0.52, align="right")
    for label, value in context.meta:
        layout.row(_META_COLUMNS, [Cell(label, _MUTED), Cell(value)], _META_ROW, x=0.48, width=0.52)
    layout.y = min(left_end, layout.y)

    layout.space(16)
    to = "Credited to" if context.kind == "credit_note" else "Bill to"
    layout.row(
        [Column(1)], [[Cell(to.upper(), _PARTY_TITLE), *_party_cells(document.customer, customer=True)]], width=0.55
    )

    layout.space(14)
    layout.table(
        _LINE_COLUMNS,
        [Cell(name, _HEADING) for name in ("Description", "Units", "Unit price", "Tax", "Amount (excl. tax)")],
        _LINE_HEADER,
        _line_rows(context.lines),
    )

    layout.space(10)
    for row in context.totals:
        style, row_style = (
            (_GRAND, _GRAND_ROW) if row.grand else (_STRONG, _STRONG_ROW) if row.strong else (_BODY, _TOTAL_ROW)
        )
        below = ((row.note, _DETAIL),) if row.note else ()
        layout.row(
            _TOTAL_COLUMNS, [Cell(row.label, style, below), Cell(row.amount, style)], row_style, x=0.4, width=0.6
        )

    if context.payment_terms:
        layout.space(16)
        layout.box(context.payment_terms, _BODY, background="#f9fafb", border=Border(0.5, "#e5e7eb"), padding=(6, 8))

    for title, details in getattr(document, "sections", ()):
        layout.space(12)
        if title:
            layout.text(title, _STRONG)
        layout.text(details, _BODY)

    issuer = document.footer or document.organization.legal_name or document.organization.name
    footer_left = f"{issuer} · {context.title} {document.number}"

    def footer(page: Layout, number: int, count: int) -> None:
        page.footer_text(footer_left, _SMALL_MUTED)
        page.footer_text(f"Page {number} of {count}", _SMALL_MUTED, align="right")

    return layout.render(footer)
