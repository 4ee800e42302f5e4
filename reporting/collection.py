"""Invoice collection analytics (`GET /analytics/invoice_collection`, docs/reporting.md): finalized
invoices by issuing month, payment status and currency, with their count and total."""

from __future__ import annotations

from datetime import date
from typing import Any, Unpack

from django.db.models import Count, Sum
from django.db.models.functions import TruncMonth

from reporting.selectors import InvoiceFilters, _month_key, finalized_invoices


def invoice_collection(organization: Any, **filters: Unpack[InvoiceFilters]) -> list[dict[str, Any]]:
    """One row per month, payment status and currency with finalized invoices, oldest month first,
    then by payment status and currency; a month without any is one row of zeros with a null
    status and currency, or nothing when a currency is asked for (as Lago)."""
    period, invoices = finalized_invoices(organization, "issuing_date", filters)
    if filters.get("external_customer_id"):
        invoices = invoices.filter(customer__deleted_at__isnull=True)
    currency = filters.get("currency")
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
