"""Invoice collection analytics (`GET /analytics/invoice_collection`, docs/reporting.md): finalized
invoices by issuing month, payment status and currency, with their count and total."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db.models import Count, Sum
from django.db.models.functions import TruncMonth

from invoicing.models import Invoice, InvoiceStatus
from reporting.selectors import DEFAULT_MONTHS, _month_key, month_range


def invoice_collection(
    organization: Any,
    *,
    months: int = DEFAULT_MONTHS,
    currency: str | None = None,
    external_customer_id: str | None = None,
    today: date | None = None,
    billing_entity_id: Any = None,
) -> list[dict[str, Any]]:
    """One row per month, payment status and currency with finalized invoices, oldest month first,
    then by payment status and currency; a month without any is one row of zeros with a null
    status and currency, or nothing when a currency is asked for (as Lago)."""
    period = month_range(months, today=today)
    invoices = Invoice.objects.filter(
        organization=organization,
        status=InvoiceStatus.FINALIZED,
        issuing_date__gte=period[0].start,
        issuing_date__lt=period[-1].end,
    )
    if currency:
        invoices = invoices.filter(currency=currency)
    if external_customer_id:
        invoices = invoices.filter(customer__external_id=external_customer_id, customer__deleted_at__isnull=True)
    if billing_entity_id is not None:
        invoices = invoices.filter(billing_entity_id=billing_entity_id)
    found: dict[date, list[dict[str, Any]]] = {}
    for row in (
        invoices.annotate(month=TruncMonth("issuing_date"))
        .values("month", "payment_status", "currency")
        .annotate(count=Count("id"), amount=Sum("total_amount_cents"))
        .order_by("month", "payment_status", "currency")
    ):
        found.setdefault(_month_key(row["month"]), []).append(row)
    rows: list[dict[str, Any]] = []
    for month in period:
        groups = found.get(month.start)
        if not groups:
            if not currency:
                rows.append(
                    {
                        "month": month.label,
                        "payment_status": None,
                        "currency": None,
                        "invoices_count": 0,
                        "amount_cents": 0,
                    }
                )
            continue
        rows.extend(
            {
                "month": month.label,
                "payment_status": group["payment_status"],
                "currency": group["currency"],
                "invoices_count": group["count"],
                "amount_cents": int(group["amount"] or 0),
            }
            for group in groups
        )
    return rows
