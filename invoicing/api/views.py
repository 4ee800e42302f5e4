"""Invoices, fees and customer usage (docs/invoicing.md §6). Views parse, call, render."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from drf_spectacular.utils import extend_schema_view
from rest_framework.request import Request
from rest_framework.response import Response

from billing_project.core.api.filters import METADATA_PARAMETER as _METADATA_PARAMETER
from billing_project.core.api.filters import metadata_filters
from billing_project.core.api.pagination import meta_for, page_params, paginated_response, prepared_page_response
from billing_project.core.api.resources import ResourceView, endpoint
from billing_project.core.api.views import (
    OrganizationAPIView,
    refuse_unsupported_body,
)
from billing_project.core.errors import NotFoundFailure
from billing_project.core.lookup import uuid_or_not_found
from customers.api.scoped import customer_list_view
from customers.entities import billing_entity_ids
from customers.payment_choice import payment_method_sent
from customers.representation import CustomerShape, customer_payload
from customers.section_choice import section_choice_input
from invoicing import selectors
from invoicing.api import filters
from invoicing.api import serializers as s
from invoicing.models import InvoiceStatus
from invoicing.representation import InvoiceShape, fee_payload, invoice_payload
from invoicing.services import lifecycle, one_off

# A customer's invoices and nothing else filtered: the compiled path (selectors.customer_invoice_page).
_CUSTOMER_PAGE_PARAMS = {"external_customer_id", "page", "per_page"}
_PAGE_PARAMS = {"page", "per_page"}


def _only_pages(request: Request) -> bool:
    return set(request.query_params) <= _CUSTOMER_PAGE_PARAMS


def _customer_invoice_page(request: Request, organization: Any, external_customer_id: str) -> Response | None:
    """A page of one customer's invoices by the compiled path; None where it does not answer."""
    page, per_page = page_params(request)
    found = selectors.customer_invoice_page(organization, external_customer_id, page=page, per_page=per_page)
    if found is None:
        return None
    items, total, taxes, related = found
    # The page's one customer, rendered once from the rows the selector read.
    customers: dict[Any, CustomerShape] = (
        {items[0].customer_id: customer_payload(items[0].customer, related=related)} if items else {}
    )
    return Response(
        {
            "invoices": [
                invoice_payload(i, with_fees=False, customers=customers, applied_taxes=taxes[i.id]) for i in items
            ],
            "meta": meta_for(total, page, per_page),
        }
    )


def customer_invoice_list_answer(request: Request, organization: Any, query: dict[str, Any]) -> Response:
    """`GET /customers/{external_id}/invoices`: the compiled page when only pages are asked (as
    `GET /invoices?external_customer_id=` does), else `invoice_list_answer`."""
    if _only_pages(request):
        found = _customer_invoice_page(request, organization, query["external_customer_id"])
        if found is not None:
            return found
    return invoice_list_answer(request, organization, query)


def _invoice_list_payload(organization: Any, rows: Iterable[Any]) -> list[InvoiceShape]:
    items = list(rows)
    taxes, related = selectors.invoice_list_related(organization, items)
    customers: dict[Any, CustomerShape] = {}  # a page of one customer's invoices renders it once
    for invoice in items:
        if invoice.customer_id not in customers:
            customers[invoice.customer_id] = customer_payload(invoice.customer, related=related[invoice.customer_id])
    return [invoice_payload(i, with_fees=False, customers=customers, applied_taxes=taxes[i.id]) for i in items]


def _invoice_with_fees(invoice: Any) -> InvoiceShape:
    return invoice_payload(invoice, with_fees=True)


