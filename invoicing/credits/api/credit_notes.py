"""Credit notes (docs/billing-semantics.md §9, docs/credits.md). Views parse, call a service, and render."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response

from billing_project.core.api.pagination import paginated_response
from billing_project.core.api.resources import ResourceView, endpoint
from billing_project.core.lookup import uuid_or_not_found
from customers.api.scoped import customer_list_view
from customers.entities import billing_entity_ids
from invoicing.credits import selectors
from invoicing.credits.api import filters
from invoicing.credits.api import serializers as s
from invoicing.credits.inputs import CreditNoteCreate, CreditNoteEstimate, CreditNoteUpdate
from invoicing.credits.representation import credit_note_payload
from invoicing.credits.services import credit_notes as services


def credit_note_list_answer(request: Request, organization: Any, params: dict[str, Any]) -> Response:
    """`GET /credit_notes` (and `GET /customers/{external_id}/credit_notes`) for parsed filters."""
    invoice_id = params["invoice_id"]
    if invoice_id:
        invoice_id = uuid_or_not_found(invoice_id, "invoice")
    qs = selectors.credit_note_list(
        organization,
        external_customer_id=params["external_customer_id"],
        invoice_id=invoice_id,
        credit_status=params["credit_status"],
        refund_status=params["refund_status"],
        reason=params["reason"],
        currency=params["currency"],
        invoice_number=params["invoice_number"],
        issuing_date_from=params["issuing_date_from"],
        issuing_date_to=params["issuing_date_to"],
        amount_from=params["amount_from"],
        amount_to=params["amount_to"],
        search_term=params["search_term"],
        billing_entity_ids=billing_entity_ids(organization, params["billing_entity_codes"]),
    )
    return paginated_response(request, qs, "credit_notes", lambda items: [credit_note_payload(n) for n in items])


class CreditNoteView(ResourceView):
    resource_name = "credit_note"
    render = staticmethod(credit_note_payload)

    def reread(self, note: Any) -> Response:
        """The credit note as the API shows it, read again after a service changed it."""
        return self.one(selectors.credit_note_get(self.organization, note.id))


class CreditNoteCollectionView(CreditNoteView):
    @endpoint("credit_notes_list", s.CreditNoteListEnvelope, parameters=filters.CreditNoteFilters.schema_parameters())
    def get(self, request: Request) -> Response:
        """List credit notes"""
        return credit_note_list_answer(request, self.organization, filters.CreditNoteFilters.parse(request))

    @endpoint("credit_notes_create", s.CreditNoteEnvelope, request=s.CreditNoteInputEnvelope)
    def post(self, request: Request) -> Response:
        """Create a credit note"""
        note = services.credit_note_create(self.organization, CreditNoteCreate.from_body(self.body(request)))
        return self.reread(note)


CustomerCreditNoteListView = customer_list_view(
    "credit_notes", filters.CreditNoteFilters, credit_note_list_answer, s.CreditNoteListEnvelope
)


class CreditNoteEstimateView(CreditNoteView):
    @endpoint("credit_notes_estimate", s.CreditNoteEstimateEnvelope, request=s.CreditNoteEstimateInputEnvelope)
    def post(self, request: Request) -> Response:
        """Estimate a credit note"""
        estimate = services.credit_note_estimate(self.organization, CreditNoteEstimate.from_body(self.body(request)))
        return Response({"estimated_credit_note": estimate})


class CreditNoteDetailView(CreditNoteView):
    @endpoint("credit_notes_retrieve", s.CreditNoteEnvelope)
    def get(self, request: Request, credit_note_id: str) -> Response:
        """Retrieve a credit note"""
        return self.one(selectors.credit_note_get(self.organization, credit_note_id))

    @endpoint("credit_notes_update", s.CreditNoteEnvelope, request=s.CreditNoteUpdateInputEnvelope)
    def put(self, request: Request, credit_note_id: str) -> Response:
        """Update a credit note's refund status or metadata"""
        fields = CreditNoteUpdate.from_body(self.body(request))
        note = services.credit_note_update(self.organization, credit_note_id=credit_note_id, fields=fields)
        return self.reread(note)


class CreditNoteVoidView(CreditNoteView):
    @endpoint("credit_notes_void", s.CreditNoteEnvelope, request=None)
    def put(self, request: Request, credit_note_id: str) -> Response:
        """Void a credit note's balance"""
        return self.reread(services.credit_note_void(self.organization, credit_note_id=credit_note_id))


class CreditNoteDownloadView(CreditNoteView):
    @endpoint("credit_notes_download", s.CreditNoteEnvelope, request=None)
    def post(self, request: Request, credit_note_id: str) -> Response:
        """Generate the credit note PDF (file_url)"""
        return self._download(credit_note_id)

    def _download(self, credit_note_id: str) -> Response:
        from invoicing.credits.services.documents import credit_note_generate_pdf

        note = selectors.credit_note_get(self.organization, credit_note_id)
        credit_note_generate_pdf(note.id)
        return self.reread(note)


class CreditNoteDownloadPdfView(CreditNoteDownloadView):
    @endpoint("credit_notes_download_pdf", s.CreditNoteEnvelope, request=None)
    def post(self, request: Request, credit_note_id: str) -> Response:
        """Generate the credit note PDF (file_url); `download` too"""
        return self._download(credit_note_id)
