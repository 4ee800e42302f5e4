"""What the finance console reads: money per currency (invoiced, collected, due, overdue, aging),
what needs attention, and a customer's whole position. Reads only; organization first.

Amount due of an invoice: its total less what was paid and what credit notes offset, for a
finalized invoice whose payment has not succeeded (drafts and voided invoices owe nothing).
Overdue: amount due past the payment due date, counted in the organization's timezone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Case, F, Q, Sum, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from customers.models import Customer, Organization
from invoicing.models import BillingRun, Invoice, InvoiceStatus, PaymentStatus
from invoicing.selectors import invoice_amount_due, open_invoices
from payments.models import Payment
from payments.models import PaymentStatus as PaymentRowStatus

AGING_BUCKETS = (
    ("current", "Current", None, 0),
    ("1_30", "1–30 days", 1, 30),
    ("31_60", "31–60 days", 31, 60),
    ("61_90", "61–90 days", 61, 90),
    ("90_plus", "90+ days", 91, None),
)


def organization_today(organization: Organization, now: dt.datetime | None = None) -> dt.date:
    now = now or timezone.now()
    try:
        zone = ZoneInfo(organization.timezone or "UTC")
    except (ValueError, KeyError):
        zone = ZoneInfo("UTC")
    return now.astimezone(zone).date()


def invoice_days_overdue(invoice: Invoice, today: dt.date) -> int:
    if not invoice_amount_due(invoice):
        return 0
    return max((today - invoice.payment_due_date).days, 0)


# --------------------------------------------------------------------------------- the home page


@dataclass
class MonthFigures:
    label: str
    start: dt.date
    end: dt.date  # exclusive
    invoiced: dict[str, int] = field(default_factory=dict)
    collected: dict[str, int] = field(default_factory=dict)
    outstanding: dict[str, int] = field(default_factory=dict)
    overdue: dict[str, int] = field(default_factory=dict)


def _month_bounds(today: dt.date, back: int) -> tuple[dt.date, dt.date]:
    year, month = today.year, today.month - back
    while month < 1:
        year, month = year - 1, month + 12
    start = dt.date(year, month, 1)
    end = dt.date(year + (month == 12), month % 12 + 1, 1)
    return start, end


def _by_currency(rows: Any, key: str = "total") -> dict[str, int]:
    return {row["currency"]: int(row[key] or 0) for row in rows if row[key]}


def month_figures(organization: Organization, *, today: dt.date, back: int) -> MonthFigures:
    """Invoiced (finalized invoices issued in the month), collected (succeeded payments paid in the
    month), and of the month's invoices what is still due and what of it is overdue today."""
    start, end = _month_bounds(today, back)
    figures = MonthFigures(label=f"{start:%B %Y}", start=start, end=end)
    issued = Invoice.objects.filter(
        organization=organization,
        status__in=[InvoiceStatus.FINALIZED],
        issuing_date__gte=start,
        issuing_date__lt=end,
    )
    figures.invoiced = _by_currency(issued.values("currency").annotate(total=Sum("total_amount_cents")))
    zone = ZoneInfo(organization.timezone or "UTC")
    start_at = dt.datetime.combine(start, dt.time(), tzinfo=zone)
    end_at = dt.datetime.combine(end, dt.time(), tzinfo=zone)
    paid = Payment.objects.filter(organization=organization, status=PaymentRowStatus.SUCCEEDED).annotate(
        when=Coalesce("paid_at", "created_at")
    )
    figures.collected = _by_currency(
        paid.filter(when__gte=start_at, when__lt=end_at)
        .values("currency")
        .annotate(total=Sum(F("amount_cents") - F("refunded_amount_cents")))
    )
    month_open = open_invoices(organization).filter(issuing_date__gte=start, issuing_date__lt=end)
    figures.outstanding = _by_currency(month_open.values("currency").annotate(total=Sum("amount_due")))
    figures.overdue = _by_currency(
        month_open.filter(payment_due_date__lt=today).values("currency").annotate(total=Sum("amount_due"))
    )
    return figures


@dataclass
class AgingRow:
    currency: str
    buckets: dict[str, int]
    total: int