def invoice_list_answer(request: Request, organization: Any, query: dict[str, Any]) -> Response:
    """`GET /invoices` (and `GET /customers/{external_id}/invoices`) for parsed filters."""
    qs = selectors.invoice_list(
        organization,
        external_customer_id=query["external_customer_id"],
        currency=query["currency"],
        invoice_type=query["invoice_type"],
        statuses=query["statuses"] + query["status"],
        payment_statuses=query["payment_statuses"] + query["payment_status"],
        issuing_date_from=query["issuing_date_from"],
        issuing_date_to=query["issuing_date_to"],
        amount_from=query["amount_from"],
        amount_to=query["amount_to"],
        payment_overdue=query["payment_overdue"],
        search_term=query["search_term"],
        purchase_order_number=query["purchase_order_number"],
        metadata=metadata_filters(request),
        billing_entity_ids=billing_entity_ids(organization, query["billing_entity_codes"]),
    )
    return paginated_response(request, qs, "invoices", lambda items: _invoice_list_payload(organization, items))


class InvoiceView(ResourceView):
    resource_name = "invoice"
    render = staticmethod(_invoice_with_fees)

    def render_many(self, items: Any) -> list[InvoiceShape]:
        return _invoice_list_payload(self.organization, items)


class InvoiceCollectionView(InvoiceView):
    @endpoint(
        "invoices_list",
        s.InvoiceListEnvelope,
        parameters=[*filters.InvoiceFilters.schema_parameters(), _METADATA_PARAMETER],
    )
    def get(self, request: Request) -> Response:
        """List invoices"""
        external_customer_id = request.query_params.get("external_customer_id")
        if external_customer_id and _only_pages(request):
            found = _customer_invoice_page(request, self.organization, external_customer_id)
            if found is not None:
                return found
        if set(request.query_params) <= _PAGE_PARAMS:  # no filter: the compiled pages
            return prepared_page_response(
                request,
                selectors.INVOICE_PAGES,
                "invoices",
                lambda items: _invoice_list_payload(self.organization, items),
                organization=self.organization.pk,
            )
        return invoice_list_answer(request, self.organization, filters.InvoiceFilters.parse(request))

    @endpoint("invoices_create_one_off", s.InvoiceEnvelope, request=s.OneOffInvoiceEnvelope)
    def post(self, request: Request) -> Response:
        """Create a one-off invoice of add-ons (finalized at once)"""
        data = self.body(request, s.OneOffInvoiceInput, lago_only=s.ONE_OFF_INVOICE_LAGO_ONLY)
        invoice = one_off.invoice_create_one_off(
            self.organization,
            external_customer_id=data["external_customer_id"],
            currency=data.get("currency"),
            fees=[dict(item) for item in data["fees"]],
            purchase_order_number=data.get("purchase_order_number") or "",
            payment_method=payment_method_sent(data),
            billing_entity_code=data.get("billing_entity_code") or None,
            invoice_custom_section=section_choice_input(data),
        )
        return self.one(invoice)


CustomerInvoiceListView = customer_list_view(
    "invoices",
    filters.InvoiceFilters,
    customer_invoice_list_answer,
    s.InvoiceListEnvelope,
    extra_parameters=[_METADATA_PARAMETER],
)


class InvoiceDetailView(InvoiceView):
    @endpoint("invoices_retrieve", s.InvoiceEnvelope)
    def get(self, request: Request, invoice_id: str) -> Response:
        """Find an invoice (with fees)"""
        read = selectors.invoice_represented(self.organization, uuid_or_not_found(invoice_id, "invoice"))
        customer = read.invoice.customer
        payload = invoice_payload(
            read.invoice,
            with_fees=True,
            customers={customer.pk: customer_payload(customer, related=read.customer_related)},
            applied_taxes=read.applied_taxes,
            periods=read.periods,
            fees=read.fees,
            fee_taxes=read.fee_taxes,
        )
        return Response({self.root(): payload})

    @endpoint("invoices_update", s.InvoiceEnvelope, request=s.InvoiceUpdateEnvelope)
    def put(self, request: Request, invoice_id: str) -> Response:
        """Update an invoice's payment status (manual flows) or metadata"""
        data = self.body(request, s.InvoiceUpdateInput, partial=True)
        invoice = lifecycle.invoice_update(
            self.organization,
            invoice_id=uuid_or_not_found(invoice_id, "invoice"),
            payment_status=data.get("payment_status"),
            metadata=[dict(m) for m in data["metadata"]] if "metadata" in data else None,
        )
        return self.one(invoice)

    @endpoint("invoices_destroy", s.InvoiceEnvelope)
    def delete(self, request: Request, invoice_id: str) -> Response:
        """Delete a draft invoice (405 not_deletable otherwise)"""
        return self.one(
            lifecycle.invoice_delete(self.organization, invoice_id=uuid_or_not_found(invoice_id, "invoice"))
        )


