"""Credit notes (docs/billing-semantics.md §9, docs/credits.md). Views parse, call a service, and render."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from billing_project.core.api.pagination import paginated_response
from billing_project.core.api.views import OrganizationAPIView, root_payload
from billing_project.core.errors import NotFoundFailure
from customers.api.scoped import customer_list_view
from invoicing.credits import selectors
from invoicing.credits.api import filters
from invoicing.credits.api import serializers as s
from invoicing.credits.representation import credit_note_payload
from invoicing.credits.services import credit_notes as services


def _body(note: Any) -> dict[str, Any]:
    return {"credit_note": credit_note_payload(note)}


def _invoice_id(payload: dict[str, Any]) -> Any:
    import uuid

    try:
        return uuid.UUID(str(payload.get("invoice_id")))
    except (TypeError, ValueError):
        raise NotFoundFailure("invoice") from None


def credit_note_list_answer(request: Request, organization: Any, params: dict[str, Any]) -> Response:
    """`GET /credit_notes` (and `GET /customers/{external_id}/credit_notes`) for parsed filters."""
    invoice_id = params["invoice_id"]
    if invoice_id:
        invoice_id = _invoice_id({"invoice_id": invoice_id})
    qs = selectors.credit_note_list(
        organization,
        external_customer_id=params["external_customer_id"],
        invoice_id=invoice_id,
        credit_status=params["credit_status"],
        refund_status=params["refund_status"],
        reason=params["reason"],
        currency=params["currency"],
    )
    return paginated_response(request, qs, "credit_notes", lambda items: [credit_note_payload(n) for n in items])


class CreditNoteCollectionView(OrganizationAPIView):
    resource_name = "credit_note"

    @extend_schema(
        operation_id="credit_notes_list",
        summary="List credit notes",
        parameters=filters.CreditNoteFilters.schema_parameters(),
        responses=s.CreditNoteListEnvelope,
    )
    def get(self, request: Request) -> Response:
        return credit_note_list_answer(request, self.organization, filters.CreditNoteFilters.parse(request))

    @extend_schema(
        operation_id="credit_notes_create",
        summary="Create a credit note",
        request=s.CreditNoteInputEnvelope,
        responses=s.CreditNoteEnvelope,
    )
    def post(self, request: Request) -> Response:
        payload = root_payload(request, "credit_note")
        note = services.credit_note_create(
            self.organization,
            invoice_id=_invoice_id(payload),
            items=payload.get("items"),
            credit_amount_cents=payload.get("credit_amount_cents") or 0,
            refund_amount_cents=payload.get("refund_amount_cents") or 0,
            offset_amount_cents=payload.get("offset_amount_cents") or 0,
            reason=payload.get("reason"),
            description=payload.get("description"),
            metadata=payload.get("metadata"),
        )
        return Response(_body(selectors.credit_note_get(self.organization, note.id)))


CustomerCreditNoteListView = customer_list_view(
    "credit_notes",
    filters.CreditNoteFilters,
    credit_note_list_answer,
    s.CreditNoteListEnvelope,
    resource_name="credit_note",
)


class CreditNoteEstimateView(OrganizationAPIView):
    resource_name = "credit_note"

    @extend_schema(
        operation_id="credit_notes_estimate",
        summary="Estimate a credit note",
        request=s.CreditNoteEstimateInputEnvelope,
        responses=s.CreditNoteEstimateEnvelope,
    )
    def post(self, request: Request) -> Response:
        payload = root_payload(request, "credit_note")
        estimate = services.credit_note_estimate(
            self.organization, invoice_id=_invoice_id(payload), items=payload.get("items")
        )
        return Response({"estimated_credit_note": estimate})


class CreditNoteDetailView(OrganizationAPIView):
    resource_name = "credit_note"

    @extend_schema(
        operation_id="credit_notes_retrieve", summary="Retrieve a credit note", responses=s.CreditNoteEnvelope
    )
    def get(self, request: Request, credit_note_id: str) -> Response:
        return Response(_body(selectors.credit_note_get(self.organization, credit_note_id)))

    @extend_schema(
        operation_id="credit_notes_update",
        summary="Update a credit note's refund status or metadata",
        request=s.CreditNoteUpdateInputEnvelope,
        responses=s.CreditNoteEnvelope,
    )
    def put(self, request: Request, credit_note_id: str) -> Response:
        payload = root_payload(request, "credit_note")
        note = services.credit_note_update(
            self.organization,
            credit_note_id=credit_note_id,
            refund_status=payload.get("refund_status"),
            metadata=payload.get("metadata"),
        )
        return Response(_body(selectors.credit_note_get(self.organization, note.id)))


class CreditNoteVoidView(OrganizationAPIView):
    resource_name = "credit_note"

    @extend_schema(
        operation_id="credit_notes_void",
        summary="Void a credit note's balance",
        request=None,
        responses=s.CreditNoteEnvelope,
    )
    def put(self, request: Request, credit_note_id: str) -> Response:
        note = services.credit_note_void(self.organization, credit_note_id=credit_note_id)
        return Response(_body(selectors.credit_note_get(self.organization, note.id)))


class CreditNoteDownloadView(OrganizationAPIView):
    resource_name = "credit_note"

    @extend_schema(
        operation_id="credit_notes_download",
        summary="Generate the credit note PDF (file_url)",
        request=None,
        responses=s.CreditNoteEnvelope,
    )
    def post(self, request: Request, credit_note_id: str) -> Response:
        from invoicing.credits.services.documents import credit_note_generate_pdf

        note = selectors.credit_note_get(self.organization, credit_note_id)
        credit_note_generate_pdf(note.id)
        return Response(_body(selectors.credit_note_get(self.organization, note.id)))
