"""Invoice PDF rendering time: per PDF (CPU and wall clock) and the projection for 10,000.

    .venv/bin/python bench/pdf.py [--runs 200] [--lines 5] [--long-lines 80]

Renders the same documents again and again in this process with ``invoicing.pdf`` (no database:
the renderer is pure), after one warm-up render of each (font loading, imports). Prints, for a
typical invoice (``--lines`` fee lines over two subscriptions, taxes, a coupon, credits), a long
one (``--long-lines`` lines, several pages) and a credit note: the median, p95 and maximum per PDF,
the size, and the CPU time 10,000 such invoices take on one core; ``--batch 10000`` then renders
10,000 typical invoices in a row and prints the time they took. The issue's target is <= 20 ms per
PDF (100,000 in under 20 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import load_average, percentile


def documents(lines: int, long_lines: int):
    from invoicing.pdf import CreditNoteDocument, DocumentLine, DocumentTax, InvoiceDocument, Party

    organization = Party(
        "Acme Cloud",
        legal_name="Acme Cloud SAS",
        address_lines=("12 rue de la Paix", "75002 Paris", "France"),
        email="billing@acme.test",
        tax_identification_number="FR12345678901",
    )
    customer = Party(
        "Globex",
        legal_name="Globex Corporation Ltd",
        address_lines=("1 Market Street", "London EC1A 1AA"),
        email="ap@globex.test",
        external_id="cust_globex",
    )

    def fee_lines(count: int) -> tuple[DocumentLine, ...]:
        out = []
        for i in range(count):
            out.append(
                DocumentLine(
                    f"API calls – region {i}" if i else "Startup plan - monthly subscription",
                    5000 + 137 * i,
                    units=Decimal(1000 + i * 17),
                    unit_amount=Decimal("0.002"),
                    taxes_rate=Decimal(20),
                    period_from=date(2026, 10, 1),
                    period_to=date(2026, 10, 31),
                    details=(f"Tier 1: 0 - 1,000,000 at 0.002 EUR (line {i})",) if i % 2 else (),
                    group="Startup plan - sub_1" if i < count // 2 else "Scale plan - sub_2",
                )
            )
        return tuple(out)

    def invoice(count: int, number: str) -> InvoiceDocument:
        body = fee_lines(count)
        fees = sum(line.amount_cents for line in body)
        taxed = fees - 1000
        tax = taxed // 5
        return InvoiceDocument(
            number=number,
            issuing_date=date(2026, 11, 1),
            currency="EUR",
            organization=organization,
            customer=customer,
            lines=body,
            fees_amount_cents=fees,
            coupons_amount_cents=1000,
            sub_total_excluding_taxes_amount_cents=taxed,
            taxes_amount_cents=tax,
            taxes=(DocumentTax("TVA", Decimal(20), taxed, tax, "vat_fr"),),
            sub_total_including_taxes_amount_cents=taxed + tax,
            prepaid_credit_amount_cents=3000,
            total_amount_cents=taxed + tax - 3000,
            payment_due_date=date(2026, 12, 1),
            net_payment_term=30,
            billing_period_from=date(2026, 10, 1),
            billing_period_to=date(2026, 10, 31),
            payment_instructions="Bank transfer to IBAN FR76 3000 6000 0112 3456 7890 189.",
        )

    credit_note = CreditNoteDocument(
        number="ACM-1A2B-001-001-CN001",
        invoice_number="ACM-1A2B-001-001",
        issuing_date=date(2026, 11, 5),
        currency="EUR",
        organization=organization,
        customer=customer,
        lines=(DocumentLine("API calls", 1000), DocumentLine("Startup plan", 2571)),
        sub_total_excluding_taxes_amount_cents=3571,
        taxes_amount_cents=714,
        total_amount_cents=4285,
        taxes=(DocumentTax("TVA", Decimal(20), 3571, 714),),
        credit_amount_cents=3000,
        refund_amount_cents=1285,
        reason="order_cancellation",
    )
    return invoice(lines, "ACM-1A2B-001-001"), invoice(long_lines, "ACM-1A2B-001-002"), credit_note


def measure(render, document, runs: int) -> tuple[list[float], list[float], int]:
    content = render(document)  # warm-up: fonts, imports
    cpu, wall = [], []
    for _ in range(runs):
        c0, w0 = time.process_time(), time.perf_counter()
        render(document)
        cpu.append((time.process_time() - c0) * 1000)
        wall.append((time.perf_counter() - w0) * 1000)
    return cpu, wall, len(content)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--lines", type=int, default=5)
    parser.add_argument("--long-lines", type=int, default=80)
    parser.add_argument(
        "--batch", type=int, default=0, help="then render this many typical invoices in a row (e.g. 10000) and time it"
    )
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billing_project.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only-secret")
    os.environ.setdefault("DATABASE_URL", "sqlite:///:memory:")
    import django

    django.setup()
    from invoicing.pdf import render_credit_note_pdf, render_invoice_pdf

    typical, long, credit_note = documents(args.lines, args.long_lines)
    print(f"load average {load_average()}, {args.runs} renders each")
    for label, render, document, runs in (
        (f"invoice, {args.lines} lines", render_invoice_pdf, typical, args.runs),
        (f"invoice, {args.long_lines} lines", render_invoice_pdf, long, max(args.runs // 10, 5)),
        ("credit note, 2 lines", render_credit_note_pdf, credit_note, args.runs),
    ):
        cpu, wall, size = measure(render, document, runs)
        print(
            f"{label:<24} CPU p50 {percentile(cpu, 50):7.2f} ms p95 {percentile(cpu, 95):7.2f} ms | "
            f"wall p50 {percentile(wall, 50):7.2f} ms p95 {percentile(wall, 95):7.2f} ms max {max(wall):7.2f} ms | "
            f"{size / 1024:5.1f} KB | 10,000 on one core: {percentile(cpu, 50) * 10:6.1f} CPU-s"
        )
    if args.batch:
        c0, w0 = time.process_time(), time.perf_counter()
        for _ in range(args.batch):
            render_invoice_pdf(typical)
        cpu_s, wall_s = time.process_time() - c0, time.perf_counter() - w0
        print(
            f"{args.batch:,} typical invoices in a row: {wall_s:.1f} s wall, {cpu_s:.1f} CPU-s "
            f"({cpu_s / args.batch * 1000:.2f} CPU-ms each); load average {load_average()}"
        )


if __name__ == "__main__":
    main()