class InvoiceFinalizeView(InvoiceView):
    @endpoint("invoices_finalize", s.InvoiceEnvelope, request=None)
    def put(self, request: Request, invoice_id: str) -> Response:
        """Finalize a draft invoice"""
        return self.one(
            lifecycle.invoice_finalize(self.organization, invoice_id=uuid_or_not_found(invoice_id, "invoice"))
        )


class InvoiceRefreshView(InvoiceView):
    @endpoint("invoices_refresh", s.InvoiceEnvelope, request=None)
    def put(self, request: Request, invoice_id: str) -> Response:
        """Recompute a draft invoice"""
        return self.one(
            lifecycle.invoice_refresh(self.organization, invoice_id=uuid_or_not_found(invoice_id, "invoice"))
        )


class InvoiceVoidView(InvoiceView):
    @endpoint("invoices_void", s.InvoiceEnvelope, request=s.VoidInput)
    def post(self, request: Request, invoice_id: str) -> Response:
        """Void a finalized invoice"""
        refuse_unsupported_body(request, s.INVOICE_VOID_LAGO_ONLY)
        return self.one(lifecycle.invoice_void(self.organization, invoice_id=uuid_or_not_found(invoice_id, "invoice")))


class InvoiceRetryView(InvoiceView):
    @endpoint("invoices_retry", s.InvoiceEnvelope, request=None)
    def post(self, request: Request, invoice_id: str) -> Response:
        """Finalize again an invoice whose generation failed"""
        return self.one(lifecycle.invoice_retry(self.organization, invoice_id=uuid_or_not_found(invoice_id, "invoice")))


class InvoiceLoseDisputeView(InvoiceView):
    def _lose(self, invoice_id: str) -> Response:
        return self.one(
            lifecycle.invoice_lose_dispute(self.organization, invoice_id=uuid_or_not_found(invoice_id, "invoice"))
        )

    @endpoint("invoices_lose_dispute", s.InvoiceEnvelope, request=None)
    def post(self, request: Request, invoice_id: str) -> Response:
        """Mark the invoice's payment dispute as lost"""
        return self._lose(invoice_id)

    @endpoint("invoices_lose_dispute_put", s.InvoiceEnvelope, request=None)
    def put(self, request: Request, invoice_id: str) -> Response:
        """Mark the invoice's payment dispute as lost (the method Lago's Python client sends)"""
        return self._lose(invoice_id)


class InvoiceDownloadView(InvoiceView):
    @endpoint("invoices_download", s.InvoiceEnvelope, request=None)
    def post(self, request: Request, invoice_id: str) -> Response:
        """The invoice with its PDF's file_url (an empty 200 while the PDF is generated)"""
        return self._download(invoice_id)

    def _download(self, invoice_id: str) -> Response:
        invoice = selectors.invoice_get(self.organization, uuid_or_not_found(invoice_id, "invoice"))
        if invoice.status not in (InvoiceStatus.FINALIZED, InvoiceStatus.VOIDED):
            raise NotFoundFailure("invoice")
        if not invoice.file:
            from invoicing import tasks

            tasks.invoice_generate_pdf.delay(str(invoice.id))
            invoice.refresh_from_db()
            if not invoice.file:
                return Response(status=200)
        return self.one(invoice)


