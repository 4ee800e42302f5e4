"""Invoice and credit-note PDFs (invoicing/pdf.py): valid PDFs whose text carries the number, the
customer, every fee line and the totals formatted with their currency."""

from __future__ import annotations

import http.server
import io
import threading
from datetime import date
from decimal import Decimal

import pytest
from pypdf import PdfReader
from reportlab.pdfbase.pdfmetrics import stringWidth

from billing_project.core.money import format_amount
from billing_project.core.pdf_canvas import fonts as pdf_fonts
from invoicing import pdf
from invoicing.calculation import (
    CouponToApply,
    CreditedFee,
    CreditNoteBalance,
    CreditNoteItem,
    FeeLine,
    TaxRate,
    WalletBalance,
    calculate_invoice,
    credit_note_amounts,
)
from invoicing.pdf import (
    CreditNoteDocument,
    DocumentLine,
    DocumentTax,
    InvoiceDocument,
    Party,
    format_quantity,
    format_unit_amount,
    render_credit_note_pdf,
    render_invoice_pdf,
)

D = Decimal
ORGANIZATION = Party(
    "Acme Cloud",
    legal_name="Acme Cloud SAS",
    address_lines=("12 rue de la Paix", "75002 Paris", "France"),
    email="billing@acme.test",
    tax_identification_number="FR12345678901",
)
CUSTOMER = Party(
    "Globex",
    legal_name="Globex Corporation Ltd",
    address_lines=("1 Market Street", "London EC1A 1AA"),
    email="ap@globex.test",
    external_id="cust_globex",
)
VAT = TaxRate("vat_fr", D("20"), name="TVA")


def text_of(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    return "\n".join(page.extract_text() for page in reader.pages)


def sample_invoice(**overrides) -> InvoiceDocument:
    fees = [
        FeeLine("sub", "subscription", 5000, taxes=(VAT,)),
        FeeLine("api", "charge", 123_456, taxes=(VAT,), billable_metric_id="api"),
    ]
    totals = calculate_invoice(
        fees,
        currency="EUR",
        coupons=[CouponToApply("c", "fixed_amount", amount_cents=1000, amount_currency="EUR")],
        credit_notes=[CreditNoteBalance("cn", 2000)],
        wallets=[WalletBalance("w", 3000)],
    )
    lines = [
        DocumentLine(
            "Startup plan - monthly subscription",
            5000,
            units=D(1),
            unit_amount=D(50),
            taxes_rate=D(20),
            period_from=date(2026, 10, 1),
            period_to=date(2026, 10, 31),
        ),
        DocumentLine(
            "API calls",
            123_456,
            units=D("617280"),
            unit_amount=D("0.002"),
            taxes_rate=D(20),
            details=("Tier 1: 0 - 1,000,000 at 0.002 EUR",),
        ),
    ]
    fields = {
        "number": "ACM-1A2B-001-001",
        "issuing_date": date(2026, 11, 1),
        "payment_due_date": date(2026, 12, 1),
        "net_payment_term": 30,
        "organization": ORGANIZATION,
        "customer": CUSTOMER,
        "billing_period_from": date(2026, 10, 1),
        "billing_period_to": date(2026, 10, 31),
        "payment_instructions": "Bank transfer to IBAN FR76 3000 6000 0112 3456 7890 189.",
    }
    fields.update(overrides)
    return InvoiceDocument.from_totals(totals, lines=lines, **fields)


def test_invoice_pdf_is_valid_and_carries_number_customer_lines_and_totals():
    document = sample_invoice()
    content = render_invoice_pdf(document)
    assert content.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(content))
    assert len(reader.pages) == 1
    text = text_of(content)
    for expected in [
        "Invoice",
        "ACM-1A2B-001-001",
        "Globex Corporation Ltd",
        "cust_globex",
        "Acme Cloud SAS",
        "FR12345678901",
        "Startup plan - monthly subscription",
        "API calls",
        "Tier 1: 0 - 1,000,000 at 0.002 EUR",
        "617,280",
        "0.002 EUR",
        "50.00 EUR",
        "01 Oct 2026 – 31 Oct 2026",
        format_amount(5000, "EUR"),
        format_amount(123_456, "EUR"),
        "1,234.56 EUR",
        "TVA (20%)",
        "Due date",
        "01 Dec 2026",
        "within 30 days",
        "IBAN FR76",
    ]:
        assert expected in text, expected
    # 50 + 1,234.56 − 10 = 1,274.56; + 20 % = 254.91 → 1,529.47; − 20 − 30 = 1,479.47.
    assert document.total_amount_cents == 147_947
    assert format_amount(document.total_amount_cents, "EUR") == "1,479.47 EUR"
    for cents in [128_456, 1000, 127_456, 25_491, 152_947, 2000, 3000, 147_947]:
        assert format_amount(cents, "EUR") in text, cents
    assert "Total due (EUR)" in text


