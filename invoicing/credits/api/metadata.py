"""Metadata sub-resources of wallets and credit notes (Lago's `replace_metadata`, `merge_metadata`,
`delete_all_metadata`, `delete_metadata_key`)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework.request import Request
from rest_framework.response import Response

from billing_project.core.api.views import OrganizationAPIView
from billing_project.core.errors import BadRequestFailure
from invoicing.credits import selectors
from invoicing.credits.api import serializers as s
from invoicing.credits.services import credit_notes, wallets


def _payload(request: Request) -> Any:
    data = request.data
    if not isinstance(data, dict) or "metadata" not in data:
        raise BadRequestFailure("param is missing or the value is empty or invalid: metadata")
    return data["metadata"]


class WalletMetadataView(OrganizationAPIView):
    """`/wallets/{id}/metadata`; `/customers/{external_id}/wallets/{code}/metadata` finds the wallet
    by its customer and code instead (`CustomerWalletMetadataView`)."""

    resource_name = "wallet"

    def wallet_id(self, **path: str) -> Any:
        return path["wallet_id"]

    @extend_schema(
        operation_id="wallet_metadata_replace", request=s.CreditMetadataEnvelope, responses=s.CreditMetadataEnvelope
    )
    def post(self, request: Request, **path: str) -> Response:
        metadata = wallets.wallet_metadata_set(
            self.organization, wallet_id=self.wallet_id(**path), metadata=_payload(request), merge=False
        )
        return Response({"metadata": metadata})

    @extend_schema(
        operation_id="wallet_metadata_merge", request=s.CreditMetadataEnvelope, responses=s.CreditMetadataEnvelope
    )
    def patch(self, request: Request, **path: str) -> Response:
        metadata = wallets.wallet_metadata_set(
            self.organization, wallet_id=self.wallet_id(**path), metadata=_payload(request), merge=True
        )
        return Response({"metadata": metadata})

    @extend_schema(operation_id="wallet_metadata_destroy_all", responses=s.CreditMetadataEnvelope)
    def delete(self, request: Request, **path: str) -> Response:
        return Response(
            {"metadata": wallets.wallet_metadata_delete(self.organization, wallet_id=self.wallet_id(**path))}
        )


class WalletMetadataKeyView(WalletMetadataView):
    http_method_names = ["delete", "options"]

    @extend_schema(operation_id="wallet_metadata_destroy_key", responses=s.CreditMetadataEnvelope)
    def delete(self, request: Request, **path: str) -> Response:
        wallet_id = self.wallet_id(**path)
        return Response(
            {"metadata": wallets.wallet_metadata_delete(self.organization, wallet_id=wallet_id, key=path["key"])}
        )


def _customer_wallet_id(view: WalletMetadataView, path: dict[str, str]) -> Any:
    return selectors.wallet_get_by_code(view.organization, path["external_id"], path["code"]).id


@extend_schema_view(
    post=extend_schema(operation_id="customer_wallet_metadata_replace"),
    patch=extend_schema(operation_id="customer_wallet_metadata_merge"),
    delete=extend_schema(operation_id="customer_wallet_metadata_destroy_all"),
)
class CustomerWalletMetadataView(WalletMetadataView):
    def wallet_id(self, **path: str) -> Any:
        return _customer_wallet_id(self, path)


@extend_schema_view(delete=extend_schema(operation_id="customer_wallet_metadata_destroy_key"))
class CustomerWalletMetadataKeyView(WalletMetadataKeyView):
    def wallet_id(self, **path: str) -> Any:
        return _customer_wallet_id(self, path)


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