class InvoiceDownloadPdfView(InvoiceDownloadView):
    @endpoint("invoices_download_pdf", s.InvoiceEnvelope, request=None)
    def post(self, request: Request, invoice_id: str) -> Response:
        """The invoice with its PDF's file_url (an empty 200 while the PDF is generated); `download` too"""
        return self._download(invoice_id)


class FeeView(ResourceView):
    resource_name = "fee"
    render = staticmethod(fee_payload)


class FeeCollectionView(FeeView):
    @endpoint("fees_list", s.FeeListEnvelope, parameters=filters.FeeFilters.schema_parameters())
    def get(self, request: Request) -> Response:
        """List fees"""
        params = filters.FeeFilters.parse(request)
        qs = selectors.fee_list(
            self.organization,
            fee_type=params["fee_type"],
            payment_status=params["payment_status"],
            external_subscription_id=params["external_subscription_id"],
            external_customer_id=params["external_customer_id"],
            billable_metric_code=params["billable_metric_code"],
            currency=params["currency"],
            event_transaction_id=params["event_transaction_id"],
        )
        return self.page(request, qs)


class FeeDetailView(FeeView):
    @endpoint("fees_retrieve", s.FeeEnvelope)
    def get(self, request: Request, fee_id: str) -> Response:
        """Find a fee"""
        return self.one(selectors.fee_get(self.organization, uuid_or_not_found(fee_id, "fee")))

    @endpoint("fees_update", s.FeeEnvelope, request=s.FeeUpdateEnvelope)
    def put(self, request: Request, fee_id: str) -> Response:
        """Update the payment status of a fee that is not invoiced"""
        data = self.body(request, s.FeeUpdateInput)
        fee = lifecycle.fee_update(
            self.organization, fee_id=uuid_or_not_found(fee_id, "fee"), payment_status=data["payment_status"]
        )
        return self.one(selectors.fee_get(self.organization, fee.id))

    @endpoint("fees_destroy", s.FeeEnvelope)
    def delete(self, request: Request, fee_id: str) -> Response:
        """Delete a fee that is not on an invoice (405 invoiced_fee otherwise)"""
        return self.one(lifecycle.fee_delete(self.organization, fee_id=uuid_or_not_found(fee_id, "fee")))


class CurrentUsageView(OrganizationAPIView):
    resource_name = "customer_usage"
    root_key, projected = "customer_usage", False

    @endpoint(
        "customers_current_usage", s.CustomerUsageEnvelope, parameters=filters.CurrentUsageFilters.schema_parameters()
    )
    def get(self, request: Request, external_id: str) -> Response:
        """Usage of the current period, priced as the invoice would"""
        params = filters.CurrentUsageFilters.parse(request)
        usage = selectors.current_usage(
            self.organization,
            external_customer_id=external_id,
            external_subscription_id=params["external_subscription_id"],
            apply_taxes=params["apply_taxes"] is not False,
            projected=self.projected,
        )
        return Response({self.root_key: usage})


@extend_schema_view(
    get=endpoint(
        "customers_projected_usage",
        s.CustomerProjectedUsageEnvelope,
        summary="Usage of the current period and its projection to the period's end",
    )
)
class ProjectedUsageView(CurrentUsageView):
    root_key, projected = "customer_projected_usage", True


class PastUsageView(OrganizationAPIView):
    resource_name = "customer_usage"

    @endpoint("customers_past_usage", s.PastUsageEnvelope, parameters=filters.PastUsageFilters.schema_parameters())
    def get(self, request: Request, external_id: str) -> Response:
        """Usage of invoiced periods"""
        params = filters.PastUsageFilters.parse(request)
        code = params["billable_metric_code"]
        qs = selectors.past_usage_periods(
            self.organization,
            external_customer_id=external_id,
            external_subscription_id=params["external_subscription_id"],
            billable_metric_code=code,
            periods_count=params["periods_count"],
        )
        return paginated_response(
            request,
            qs,
            "usage_periods",
            lambda rows: [selectors.past_usage_payload(r, billable_metric_code=code) for r in rows],
        )