def aging(organization: Organization, *, today: dt.date) -> list[AgingRow]:
    """Amount due per currency by days past the payment due date."""
    aggregates: dict[str, Any] = {}
    for key, _, low, high in AGING_BUCKETS:
        if low is None:
            condition = Q(payment_due_date__gte=today)
        else:
            condition = Q(payment_due_date__lte=today - dt.timedelta(days=low))
            if high is not None:
                condition &= Q(payment_due_date__gte=today - dt.timedelta(days=high))
        aggregates[key] = Sum(Case(When(condition, then=F("amount_due")), default=Value(0)))
    rows = open_invoices(organization).values("currency").annotate(**aggregates).order_by("currency")
    result = []
    for row in rows:
        buckets = {key: int(row[key] or 0) for key, *_ in AGING_BUCKETS}
        result.append(AgingRow(currency=row["currency"], buckets=buckets, total=sum(buckets.values())))
    return result


def aging_bucket_dates(today: dt.date) -> dict[str, tuple[dt.date | None, dt.date | None]]:
    """Each bucket as a range of payment due dates (inclusive), for links to the invoice list."""
    ranges: dict[str, tuple[dt.date | None, dt.date | None]] = {}
    for key, _, low, high in AGING_BUCKETS:
        if low is None:
            ranges[key] = (today, None)
        else:
            ranges[key] = (
                today - dt.timedelta(days=high) if high is not None else None,
                today - dt.timedelta(days=low),
            )
    return ranges


@dataclass
class Attention:
    failed_payments: list[Invoice]
    drafts_past_grace: list[Invoice]
    disputes: list[Payment]
    failed_runs: list[BillingRun]


def attention(organization: Organization, *, now: dt.datetime, limit: int = 10) -> Attention:
    invoices = Invoice.objects.filter(organization=organization).select_related("customer")
    return Attention(
        failed_payments=list(
            invoices.filter(status=InvoiceStatus.FINALIZED, payment_status=PaymentStatus.FAILED).order_by(
                "payment_due_date"
            )[:limit]
        ),
        drafts_past_grace=list(
            invoices.filter(status=InvoiceStatus.DRAFT, finalize_at__lte=now).order_by("finalize_at")[:limit]
        ),
        disputes=list(
            Payment.objects.filter(organization=organization)
            .exclude(dispute_status="")
            .select_related("invoice", "customer")
            .order_by("-created_at")[:limit]
        ),
        failed_runs=list(
            BillingRun.objects.filter(Q(organization=organization) | Q(organization__isnull=True))
            .filter(customers_failed__gt=0)
            .order_by("-created_at")[:5]
        ),
    )


def billing_runs(organization: Organization | None, *, limit: int = 8) -> list[BillingRun]:
    qs = BillingRun.objects.all()
    if organization is not None:
        qs = qs.filter(Q(organization=organization) | Q(organization__isnull=True))
    return list(qs.order_by("-created_at")[:limit])


# ------------------------------------------------------------------------------ a customer's money


@dataclass
class Balance:
    currency: str
    invoiced: int = 0
    due: int = 0
    overdue: int = 0
    oldest_overdue: dt.date | None = None
    credit_notes_available: int = 0
    wallet_balance: int = 0


def customer_balances(customer: Customer, *, today: dt.date) -> list[Balance]:
    """Per currency: what the customer was invoiced, owes, owes past due (since when), and holds as
    credit (credit notes' remaining credit, wallets' balances)."""
    from invoicing.credits.models import CreditNote, Wallet

    balances: dict[str, Balance] = {}

    def row(currency: str) -> Balance:
        return balances.setdefault(currency, Balance(currency=currency))

    invoiced = (
        Invoice.objects.filter(customer=customer, status=InvoiceStatus.FINALIZED)
        .values("currency")
        .annotate(total=Sum("total_amount_cents"))
    )
    for item in invoiced:
        row(item["currency"]).invoiced = int(item["total"] or 0)
    for invoice in open_invoices(customer.organization).filter(customer=customer).order_by("payment_due_date"):
        balance = row(invoice.currency)
        balance.due += invoice.amount_due
        if invoice.payment_due_date < today:
            balance.overdue += invoice.amount_due
            balance.oldest_overdue = balance.oldest_overdue or invoice.payment_due_date
    notes = (
        CreditNote.objects.filter(customer=customer, credit_status="available")
        .values("currency")
        .annotate(total=Sum("balance_amount_cents"))
    )
    for item in notes:
        if item["total"]:
            row(item["currency"]).credit_notes_available = int(item["total"])
    for wallet in Wallet.objects.filter(customer=customer, status="active"):
        row(wallet.currency).wallet_balance += wallet.balance_cents
    return sorted(balances.values(), key=lambda b: b.currency)
