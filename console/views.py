"""The console's own pages: finance home, aging, billing runs. Thin: selectors read, services act.
Each is registered in `console.site.ConsoleSite.get_urls` behind `console_view`."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from billing_project.core.console import money
from billing_project.core.money import from_cents, is_currency
from console import selectors
from console.zone import console_organization
from customers.models import Customer, Organization
from invoicing.billing import runs
from invoicing.models import BillingRun
from reporting import selectors as analytics
from reporting.charts import bar_chart


def _organization(request: HttpRequest) -> tuple[Organization | None, list[Organization]]:
    """The organization the page is about (`console.zone.console_organization`: named, remembered,
    else the first by name) and every organization for the picker."""
    organizations = list(Organization.objects.order_by("name").only("id", "name", "default_currency", "timezone"))
    current = console_organization(request)
    chosen = next((o for o in organizations if current is not None and o.pk == current.pk), None)
    return chosen or (organizations[0] if organizations else None), organizations


def _context(site: admin.AdminSite, request: HttpRequest, title: str, **extra: Any) -> dict[str, Any]:
    return {**site.each_context(request), "title": title, **extra}


def invoice_list_url(organization: Organization | None, **filters: Any) -> str:
    query = {"organization__id__exact": str(organization.id)} if organization else {}
    query.update({key: str(value) for key, value in filters.items()})
    return f"{reverse('admin:invoicing_invoice_changelist')}?{urlencode(query)}"


def _month_invoices_url(organization: Organization, currency: str, month: Any, **filters: Any) -> str:
    """The invoice list of one currency issued in `month` (`filters`, such as `due`, before the dates)."""
    return invoice_list_url(
        organization,
        currency__exact=currency,
        **filters,
        issuing_date__gte=month.start.isoformat(),
        issuing_date__lt=month.end.isoformat(),
    )


def _ratio(value: str | None) -> str:
    return f"{Decimal(value) * 100:.1f} %" if value else "-"


def _metrics(organization: Organization, today: dt.date) -> list[dict[str, Any]]:
    """MRR, churn, net revenue retention and lifetime value per currency, this month."""
    rows: dict[str, dict[str, Any]] = {}
    for row in analytics.mrr(organization, months=1, today=today):
        if row["currency"]:
            rows.setdefault(row["currency"], {})["mrr"] = money(row["amount_cents"], row["currency"])
    for row in analytics.churn(organization, months=1, today=today):
        rows.setdefault(row["currency"], {})["churn"] = _ratio(row["churn_rate"])
    for row in analytics.net_revenue_retention(organization, months=1, today=today):
        rows.setdefault(row["currency"], {})["nrr"] = _ratio(row["net_revenue_retention"])
    for row in analytics.customer_lifetime_value(organization, today=today):
        rows.setdefault(row["currency"], {})["ltv"] = (
            money(row["lifetime_value_cents"], row["currency"]) if row["lifetime_value_cents"] is not None else "-"
        )
    return [{"currency": code, **values} for code, values in sorted(rows.items())]


def _revenue_charts(organization: Organization, today: dt.date) -> list[dict[str, Any]]:
    charts = []
    rows = analytics.gross_revenue_series(organization, months=6, today=today)
    for currency in sorted({row["currency"] for row in rows if row["currency"]}):
        mine = [row for row in rows if row["currency"] == currency]
        labels = [row["month"][:7] for row in mine]
        values = [float(from_cents(row["amount_cents"] or 0, currency)) for row in mine]  # chart heights only
        charts.append(
            {
                "currency": currency,
                "chart": bar_chart(labels, values, fmt=lambda v, c=currency: f"{Decimal(str(v)):,.0f} {c}"),
            }
        )
    return charts


def home_view(site: admin.AdminSite, request: HttpRequest, extra_context: dict[str, Any] | None) -> HttpResponse:
    organization, organizations = _organization(request)
    context = _context(site, request, "Finance home", organizations=organizations, organization=organization)
    context["app_list"] = site.get_app_list(request)
    if organization is not None:
        now = timezone.now()
        today = selectors.organization_today(organization, now)
        months = [selectors.month_figures(organization, today=today, back=back) for back in (0, 1)]
        currencies = sorted(
            {c for m in months for c in (*m.invoiced, *m.collected, *m.outstanding, *m.overdue)}
            | {organization.default_currency}
        )
        context.update(
            today=today,
            currencies=currencies,
            months=[
                {
                    "label": m.label,
                    "rows": [
                        {
                            "currency": c,
                            "invoiced": money(m.invoiced.get(c, 0), c),
                            "collected": money(m.collected.get(c, 0), c),
                            "outstanding": money(m.outstanding.get(c, 0), c),
                            "overdue": money(m.overdue.get(c, 0), c),
                            "overdue_cents": m.overdue.get(c, 0),
                            "invoices_url": _month_invoices_url(organization, c, m),
                            "due_url": _month_invoices_url(organization, c, m, due="open"),
                            "overdue_url": _month_invoices_url(organization, c, m, due="overdue"),
                        }
                        for c in currencies
                    ],
                }
                for m in months
            ],
            receivables=[
                {
                    "currency": row.currency,
                    "due": money(row.total, row.currency),
                    "overdue": money(row.total - row.buckets["current"], row.currency),
                    "overdue_cents": row.total - row.buckets["current"],
                    "due_url": invoice_list_url(organization, currency__exact=row.currency, due="open"),
                    "overdue_url": invoice_list_url(organization, currency__exact=row.currency, due="overdue"),
                }
                for row in selectors.aging(organization, today=today)
            ],
            metrics=_metrics(organization, today),
            charts=_revenue_charts(organization, today),
            attention=selectors.attention(organization, now=now),
            runs=selectors.billing_runs(organization),
            links={
                "overdue": invoice_list_url(organization, due="overdue"),
                "failed": invoice_list_url(organization, payment_status__exact="failed", status__exact="finalized"),
                "drafts": invoice_list_url(organization, status__exact="draft"),
                "aging": f"{reverse('admin:console_aging')}?organization={organization.id}",
                "runs": f"{reverse('admin:console_billing_runs')}?organization={organization.id}",
            },
        )
    context.update(extra_context or {})
    request.current_app = site.name
    return TemplateResponse(request, "console/home.html", context)


def aging_view(request: HttpRequest) -> HttpResponse:
    site = admin.site
    organization, organizations = _organization(request)
    context = _context(site, request, "Receivables aging", organizations=organizations, organization=organization)
    if organization is not None:
        today = selectors.organization_today(organization)
        ranges = selectors.aging_bucket_dates(today)
        rows = []
        for row in selectors.aging(organization, today=today):
            cells = []
            for key, *_ in selectors.AGING_BUCKETS:
                low, high = ranges[key]
                filters: dict[str, Any] = {"currency__exact": row.currency, "due": "open"}
                if low:
                    filters["payment_due_date__gte"] = low.isoformat()
                if high:
                    filters["payment_due_date__lte"] = high.isoformat()
                cells.append(
                    {"amount": money(row.buckets[key], row.currency), "url": invoice_list_url(organization, **filters)}
                )
            labels = [label for _, label, *_ in selectors.AGING_BUCKETS]
            heights = [float(from_cents(row.buckets[key], row.currency)) for key, *_ in selectors.AGING_BUCKETS]
            chart = bar_chart(labels, heights, fmt=lambda v, c=row.currency: f"{Decimal(str(v)):,.0f} {c}")
            rows.append(
                {"currency": row.currency, "cells": cells, "total": money(row.total, row.currency), "chart": chart}
            )
        context.update(today=today, buckets=[label for _, label, *_ in selectors.AGING_BUCKETS], rows=rows)
    return TemplateResponse(request, "console/aging.html", context)


# ------------------------------------------------------------------------------------ billing runs


class BillingRunForm(forms.Form):
    organization = forms.ModelChoiceField(queryset=Organization.objects.order_by("name"))
    date = forms.DateField(
        help_text="Bills what is due by the end of this day (UTC), as `run_billing --date` does.",
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    def instant(self) -> dt.datetime:
        day = self.cleaned_data["date"]
        return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC) - dt.timedelta(seconds=1)


def billing_runs_view(request: HttpRequest) -> HttpResponse:
    organization, organizations = _organization(request)
    form = BillingRunForm(
        initial={"organization": organization, "date": timezone.now().date()} if organization else None
    )
    context = _context(
        admin.site,
        request,
        "Billing runs",
        organizations=organizations,
        organization=organization,
        runs=selectors.billing_runs(organization, limit=30),
        form=form,
        may_start=request.user.has_perm("invoicing.add_invoice"),
    )
    return TemplateResponse(request, "console/billing_runs.html", context)


def billing_run_start_view(request: HttpRequest) -> HttpResponse:
    """GET/POST "preview": what is due (a dry run, recorded as such); POST "start": the run itself."""
    form = BillingRunForm(request.POST or request.GET or None)
    context = _context(admin.site, request, "Start a billing run", form=form)
    if form.is_bound and form.is_valid():
        organization, at = form.cleaned_data["organization"], form.instant()
        if request.method == "POST" and request.POST.get("step") == "start":
            run = runs.billing_run_launch(at, organization=organization, trigger="console")
            messages.success(
                request,
                f"Billing run started for {organization.name} at {at:%Y-%m-%d %H:%M} UTC: "
                f"{run.customers_due} customer(s), {run.subscriptions_due} subscription(s) due.",
            )
            return HttpResponseRedirect(f"{reverse('admin:console_billing_runs')}?organization={organization.id}")
        plan = runs.billing_run_plan(at, organization=organization)  # reads only
        customers = Customer.objects.filter(id__in=list(plan.due)).order_by("external_id")
        context.update(
            preview=True,
            at=at,
            organization=organization,
            due=[{"customer": c, "subscriptions": plan.due[c.id].subscriptions} for c in customers],
            subscriptions=plan.subscriptions,
            oldest_due_at=plan.oldest_due_at,
        )
    return TemplateResponse(request, "console/billing_run_start.html", context)


def billing_run_retry_view(request: HttpRequest, run_id: Any) -> HttpResponse:
    """Bill again the customers a run failed on (they are still due; nothing is billed twice)."""
    run = get_object_or_404(BillingRun, id=run_id)
    failed = runs.billing_run_failed_customer_ids(run)
    back = f"{reverse('admin:console_billing_runs')}?organization={run.organization_id or ''}"
    if request.method != "POST":
        context = _context(admin.site, request, "Re-run failed customers", run=run, failures=run.failures)
        return TemplateResponse(request, "console/billing_run_retry.html", context)
    if not failed:
        messages.warning(request, "This run has no failed customers.")
        return HttpResponseRedirect(back)
    new_run = runs.billing_run_launch(
        run.at, organization=run.organization, trigger="console_retry", customer_ids=failed
    )
    messages.success(
        request,
        f"Re-running {new_run.customers_due} of {len(failed)} failed customer(s) "
        "(the others have nothing due any more).",
    )
    return HttpResponseRedirect(back)


def currency_or(value: str | None, fallback: str) -> str:
    code = (value or "").upper()
    return code if is_currency(code) else fallback
