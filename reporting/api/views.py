"""Lago's `/analytics/*` (plus bxb's churn and net revenue retention) and data exports."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from billing_project.core.api.views import OrganizationAPIView
from billing_project.core.errors import ValidationFailure
from billing_project.core.money import is_currency
from reporting import selectors
from reporting.api.serializers import (
    ChurnEnvelope,
    GrossRevenueEnvelope,
    InvoicedUsageEnvelope,
    MrrEnvelope,
    OverdueBalanceEnvelope,
    RetentionEnvelope,
)

MONTHS = OpenApiParameter("months", int, description="How many months back, this one included (default 12).")
CURRENCY = OpenApiParameter("currency", str, description="ISO 4217 code; no conversion between currencies.")
CUSTOMER = OpenApiParameter("external_customer_id", str)


def _filters(request: Request, *, customer: bool) -> dict[str, Any]:
    params = request.query_params
    kwargs: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    months = params.get("months")
    if months not in (None, ""):
        if not months.isdigit() or not 1 <= int(months) <= selectors.MAX_MONTHS:
            errors["months"] = ["value_is_invalid"]
        else:
            kwargs["months"] = int(months)
    currency = params.get("currency")
    if currency not in (None, ""):
        if not is_currency(currency.upper()):
            errors["currency"] = ["value_is_invalid"]
        else:
            kwargs["currency"] = currency.upper()
    if customer and params.get("external_customer_id"):
        kwargs["external_customer_id"] = params["external_customer_id"]
    if errors:
        raise ValidationFailure(errors)
    return kwargs


class _AnalyticsView(OrganizationAPIView):
    resource_name = "analytic"
    root_key = ""
    by_customer = False
    selector: Callable[..., list[dict[str, Any]]]

    def rows(self, request: Request) -> Response:
        data = self.selector(self.organization, **_filters(request, customer=self.by_customer))
        return Response({self.root_key: data})


class GrossRevenueView(_AnalyticsView):
    root_key, by_customer, selector = "gross_revenues", True, staticmethod(selectors.gross_revenue)

    @extend_schema(
        operation_id="analytics_gross_revenue",
        summary="Gross revenue by month and currency",
        parameters=[MONTHS, CURRENCY, CUSTOMER],
        responses=GrossRevenueEnvelope,
    )
    def get(self, request: Request) -> Response:
        return self.rows(request)


class InvoicedUsageView(_AnalyticsView):
    root_key, selector = "invoiced_usages", staticmethod(selectors.invoiced_usage)

    @extend_schema(
        operation_id="analytics_invoiced_usage",
        summary="Invoiced usage by month, currency and metric",
        parameters=[MONTHS, CURRENCY],
        responses=InvoicedUsageEnvelope,
    )
    def get(self, request: Request) -> Response:
        return self.rows(request)


class MrrView(_AnalyticsView):
    root_key, selector = "mrrs", staticmethod(selectors.mrr)

    @extend_schema(
        operation_id="analytics_mrr",
        summary="Monthly recurring revenue by month and currency",
        parameters=[MONTHS, CURRENCY],
        responses=MrrEnvelope,
    )
    def get(self, request: Request) -> Response:
        return self.rows(request)


class OverdueBalanceView(_AnalyticsView):
    root_key, by_customer, selector = "overdue_balances", True, staticmethod(selectors.overdue_balances)

    @extend_schema(
        operation_id="analytics_overdue_balance",
        summary="Overdue balances by month and currency",
        parameters=[MONTHS, CURRENCY, CUSTOMER],
        responses=OverdueBalanceEnvelope,
    )
    def get(self, request: Request) -> Response:
        return self.rows(request)


class ChurnView(_AnalyticsView):
    root_key, selector = "churns", staticmethod(selectors.churn)

    @extend_schema(
        operation_id="analytics_churn",
        summary="Customer churn by month and currency (bxb)",
        parameters=[MONTHS, CURRENCY],
        responses=ChurnEnvelope,
    )
    def get(self, request: Request) -> Response:
        return self.rows(request)


class RetentionView(_AnalyticsView):
    root_key, selector = "net_revenue_retentions", staticmethod(selectors.net_revenue_retention)

    @extend_schema(
        operation_id="analytics_net_revenue_retention",
        summary="Net revenue retention by month and currency (bxb)",
        parameters=[MONTHS, CURRENCY],
        responses=RetentionEnvelope,
    )
    def get(self, request: Request) -> Response:
        return self.rows(request)
