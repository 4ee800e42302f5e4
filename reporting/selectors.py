"""Analytics: SQL aggregates over invoices, fees and subscriptions, by month and currency.

Every function takes the organization first and returns plain rows (dicts) for the last `months`
calendar months (UTC) up to the month of `today`, oldest first. Amounts are integer minor units of
their currency; currencies are never converted. Definitions are in docs/reporting.md.

No function loops over invoices or subscriptions in Python: each does a constant number of
aggregate queries (or one per month for churn and retention), whatever the data volume.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, TypedDict, Unpack

from django.db.models import (
    BigIntegerField,
    Case,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import TruncMonth
from django.utils import timezone

from billing_project.core.found import found
from billing_project.core.money import round_cents
from catalog.models import PlanInterval
from customers.models import Customer
from invoicing.credits.models import CreditNote
from invoicing.models import Fee, FeeType, Invoice, InvoiceStatus
from reporting.models import Export
from subscriptions.models import Subscription, SubscriptionStatus

DEFAULT_MONTHS = 12
MAX_MONTHS = 120

# MRR normalization: a plan's amount times its periods per year gives annual cents (an exact
# integer in SQL); MRR is annual / 12, rounded half-up once per month and currency.
PERIODS_PER_YEAR = {
    PlanInterval.WEEKLY: 52,  # weekly x 52 / 12
    PlanInterval.MONTHLY: 12,
    PlanInterval.QUARTERLY: 4,  # quarterly / 3
    PlanInterval.SEMIANNUAL: 2,  # semiannual / 6
    PlanInterval.YEARLY: 1,  # yearly / 12
}


@dataclass(frozen=True)
class Month:
    start: date

    @property
    def end(self) -> date:
        """The first day of the next month (ranges are half-open)."""
        if self.start.month == 12:
            return date(self.start.year + 1, 1, 1)
        return date(self.start.year, self.start.month + 1, 1)

    @property
    def start_at(self) -> datetime:
        return datetime(self.start.year, self.start.month, 1, tzinfo=UTC)

    @property
    def end_at(self) -> datetime:
        return datetime(self.end.year, self.end.month, 1, tzinfo=UTC)

    @property
    def label(self) -> str:
        """Lago's month format."""
        return f"{self.start:%Y-%m}-01T00:00:00.000Z"


def month_range(months: int = DEFAULT_MONTHS, *, today: date | None = None) -> list[Month]:
    """The last `months` calendar months, oldest first, ending with the month of `today` (UTC)."""
    today = today or timezone.now().astimezone(UTC).date()
    year, month = today.year, today.month
    result = []
    for _ in range(max(1, min(months, MAX_MONTHS))):
        result.append(Month(date(year, month, 1)))
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return list(reversed(result))


