"""Lago's `/analytics/*` (plus bxb's churn and net revenue retention) and data exports."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from typing import Any

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework.request import Request
from rest_framework.response import Response

from billing_project.core.api.filters import PLAIN_PAGE_PARAMETERS
from billing_project.core.api.pagination import paginated_response
from billing_project.core.api.resources import endpoint, named
from billing_project.core.api.views import OrganizationAPIView, root_payload, validate_input
from billing_project.core.replica import replica_reads
from customers.entities import billing_entity_get
from reporting import collection, selectors, services, usage
from reporting.api import filters
from reporting.api.serializers import (
    ChurnEnvelope,
    ExportEnvelope,
    ExportInput,
    ExportInputEnvelope,
    ExportListEnvelope,
    ExportOutput,
    GrossRevenueEnvelope,
    InvoiceCollectionEnvelope,
    InvoicedUsageEnvelope,
    LifetimeValueEnvelope,
    MrrEnvelope,
    OverdueBalanceEnvelope,
    RetentionEnvelope,
    UsageEnvelope,
)

Rows = list[dict[str, Any]]
_PARAMETERS = {parameter.name: parameter for parameter in filters.AnalyticsFilters.schema_parameters()}
MONTHS = _PARAMETERS["months"]
CURRENCY = _PARAMETERS["currency"]
CUSTOMER = _PARAMETERS["external_customer_id"]
BILLING_ENTITY = _PARAMETERS["billing_entity_code"]


def _filters(request: Request, organization: Any, *, customer: bool) -> dict[str, Any]:
    params = filters.AnalyticsFilters.parse(request)
    wanted = ("months", "currency", "external_customer_id") if customer else ("months", "currency")
    query = {name: params[name] for name in wanted if params[name] not in (None, "")}
    if customer and params["billing_entity_code"]:  # Lago's filter of the invoice-based analytics
        query["billing_entity_id"] = billing_entity_get(organization, params["billing_entity_code"]).pk
    return query


class _AnalyticsView(OrganizationAPIView):
    resource_name = "analytic"
    metric = ""  # its route is analytics/<metric> and its operation analytics_<metric>
    root_key = ""
    by_customer = False
    selector: Callable[..., Rows]

    def rows(self, request: Request) -> Response:
        query = _filters(request, self.organization, customer=self.by_customer)
        with replica_reads():  # analytics tolerate a replica's lag
            data = self.selector(self.organization, **query)
        return Response({self.root_key: data})


def _analytics_view(envelope: Any, selector: Callable[..., Rows], summary: str, *, by_customer: bool = False) -> Any:
    """The view of `envelope` (`<Name>Envelope` -> `<Name>View`): `{root: selector(organization,
    months, currency[, customer])}`, `root` the envelope's one field, operation `analytics_<root>`
    without its plural `s`."""
    root = next(iter(envelope().fields))
    parameters = [MONTHS, CURRENCY, CUSTOMER, BILLING_ENTITY] if by_customer else [MONTHS, CURRENCY]

    class View(_AnalyticsView):
        @endpoint(f"analytics_{root[:-1]}", envelope, parameters=parameters, summary=summary)
        def get(self, request: Request) -> Response:
            return self.rows(request)

    View.root_key, View.by_customer, View.metric = root, by_customer, root[:-1]
    View.selector = staticmethod(selector)  # type: ignore[assignment]
    return named(View, envelope.__name__.removesuffix("Envelope") + "View", __name__)


GrossRevenueView = _analytics_view(
    GrossRevenueEnvelope, selectors.gross_revenue, "Gross revenue by month and currency", by_customer=True
)
InvoiceCollectionView = _analytics_view(
    InvoiceCollectionEnvelope,
    collection.invoice_collection,
    "Finalized invoices by month, payment status and currency",
    by_customer=True,
)


class UsageView(OrganizationAPIView):
    resource_name = "analytic"
    metric = "usage"

    @endpoint("analytics_usage", UsageEnvelope, parameters=filters.UsageAnalyticsFilters.schema_parameters())
    def get(self, request: Request) -> Response:
        """Usage fees' units and amounts by day, week or month, currency and billable metric"""
        params = filters.UsageAnalyticsFilters.parse(request)
        given = {f.name: params[f.name] for f in fields(usage.UsageFilters) if params.get(f.name) is not None}
        with replica_reads():
            rows = usage.usages(self.organization, usage.UsageFilters(**given))
        return Response({"usages": rows})


InvoicedUsageView = _analytics_view(
    InvoicedUsageEnvelope, selectors.invoiced_usage, "Invoiced usage by month, currency and metric"
)
MrrView = _analytics_view(MrrEnvelope, selectors.mrr, "Monthly recurring revenue by month and currency")
OverdueBalanceView = _analytics_view(
    OverdueBalanceEnvelope, selectors.overdue_balances, "Overdue balances by month and currency", by_customer=True
)
ChurnView = _analytics_view(ChurnEnvelope, selectors.churn, "Customer churn by month and currency (bxb)")
RetentionView = _analytics_view(
    RetentionEnvelope, selectors.net_revenue_retention, "Net revenue retention by month and currency (bxb)"
)
LifetimeValueView = _analytics_view(
    LifetimeValueEnvelope, selectors.customer_lifetime_value, "Customer lifetime value by currency (bxb)"
)
ANALYTICS = (
    GrossRevenueView,
    InvoiceCollectionView,
    UsageView,
    InvoicedUsageView,
    MrrView,
    OverdueBalanceView,
    ChurnView,
    RetentionView,
    LifetimeValueView,
)  # routed as analytics/<metric>, in this order


# --- Exports ---------------------------------------------------------------------------------


class _ExportView(OrganizationAPIView):
    resource_name = "analytic"

    def body(self, export: Any) -> dict[str, Any]:
        return {"export": ExportOutput(export, context={"request": self.request}).data}


class ExportCollectionView(_ExportView):
    @endpoint("exports_create", ExportEnvelope, request=ExportInputEnvelope)
    def post(self, request: Request) -> Response:
        """Request a CSV export (invoices, fees, credit_notes or events) for a date range"""
        data = validate_input(ExportInput, root_payload(request, "export"))
        export = services.export_request(self.organization, **data)
        export.refresh_from_db()  # the task may have run already (eager mode)
        return Response(self.body(export))

    @endpoint("exports_list", ExportListEnvelope, parameters=PLAIN_PAGE_PARAMETERS)
    def get(self, request: Request) -> Response:
        """List exports, newest first"""
        qs = selectors.export_list(self.organization)
        return paginated_response(
            request, qs, "exports", lambda items: ExportOutput(items, many=True, context={"request": request}).data
        )


class ExportDetailView(_ExportView):
    @endpoint("exports_retrieve", ExportEnvelope)
    def get(self, request: Request, export_id: Any) -> Response:
        """An export and its status"""
        return Response(self.body(selectors.export_get(self.organization, export_id)))


class ExportDownloadView(_ExportView):
    @endpoint("exports_download", {(200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY)})
    def get(self, request: Request, export_id: Any) -> FileResponse:
        """Download a completed export's CSV (405 export_not_ready before)"""
        export = services.export_file(self.organization, export_id)
        filename = f"{export.resource_type}_{export.from_date:%Y%m%d}_{export.to_date:%Y%m%d}.csv"
        return FileResponse(export.file.open("rb"), as_attachment=True, filename=filename, content_type="text/csv")
