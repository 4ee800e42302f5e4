"""Metadata sub-resources of wallets and credit notes (Lago's `replace_metadata`, `merge_metadata`,
`delete_all_metadata`, `delete_metadata_key`)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from billing_project.core.api.views import OrganizationAPIView
from billing_project.core.errors import BadRequestFailure
from invoicing.credits.api import serializers as s
from invoicing.credits.services import credit_notes, wallets


def _payload(request: Request) -> Any:
    data = request.data
    if not isinstance(data, dict) or "metadata" not in data:
        raise BadRequestFailure("param is missing or the value is empty or invalid: metadata")
    return data["metadata"]


class WalletMetadataView(OrganizationAPIView):
    resource_name = "wallet"

    @extend_schema(
        operation_id="wallet_metadata_replace", request=s.CreditMetadataEnvelope, responses=s.CreditMetadataEnvelope
    )
    def post(self, request: Request, wallet_id: str) -> Response:
        metadata = wallets.wallet_metadata_set(
            self.organization, wallet_id=wallet_id, metadata=_payload(request), merge=False
        )
        return Response({"metadata": metadata})

    @extend_schema(
        operation_id="wallet_metadata_merge", request=s.CreditMetadataEnvelope, responses=s.CreditMetadataEnvelope
    )
    def patch(self, request: Request, wallet_id: str) -> Response:
        metadata = wallets.wallet_metadata_set(
            self.organization, wallet_id=wallet_id, metadata=_payload(request), merge=True
        )
        return Response({"metadata": metadata})

    @extend_schema(operation_id="wallet_metadata_destroy_all", responses=s.CreditMetadataEnvelope)
    def delete(self, request: Request, wallet_id: str) -> Response:
        return Response({"metadata": wallets.wallet_metadata_delete(self.organization, wallet_id=wallet_id)})


class WalletMetadataKeyView(OrganizationAPIView):
    resource_name = "wallet"

    @extend_schema(operation_id="wallet_metadata_destroy_key", responses=s.CreditMetadataEnvelope)
    def delete(self, request: Request, wallet_id: str, key: str) -> Response:
        return Response({"metadata": wallets.wallet_metadata_delete(self.organization, wallet_id=wallet_id, key=key)})


class CreditNoteMetadataView(OrganizationAPIView):
    resource_name = "credit_note"

    @extend_schema(
        operation_id="credit_note_metadata_replace",
        request=s.CreditMetadataEnvelope,
        responses=s.CreditMetadataEnvelope,
    )
    def post(self, request: Request, credit_note_id: str) -> Response:
        metadata = credit_notes.credit_note_metadata_set(
            self.organization, credit_note_id=credit_note_id, metadata=_payload(request), merge=False
        )
        return Response({"metadata": metadata})

    @extend_schema(
        operation_id="credit_note_metadata_merge", request=s.CreditMetadataEnvelope, responses=s.CreditMetadataEnvelope
    )
    def patch(self, request: Request, credit_note_id: str) -> Response:
        metadata = credit_notes.credit_note_metadata_set(
            self.organization, credit_note_id=credit_note_id, metadata=_payload(request), merge=True
        )
        return Response({"metadata": metadata})

    @extend_schema(operation_id="credit_note_metadata_destroy_all", responses=s.CreditMetadataEnvelope)
    def delete(self, request: Request, credit_note_id: str) -> Response:
        return Response(
            {"metadata": credit_notes.credit_note_metadata_delete(self.organization, credit_note_id=credit_note_id)}
        )


class CreditNoteMetadataKeyView(OrganizationAPIView):
    resource_name = "credit_note"

    @extend_schema(operation_id="credit_note_metadata_destroy_key", responses=s.CreditMetadataEnvelope)
    def delete(self, request: Request, credit_note_id: str, key: str) -> Response:
        metadata = credit_notes.credit_note_metadata_delete(self.organization, credit_note_id=credit_note_id, key=key)
        return Response({"metadata": metadata})
