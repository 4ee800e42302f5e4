"""Metadata sub-resources of wallets and credit notes (Lago's `replace_metadata`, `merge_metadata`,
`delete_all_metadata`, `delete_metadata_key`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response

from billing_project.core.api.resources import endpoint, named
from billing_project.core.api.views import OrganizationAPIView
from billing_project.core.errors import BadRequestFailure, ValidationFailure
from invoicing.credits import selectors
from invoicing.credits.api import serializers as s
from invoicing.credits.services import credit_notes, wallets


def _payload(request: Request) -> dict[str, str | None]:
    """The body's `metadata`: Lago's metadata object, string keys, string or null values."""
    data = request.data
    if not isinstance(data, dict) or "metadata" not in data:
        raise BadRequestFailure("param is missing or the value is empty or invalid: metadata")
    metadata = data["metadata"]
    if not isinstance(metadata, dict) or not all(
        isinstance(k, str) and (v is None or isinstance(v, str)) for k, v in metadata.items()
    ):
        raise ValidationFailure.single("metadata", "value_is_invalid")
    return dict(metadata)


# (view, the path's keyword arguments) -> the service's keyword arguments naming the owner.
Owner = Callable[[OrganizationAPIView, dict[str, str]], dict[str, Any]]


def _metadata_views(
    prefix: str,
    resource: str,
    owner: Owner,
    set_metadata: Callable[..., Any],
    delete_metadata: Callable[..., Any],
    doc: str | None = None,
) -> tuple[type[OrganizationAPIView], type[OrganizationAPIView]]:
    """The `.../metadata` view (replace, merge, delete all) and the `.../metadata/{key}` view (delete
    one key) of a wallet or credit note, which `owner` finds from the path; operations `<prefix>_metadata_*`."""

    class MetadataView(OrganizationAPIView):
        resource_name = resource

        @endpoint(f"{prefix}_metadata_replace", request=s.CreditMetadataEnvelope, responses=s.CreditMetadataEnvelope)
        def post(self, request: Request, **path: str) -> Response:
            metadata = set_metadata(self.organization, **owner(self, path), metadata=_payload(request), merge=False)
            return Response({"metadata": metadata})

        @endpoint(f"{prefix}_metadata_merge", request=s.CreditMetadataEnvelope, responses=s.CreditMetadataEnvelope)
        def patch(self, request: Request, **path: str) -> Response:
            metadata = set_metadata(self.organization, **owner(self, path), metadata=_payload(request), merge=True)
            return Response({"metadata": metadata})

        @endpoint(f"{prefix}_metadata_destroy_all", responses=s.CreditMetadataEnvelope)
        def delete(self, request: Request, **path: str) -> Response:
            return Response({"metadata": delete_metadata(self.organization, **owner(self, path))})

    class MetadataKeyView(OrganizationAPIView):
        resource_name = resource

        @endpoint(f"{prefix}_metadata_destroy_key", responses=s.CreditMetadataEnvelope)
        def delete(self, request: Request, **path: str) -> Response:
            return Response({"metadata": delete_metadata(self.organization, **owner(self, path), key=path["key"])})

    title = "".join(part.title() for part in prefix.split("_"))
    return (
        named(MetadataView, f"{title}MetadataView", __name__, doc=doc),
        named(MetadataKeyView, f"{title}MetadataKeyView", __name__, doc=doc),
    )


def _wallet(view: OrganizationAPIView, path: dict[str, str]) -> dict[str, Any]:
    return {"wallet_id": path["wallet_id"]}


def _customer_wallet(view: OrganizationAPIView, path: dict[str, str]) -> dict[str, Any]:
    return {"wallet_id": selectors.wallet_get_by_code(view.organization, path["external_id"], path["code"]).id}


def _credit_note(view: OrganizationAPIView, path: dict[str, str]) -> dict[str, Any]:
    return {"credit_note_id": path["credit_note_id"]}


_WALLET_DOC = """`/wallets/{id}/metadata`; `/customers/{external_id}/wallets/{code}/metadata` finds the wallet
by its customer and code instead (`CustomerWalletMetadataView`)."""
_wallet_services = (wallets.wallet_metadata_set, wallets.wallet_metadata_delete)
WalletMetadataView, WalletMetadataKeyView = _metadata_views("wallet", "wallet", _wallet, *_wallet_services, _WALLET_DOC)
CustomerWalletMetadataView, CustomerWalletMetadataKeyView = _metadata_views(
    "customer_wallet", "wallet", _customer_wallet, *_wallet_services, _WALLET_DOC
)
CreditNoteMetadataView, CreditNoteMetadataKeyView = _metadata_views(
    "credit_note",
    "credit_note",
    _credit_note,
    credit_notes.credit_note_metadata_set,
    credit_notes.credit_note_metadata_delete,
)