def test_from_totals_copies_the_calculation():
    document = sample_invoice()
    assert document.fees_amount_cents == 128_456
    assert document.coupons_amount_cents == 1000
    assert document.sub_total_excluding_taxes_amount_cents == 127_456
    assert document.taxes_amount_cents == 25_491
    assert document.taxes == (DocumentTax("TVA", D(20), 127_456, 25_491, "vat_fr"),)
    assert document.credit_notes_amount_cents == 2000
    assert document.prepaid_credit_amount_cents == 3000


def test_draft_invoice_is_marked_and_fully_credited_invoice_says_nothing_to_pay():
    text = text_of(render_invoice_pdf(sample_invoice(status="draft")))
    assert "DRAFT" in text
    settled = InvoiceDocument(
        number="ACM-1A2B-001-002",
        issuing_date=date(2026, 12, 1),
        currency="USD",
        organization=ORGANIZATION,
        customer=CUSTOMER,
        lines=(DocumentLine("Seats", 1772, units=D(2), unit_amount=D("8.86")),),
        fees_amount_cents=1772,
        sub_total_excluding_taxes_amount_cents=1772,
        taxes_amount_cents=0,
        sub_total_including_taxes_amount_cents=1772,
        prepaid_credit_amount_cents=1772,
        total_amount_cents=0,
    )
    text = text_of(render_invoice_pdf(settled))
    assert "Nothing to pay" in text
    assert "0.00 USD" in text
    assert "Prepaid credits" in text
    assert "DRAFT" not in text


def test_lines_are_grouped_under_their_subscription():
    lines = (
        DocumentLine("Base fee", 1000, group="Startup plan - sub_1"),
        DocumentLine("API calls", 500, group="Startup plan - sub_1"),
        DocumentLine("Base fee", 3000, group="Scale plan - sub_2"),
    )
    document = InvoiceDocument(
        number="GRP-001",
        issuing_date=date(2026, 11, 1),
        currency="EUR",
        organization=ORGANIZATION,
        customer=CUSTOMER,
        lines=lines,
        fees_amount_cents=4500,
        sub_total_excluding_taxes_amount_cents=4500,
        taxes_amount_cents=0,
        sub_total_including_taxes_amount_cents=4500,
        total_amount_cents=4500,
    )
    assert [line["group_header"] for line in pdf._lines(lines, "EUR")] == [
        "Startup plan - sub_1",
        "",
        "Scale plan - sub_2",
    ]
    text = text_of(render_invoice_pdf(document))
    assert text.count("Startup plan - sub_1") == 1
    assert text.index("Startup plan - sub_1") < text.index("API calls") < text.index("Scale plan - sub_2")