def _month_key(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date().replace(day=1)
    return value.replace(day=1)


def _ratio(numerator: int, denominator: int) -> str | None:
    if not denominator:
        return None
    return str((Decimal(numerator) / Decimal(denominator)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP))


def _mrr_from_annual(annual_cents: int | None) -> int:
    return round_cents(Decimal(annual_cents or 0) / 12)


def _fill(
    months: list[Month], found: dict[tuple[date, str], dict[str, Any]], currency: str | None, empty: dict[str, Any]
) -> list[dict[str, Any]]:
    """One row per month and currency seen (or the requested currency); months without data get
    `empty` values. With no data and no currency at all, one row per month with a null currency and
    a null amount (Lago's shape)."""
    currencies = sorted({key[1] for key in found})
    if currency:
        currencies = [currency]
    rows: list[dict[str, Any]] = []
    for month in months:
        if not currencies:
            row = {"month": month.label, "currency": None, **empty}
            if "amount_cents" in row:
                row["amount_cents"] = None
            rows.append(row)
        for code in currencies:
            values = found.get((month.start, code))
            rows.append({"month": month.label, "currency": code, **(values if values is not None else empty)})
    return rows


# --- Gross revenue ---------------------------------------------------------------------------


class InvoiceFilters(TypedDict, total=False):
    """The filters of the analytics read from finalized invoices (`gross_revenue`,
    `overdue_balances`, `reporting.collection.invoice_collection`): the last `months` months up to
    the month of `today`, one currency, one customer (its `external_id`), one billing entity."""

    months: int
    currency: str | None
    external_customer_id: str | None
    today: date | None
    billing_entity_id: Any


def finalized_invoices(
    organization: Any, date_field: str, filters: InvoiceFilters, **conditions: Any
) -> tuple[list[Month], QuerySet[Invoice]]:
    """The months asked for and the organization's finalized invoices whose `date_field` falls in
    them, narrowed by `filters` and `conditions`."""
    period = month_range(filters.get("months", DEFAULT_MONTHS), today=filters.get("today"))
    in_period = {f"{date_field}__gte": period[0].start, f"{date_field}__lt": period[-1].end}
    invoices = Invoice.objects.filter(
        organization=organization, status=InvoiceStatus.FINALIZED, **conditions, **in_period
    )
    if currency := filters.get("currency"):
        invoices = invoices.filter(currency=currency)
    if external_customer_id := filters.get("external_customer_id"):
        invoices = invoices.filter(customer__external_id=external_customer_id)
    if (billing_entity_id := filters.get("billing_entity_id")) is not None:
        invoices = invoices.filter(billing_entity_id=billing_entity_id)
    return period, invoices


def gross_revenue(organization: Any, **filters: Unpack[InvoiceFilters]) -> list[dict[str, Any]]:
    """Finalized invoices' totals (taxes included, after coupons, credit notes and prepaid credits
    applied on the invoice) by issuing month, minus refunds of non-voided credit notes issued that
    month. Draft, failed and voided invoices do not count. Only the (month, currency) that have an
    invoice or a refund, as Lago's server answers `GET /analytics/gross_revenue`."""
    _period, found = _gross_revenue_found(organization, filters)
    return [
        {"month": Month(month).label, "currency": code, **values} for (month, code), values in sorted(found.items())
    ]


def gross_revenue_series(
    organization: Any,
    *,
    months: int = DEFAULT_MONTHS,
    currency: str | None = None,
    external_customer_id: str | None = None,
    today: date | None = None,
) -> list[dict[str, Any]]:
    """`gross_revenue` with every month of the range for each currency seen (0 where nothing was
    invoiced), for charts; with no data at all, one row a month with a null currency and amount."""
    period, found = _gross_revenue_found(
        organization,
        InvoiceFilters(months=months, currency=currency, external_customer_id=external_customer_id, today=today),
    )
    return _fill(period, found, currency, {"amount_cents": 0, "invoices_count": 0})


def _gross_revenue_found(
    organization: Any, filters: InvoiceFilters
) -> tuple[list[Month], dict[tuple[date, str], dict[str, Any]]]:
    period, invoices = finalized_invoices(organization, "issuing_date", filters)
    credit_notes = CreditNote.objects.filter(
        organization=organization,
        voided_at__isnull=True,
        issuing_date__gte=period[0].start,
        issuing_date__lt=period[-1].end,
    ).exclude(refund_amount_cents=0)
    currency, external_customer_id = filters.get("currency"), filters.get("external_customer_id")
    billing_entity_id = filters.get("billing_entity_id")
    if currency:
        credit_notes = credit_notes.filter(currency=currency)
    if external_customer_id:
        credit_notes = credit_notes.filter(customer__external_id=external_customer_id)
    if billing_entity_id is not None:
        credit_notes = credit_notes.filter(invoice__billing_entity_id=billing_entity_id)

    found: dict[tuple[date, str], dict[str, Any]] = {}
    for row in (
        invoices.annotate(month=TruncMonth("issuing_date"))
        .values("month", "currency")
        .annotate(amount=Sum("total_amount_cents"), count=Count("id"))
        .order_by()
    ):
        found[(_month_key(row["month"]), row["currency"])] = {
            "amount_cents": int(row["amount"] or 0),
            "invoices_count": row["count"],
        }
    for row in (
        credit_notes.annotate(month=TruncMonth("issuing_date"))
        .values("month", "currency")
        .annotate(refunded=Sum("refund_amount_cents"))
        .order_by()
    ):
        values = found.setdefault((_month_key(row["month"]), row["currency"]), {"amount_cents": 0, "invoices_count": 0})
        values["amount_cents"] -= int(row["refunded"] or 0)
    return period, found


# --- Invoiced usage --------------------------------------------------------------------------


def invoiced_usage(
    organization: Any, *, months: int = DEFAULT_MONTHS, currency: str | None = None, today: date | None = None
) -> list[dict[str, Any]]:
    """Usage-based (charge) fees on finalized invoices, excluding taxes and before coupons, by
    issuing month, currency and billable metric code. Only (month, currency, code) with fees."""
    period = month_range(months, today=today)
    fees = Fee.objects.filter(
        organization=organization,
        fee_type=FeeType.CHARGE,
        invoice__status=InvoiceStatus.FINALIZED,
        invoice__issuing_date__gte=period[0].start,
        invoice__issuing_date__lt=period[-1].end,
    )
    if currency:
        fees = fees.filter(currency=currency)
    rows = (
        fees.annotate(month=TruncMonth("invoice__issuing_date"), code=F("charge__billable_metric__code"))
        .values("month", "currency", "code")
        .annotate(amount=Sum("amount_cents"))
        .order_by("month", "currency", "code")
    )
    return [
        {
            "month": Month(_month_key(row["month"])).label,
            "currency": row["currency"],
            "code": row["code"],
            "amount_cents": int(row["amount"] or 0),
        }
        for row in rows
    ]


# --- Overdue balances ------------------------------------------------------------------------


def overdue_balances(organization: Any, **filters: Unpack[InvoiceFilters]) -> list[dict[str, Any]]:
    """What is still due on finalized invoices flagged overdue (past their payment due date and not
    paid), by month of the payment due date and currency, with the invoices' ids."""
    _period, invoices = finalized_invoices(organization, "payment_due_date", filters, payment_overdue=True)
    invoices = invoices.annotate(month=TruncMonth("payment_due_date"))
    due = ExpressionWrapper(F("total_amount_cents") - F("total_paid_amount_cents"), output_field=BigIntegerField())
    totals = invoices.values("month", "currency").annotate(amount=Sum(due)).order_by("month", "currency")
    ids: dict[tuple[date, str], list[str]] = {}
    for invoice_id, month, code in invoices.order_by("payment_due_date", "id").values_list("id", "month", "currency"):
        ids.setdefault((_month_key(month), code), []).append(str(invoice_id))
    return [
        {
            "month": Month(_month_key(row["month"])).label,
            "currency": row["currency"],
            "amount_cents": int(row["amount"] or 0),
            "lago_invoice_ids": ids.get((_month_key(row["month"]), row["currency"]), []),
        }
        for row in totals
    ]


# --- MRR, churn, net revenue retention -------------------------------------------------------


def _annual_amount() -> Case:
    return Case(
        *[
            When(plan__interval=interval, then=F("plan__amount_cents") * Value(factor))
            for interval, factor in PERIODS_PER_YEAR.items()
        ],
        default=Value(0),
        output_field=BigIntegerField(),
    )


def _running_at(instant: datetime, prefix: str = "") -> Q:
    """A subscription that is started, not terminated and out of its trial at `instant`."""
    p = prefix
    return (
        Q(**{f"{p}status__in": [SubscriptionStatus.ACTIVE, SubscriptionStatus.TERMINATED]})
        & Q(**{f"{p}started_at__isnull": False, f"{p}started_at__lt": instant})
        & (Q(**{f"{p}terminated_at__isnull": True}) | Q(**{f"{p}terminated_at__gte": instant}))
        & (Q(**{f"{p}trial_ends_at__isnull": True}) | Q(**{f"{p}trial_ends_at__lt": instant}))
    )


def _subscriptions(organization: Any, currency: str | None, external_customer_id: str | None = None) -> QuerySet:
    qs = Subscription.objects.filter(organization=organization)
    if currency:
        qs = qs.filter(plan__amount_currency=currency)
    if external_customer_id:
        qs = qs.filter(customer__external_id=external_customer_id)
    return qs


def mrr(
    organization: Any, *, months: int = DEFAULT_MONTHS, currency: str | None = None, today: date | None = None
) -> list[dict[str, Any]]:
    """Monthly recurring revenue at the close of each month: the plans of running subscriptions
    (started, not terminated, trial over), normalized to a month, excluding taxes, coupons and usage.
    One query for all months."""
    period = month_range(months, today=today)
    annual = _annual_amount()
    aggregates = {
        f"m{index}": Sum(Case(When(_running_at(month.end_at), then=annual), default=Value(0)))
        for index, month in enumerate(period)
    }
    found: dict[tuple[date, str], dict[str, Any]] = {}
    for row in (
        _subscriptions(organization, currency)
        .values("plan__amount_currency")
        .annotate(**aggregates)
        .order_by("plan__amount_currency")
    ):
        code = row["plan__amount_currency"]
        for index, month in enumerate(period):
            if row[f"m{index}"]:
                found[(month.start, code)] = {"amount_cents": _mrr_from_annual(row[f"m{index}"])}
    return _fill(period, found, currency, {"amount_cents": 0})


def _paying_subscription(instant: datetime, currency: str) -> QuerySet:
    """A subscription of the outer customer paying in `currency` at `instant` (a customer may pay in
    several currencies: each subscription's is its plan's)."""
    return Subscription.objects.filter(
        _running_at(instant), customer=OuterRef("pk"), plan__amount_cents__gt=0, plan__amount_currency=currency
    )


def _paying_currencies(organization: Any, currency: str | None) -> list[str]:
    """The currencies customers may pay in: the requested one, or those of the organization's
    subscriptions on a non-zero plan."""
    if currency:
        return [currency]
    return list(
        Subscription.objects.filter(organization=organization, plan__amount_cents__gt=0)
        .values_list("plan__amount_currency", flat=True)
        .distinct()
        .order_by("plan__amount_currency")
    )


def churn(
    organization: Any, *, months: int = DEFAULT_MONTHS, currency: str | None = None, today: date | None = None
) -> list[dict[str, Any]]:
    """Customer churn by month (bxb extra): of the customers paying at the start of the month (a
    running subscription with a non-zero plan amount), those paying nothing at its close. Per
    currency of the subscriptions (a customer paying in two currencies counts in both, and churns
    in one when its subscriptions in that currency stop); one query per month and currency."""
    period = month_range(months, today=today)
    customers = Customer.objects.filter(organization=organization)
    found: dict[tuple[date, str], dict[str, Any]] = {}
    for code, month in ((code, month) for code in _paying_currencies(organization, currency) for month in period):
        row = customers.annotate(
            at_start=Exists(_paying_subscription(month.start_at, code)),
            at_end=Exists(_paying_subscription(month.end_at, code)),
        ).aggregate(
            starting=Count("id", filter=Q(at_start=True)),
            churned=Count("id", filter=Q(at_start=True, at_end=False)),
            new=Count("id", filter=Q(at_start=False, at_end=True)),
        )
        if row["starting"] or row["new"]:
            found[(month.start, code)] = {
                "customers_at_start": row["starting"],
                "churned_customers": row["churned"],
                "new_customers": row["new"],
                "churn_rate": _ratio(row["churned"], row["starting"]),
            }
    empty = {"customers_at_start": 0, "churned_customers": 0, "new_customers": 0, "churn_rate": None}
    return [row for row in _fill(period, found, currency, empty) if row["currency"] is not None]


def net_revenue_retention(
    organization: Any, *, months: int = DEFAULT_MONTHS, currency: str | None = None, today: date | None = None
) -> list[dict[str, Any]]:
    """Net revenue retention by month (bxb extra): the MRR at the month's close of the customers who
    had MRR at its start (expansion and contraction included, new customers excluded), divided by
    their MRR at the start. One query per month."""
    period = month_range(months, today=today)
    annual = _annual_amount()
    found: dict[tuple[date, str], dict[str, Any]] = {}
    for month in period:
        had_mrr = Subscription.objects.filter(  # MRR at the start in the same currency
            _running_at(month.start_at),
            customer=OuterRef("customer_id"),
            plan__amount_cents__gt=0,
            plan__amount_currency=OuterRef("plan__amount_currency"),
        )
        rows = (
            _subscriptions(organization, currency)
            .annotate(cohort=Exists(had_mrr))
            .filter(cohort=True)
            .values("plan__amount_currency")
            .annotate(
                starting=Sum(Case(When(_running_at(month.start_at), then=annual), default=Value(0))),
                retained=Sum(Case(When(_running_at(month.end_at), then=annual), default=Value(0))),
            )
            .order_by("plan__amount_currency")
        )
        for row in rows:
            starting, retained = _mrr_from_annual(row["starting"]), _mrr_from_annual(row["retained"])
            if starting:
                found[(month.start, row["plan__amount_currency"])] = {
                    "starting_mrr_cents": starting,
                    "retained_mrr_cents": retained,
                    "net_revenue_retention": _ratio(row["retained"], row["starting"]),
                }
    empty = {"starting_mrr_cents": 0, "retained_mrr_cents": 0, "net_revenue_retention": None}
    return [row for row in _fill(period, found, currency, empty) if row["currency"] is not None]


def customer_lifetime_value(
    organization: Any, *, months: int = DEFAULT_MONTHS, currency: str | None = None, today: date | None = None
) -> list[dict[str, Any]]:
    """Customer lifetime value per currency (bxb extra; docs/reporting.md): the average MRR of a
    paying customer at the close of this month divided by the average monthly churn rate of the
    last `months` months (churned customers over customers at the start, summed over the months).
    Null while no customer churned (the lifetime is not yet measurable)."""
    churn_rows = churn(organization, months=months, currency=currency, today=today)
    mrr_rows = {r["currency"]: r["amount_cents"] for r in mrr(organization, months=1, currency=currency, today=today)}
    period = month_range(1, today=today)[-1]
    everyone = Customer.objects.filter(organization=organization)
    counts = {
        code: count
        for code in _paying_currencies(organization, currency)
        if (count := everyone.filter(Exists(_paying_subscription(period.end_at, code))).count())
    }
    rows = []
    for code in sorted({*counts, *(c for c in mrr_rows if c)} | ({currency} if currency else set())):
        started = sum(r["customers_at_start"] for r in churn_rows if r["currency"] == code)
        churned = sum(r["churned_customers"] for r in churn_rows if r["currency"] == code)
        mrr_cents = int(mrr_rows.get(code) or 0)
        customers = counts.get(code, 0)
        arpa = round_cents(Decimal(mrr_cents) / customers) if customers else 0
        rate = _ratio(churned, started)
        lifetime = round_cents(Decimal(arpa) / Decimal(rate)) if rate and Decimal(rate) > 0 else None
        rows.append(
            {
                "currency": code,
                "months": months,
                "mrr_cents": mrr_cents,
                "paying_customers": customers,
                "average_revenue_per_customer_cents": arpa,
                "average_churn_rate": rate,
                "lifetime_value_cents": lifetime,
            }
        )
    return rows


# --- Exports ---------------------------------------------------------------------------------


def export_list(organization: Any) -> QuerySet:
    return Export.objects.filter(organization=organization)


def export_get(organization: Any, export_id: Any) -> Export:
    return found(
        Export.objects.filter(organization=organization, id=export_id).first(),
        "export",
    )
