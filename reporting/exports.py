"""CSV layouts of the exports and the streaming writer.

Rows come from `values_list(...).iterator(chunk_size=...)` (a server-side cursor on PostgreSQL), go
through `csv.writer` into a file, and are never held together in memory. Every `*_amount_cents`
column and `amount_cents` (integer minor units) is followed by its decimal twin in major units (`*_amount`, exact,
the currency's number of places), next to the row's `currency` column. docs/reporting.md lists the
columns.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import IO, Any

from django.db.models import BigIntegerField, ExpressionWrapper, F, QuerySet

from billing_project.core.money import UnknownCurrency, exponent, from_cents
from invoicing.credits.models import CreditNote
from invoicing.models import Fee, Invoice
from metering.models import Event

CHUNK_SIZE = 2000


@dataclass(frozen=True)
class Column:
    header: str
    source: str  # a values_list() path or an annotation


@dataclass(frozen=True)
class Layout:
    columns: tuple[Column, ...]
    queryset: Callable[[Any, date, date], QuerySet]


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _invoices(organization: Any, start: date, end: date) -> QuerySet:
    return Invoice.objects.filter(organization=organization, issuing_date__gte=start, issuing_date__lte=end).order_by(
        "issuing_date", "created_at", "id"
    )


def _fees(organization: Any, start: date, end: date) -> QuerySet:
    return (
        Fee.objects.filter(
            organization=organization,
            deleted_at__isnull=True,
            created_at__gte=_day_start(start),
            created_at__lt=_day_start(end + timedelta(days=1)),
        )
        .annotate(
            total_cents=ExpressionWrapper(F("amount_cents") + F("taxes_amount_cents"), output_field=BigIntegerField())
        )
        .order_by("created_at", "id")
    )


def _credit_notes(organization: Any, start: date, end: date) -> QuerySet:
    return CreditNote.objects.filter(
        organization=organization, issuing_date__gte=start, issuing_date__lte=end
    ).order_by("issuing_date", "created_at", "id")


def _events(organization: Any, start: date, end: date) -> QuerySet:
    return Event.objects.filter(
        organization=organization,
        timestamp__gte=_day_start(start),
        timestamp__lt=_day_start(end + timedelta(days=1)),
    ).order_by("timestamp", "id")


def _columns(*pairs: str) -> tuple[Column, ...]:
    return tuple(Column(*pair.split("=")) if "=" in pair else Column(pair, pair) for pair in pairs)


LAYOUTS: dict[str, Layout] = {
    "invoices": Layout(
        _columns(
            "lago_id=id",
            "number",
            "external_customer_id=customer__external_id",
            "invoice_type",
            "status",
            "payment_status",
            "payment_overdue",
            "issuing_date",
            "payment_due_date",
            "currency",
            "fees_amount_cents",
            "coupons_amount_cents",
            "sub_total_excluding_taxes_amount_cents",
            "taxes_amount_cents",
            "credit_notes_amount_cents",
            "prepaid_credit_amount_cents",
            "total_amount_cents",
            "total_paid_amount_cents",
            "finalized_at",
            "voided_at",
        ),
        _invoices,
    ),
    "fees": Layout(
        _columns(
            "lago_id=id",
            "lago_invoice_id=invoice_id",
            "invoice_number=invoice__number",
            "external_customer_id=customer__external_id",
            "external_subscription_id=subscription__external_id",
            "fee_type",
            "item_code=charge__billable_metric__code",
            "add_on_code=add_on__code",
            "invoice_display_name",
            "units",
            "events_count",
            "currency",
            "amount_cents",
            "taxes_amount_cents",
            "total_amount_cents=total_cents",
            "payment_status",
            "created_at",
        ),
        _fees,
    ),
    "credit_notes": Layout(
        _columns(
            "lago_id=id",
            "number",
            "lago_invoice_id=invoice_id",
            "invoice_number=invoice__number",
            "external_customer_id=customer__external_id",
            "issuing_date",
            "reason",
            "credit_status",
            "refund_status",
            "currency",
            "sub_total_excluding_taxes_amount_cents",
            "taxes_amount_cents",
            "total_amount_cents",
            "credit_amount_cents",
            "balance_amount_cents",
            "refund_amount_cents",
            "offset_amount_cents",
            "voided_at",
        ),
        _credit_notes,
    ),
    "events": Layout(
        _columns(
            "transaction_id",
            "external_subscription_id",
            "external_customer_id",
            "code",
            "timestamp",
            "properties",
            "value",
            "precise_total_amount_cents",
            "created_at",
        ),
        _events,
    ),
}


def headers(resource_type: str) -> list[str]:
    result = []
    for column in LAYOUTS[resource_type].columns:
        result.append(column.header)
        if _is_money(column.header):
            result.append(column.header[: -len("_cents")])
    return result


def _is_money(header: str) -> bool:
    return (header == "amount_cents" or header.endswith("_amount_cents")) and not header.startswith("precise_")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    return str(value)


def _major(cents: int | None, currency: str) -> str:
    if cents is None:
        return ""
    try:
        return f"{from_cents(int(cents), currency):.{exponent(currency)}f}"
    except UnknownCurrency:
        return ""


def write_csv(resource_type: str, organization: Any, start: date, end: date, out: IO[str]) -> int:
    """Write the header and every row to `out`; returns the number of data rows."""
    layout = LAYOUTS[resource_type]
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(headers(resource_type))
    sources = [column.source for column in layout.columns]
    headers_list = [column.header for column in layout.columns]
    currency_index = headers_list.index("currency") if "currency" in headers_list else None
    money = [i for i, header in enumerate(headers_list) if _is_money(header)]
    rows: Iterable[tuple[Any, ...]] = layout.queryset(organization, start, end).values_list(*sources)
    count = 0
    for row in rows.iterator(chunk_size=CHUNK_SIZE):  # type: ignore[attr-defined]
        currency = row[currency_index] if currency_index is not None else ""
        cells = []
        for index, value in enumerate(row):
            cells.append(_text(value))
            if index in money:
                cells.append(_major(value, currency))
        writer.writerow(cells)
        count += 1
    return count