def test_long_invoice_spans_pages_with_every_line():
    lines = tuple(DocumentLine(f"Usage line {i:03d}", 100 + i, units=D(i), unit_amount=D(1)) for i in range(80))
    total = sum(line.amount_cents for line in lines)
    document = InvoiceDocument(
        number="LONG-001",
        issuing_date=date(2026, 11, 1),
        currency="JPY",
        organization=ORGANIZATION,
        customer=CUSTOMER,
        lines=lines,
        fees_amount_cents=total,
        sub_total_excluding_taxes_amount_cents=total,
        taxes_amount_cents=0,
        sub_total_including_taxes_amount_cents=total,
        total_amount_cents=total,
    )
    content = render_invoice_pdf(document)
    reader = PdfReader(io.BytesIO(content))
    assert len(reader.pages) >= 2
    text = text_of(content)
    assert all(f"Usage line {i:03d}" in text for i in range(80))
    assert f"Page 2 of {len(reader.pages)}" in text
    assert format_amount(total, "JPY") in text
    assert "11,160 JPY" in text


def test_credit_note_pdf():
    document = CreditNoteDocument(
        number="ACM-1A2B-001-001-CN001",
        invoice_number="ACM-1A2B-001-001",
        issuing_date=date(2026, 11, 5),
        currency="EUR",
        organization=ORGANIZATION,
        customer=CUSTOMER,
        lines=(DocumentLine("API calls", 1000), DocumentLine("Startup plan", 2571)),
        sub_total_excluding_taxes_amount_cents=3571,
        taxes_amount_cents=714,
        total_amount_cents=4285,
        taxes=(DocumentTax("TVA", D(20), 3571, 714),),
        credit_amount_cents=3000,
        refund_amount_cents=1285,
        reason="order_cancellation",
    )
    content = render_credit_note_pdf(document)
    assert content.startswith(b"%PDF-")
    text = text_of(content)
    for expected in [
        "Credit note",
        "ACM-1A2B-001-001-CN001",
        "Credited invoice",
        "Globex Corporation Ltd",
        "API calls",
        "Startup plan",
        "Order cancellation",
        "35.71 EUR",
        "7.14 EUR",
        "42.85 EUR",
        "Total credited (EUR)",
        "30.00 EUR",
        "12.85 EUR",
        "Refunded",
    ]:
        assert expected in text, expected
    assert "Offset" not in text


def test_credit_note_from_amounts_with_coupon_adjustment():
    fees = [CreditedFee("sub", 10_000, precise_coupons_amount_cents=D(500), taxes=(VAT,))]
    amounts = credit_note_amounts(fees, [CreditNoteItem("sub", 5000)])
    document = CreditNoteDocument.from_amounts(
        amounts,
        currency="EUR",
        lines=[DocumentLine("Startup plan", 5000)],
        number="ACM-1A2B-001-001-CN002",
        invoice_number="ACM-1A2B-001-001",
        issuing_date=date(2026, 11, 6),
        organization=ORGANIZATION,
        customer=CUSTOMER,
        credit_amount_cents=amounts.total_amount_cents,
    )
    assert (document.sub_total_excluding_taxes_amount_cents, document.taxes_amount_cents) == (4750, 950)
    text = text_of(render_credit_note_pdf(document))
    for expected in ["Coupons adjustment", "-2.50 EUR", "47.50 EUR", "TVA (20%)", "9.50 EUR", "57.00 EUR"]:
        assert expected in text, expected


@pytest.fixture
def listener():
    """A loopback HTTP server that records every request it gets."""
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", hits
    server.shutdown()
    server.server_close()


def test_customer_text_is_escaped_and_nothing_is_fetched(listener):
    url, hits = listener
    hostile = Party(f"<img src='{url}/logo.png'> & Co")
    content = render_invoice_pdf(sample_invoice(customer=hostile))
    text = " ".join(text_of(content).split())  # the long name wraps over lines
    assert f"<img src='{url}/logo.png'> & Co" in text
    assert hits == []


def test_renders_with_the_builtin_font_when_no_unicode_font_is_installed(monkeypatch):
    monkeypatch.setattr(pdf, "_UNICODE_FONT_CANDIDATES", ())
    monkeypatch.setattr(pdf, "_UNICODE_BOLD_CANDIDATES", ())
    text = text_of(render_invoice_pdf(sample_invoice()))
    assert "ACM-1A2B-001-001" in text
    assert "1,479.47 EUR" in text


def test_markup_in_text_is_printed_as_it_is():
    """The renderer draws characters, it does not interpret them: no HTML, no entities, no tags."""
    customer = Party("<b>Bold</b> &amp; <pdf:pagenumber> Ltd")
    text = " ".join(text_of(render_invoice_pdf(sample_invoice(customer=customer))).split())
    assert "<b>Bold</b> &amp; <pdf:pagenumber> Ltd" in text


def _fragments(content: bytes) -> list[list[tuple[str, float]]]:
    """Each page's drawn strings with the x at which they start."""
    pages = []
    for page in PdfReader(io.BytesIO(content)).pages:
        found: list[tuple[str, float]] = []

        def visit(text, cm, tm, *_rest, found=found):
            if text.strip():
                found.append((text.strip(), tm[4] * cm[0] + cm[4]))

        page.extract_text(visitor_text=visit)
        pages.append(found)
    return pages


def test_a_long_description_wraps_inside_its_column():
    words = " ".join(f"word{i:02d}" for i in range(60))
    document = sample_invoice()
    long_line = DocumentLine(words, 1000, units=D(1), unit_amount=D(10))
    document = InvoiceDocument(**{**document.__dict__, "lines": (long_line, *document.lines)})
    content = render_invoice_pdf(document)
    text = " ".join(text_of(content).split())
    assert words in text
    # Every wrapped piece of the description ends inside the description column (40 % of the
    # frame from the left margin); on the whole frame's width it would take 5 lines, not 12.
    left_margin = 1.6 / 2.54 * 72
    column_end = left_margin + 0.40 * (595.2756 - 2 * left_margin)
    regular = pdf_fonts().regular
    pieces = [(t, x) for t, x in _fragments(content)[0] if t.startswith("word")]
    assert len(pieces) == 12
    assert all(x + stringWidth(t, regular, 9) <= column_end for t, x in pieces)


def test_a_line_never_splits_across_pages_and_each_page_repeats_the_header():
    details = tuple(f"detail {n}" for n in range(6))
    lines = tuple(
        DocumentLine(f"Usage line {i:03d}", 100, units=D(1), unit_amount=D(1), details=details) for i in range(40)
    )
    document = InvoiceDocument(
        number="SPLIT-001",
        issuing_date=date(2026, 11, 1),
        currency="EUR",
        organization=ORGANIZATION,
        customer=CUSTOMER,
        lines=lines,
        fees_amount_cents=4000,
        sub_total_excluding_taxes_amount_cents=4000,
        taxes_amount_cents=0,
        sub_total_including_taxes_amount_cents=4000,
        total_amount_cents=4000,
    )
    content = render_invoice_pdf(document)
    pages = [page.extract_text() for page in PdfReader(io.BytesIO(content)).pages]
    assert len(pages) >= 3
    for number, page in enumerate(pages, start=1):
        assert page.count("Description") == 1, number
        assert f"Page {number} of {len(pages)}" in page
        for i in range(40):
            if f"Usage line {i:03d}" in page:
                tail = page[page.index(f"Usage line {i:03d}") :]
                assert "detail 5" in tail, (number, i)
    assert sum(page.count("Usage line") for page in pages) == 40


@pytest.mark.parametrize(
    ("value", "currency", "expected"),
    [
        (D("0.0002"), "USD", "0.0002 USD"),
        (D("10"), "EUR", "10.00 EUR"),
        (D("1234.5"), "EUR", "1,234.50 EUR"),
        (D("150"), "JPY", "150 JPY"),
        (D("0.5"), "JPY", "0.5 JPY"),
        (D("1.2345"), "KWD", "1.2345 KWD"),
        (None, "EUR", ""),
    ],
)
def test_format_unit_amount(value, currency, expected):
    assert format_unit_amount(value, currency) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(D("1E+6"), "1,000,000"), (D("0.6466"), "0.6466"), (D("12.500"), "12.5"), (D(0), "0"), (None, "")],
)
def test_format_quantity(value, expected):
    assert format_quantity(value) == expected
