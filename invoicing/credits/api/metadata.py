"""Metadata sub-resources of wallets and credit notes (Lago's `replace_metadata`, `merge_metadata`,
`delete_all_metadata`, `delete_metadata_key`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response

from billing_project.core.api.resources import endpoint, named
from billing_project.core.api.views import OrganizationAPIView, metadata_body
from invoicing.credits import selectors
from invoicing.credits.api import serializers as s
from invoicing.credits.services.metadata import Owner, credit_metadata_delete, credit_metadata_set

# (view, the path's keyword arguments) -> the id of the wallet or credit note whose metadata it is.
OwnerId = Callable[[OrganizationAPIView, dict[str, str]], Any]


def _metadata_views(
    prefix: str, owner: Owner, owner_id: OwnerId, doc: str | None = None
) -> tuple[type[OrganizationAPIView], type[OrganizationAPIView]]:
    """The `.../metadata` view (replace, merge, delete all) and the `.../metadata/{key}` view (delete
    one key) of a wallet or credit note (`owner`), whose id `owner_id` finds from the path;
    operations `<prefix>_metadata_*`."""

    class MetadataView(OrganizationAPIView):
        resource_name = owner

        def _set(self, request: Request, path: dict[str, str], *, merge: bool) -> Response:
            metadata = credit_metadata_set(
                self.organization,
                owner=owner,
                owner_id=owner_id(self, path),
                metadata=metadata_body(request),
                merge=merge,
            )
            return Response({"metadata": metadata})

        @endpoint(f"{prefix}_metadata_replace", request=s.CreditMetadataEnvelope, responses=s.CreditMetadataEnvelope)
        def post(self, request: Request, **path: str) -> Response:
            return self._set(request, path, merge=False)

        @endpoint(f"{prefix}_metadata_merge", request=s.CreditMetadataEnvelope, responses=s.CreditMetadataEnvelope)
        def patch(self, request: Request, **path: str) -> Response:
            return self._set(request, path, merge=True)

        @endpoint(f"{prefix}_metadata_destroy_all", responses=s.CreditMetadataEnvelope)
        def delete(self, request: Request, **path: str) -> Response:
            return Response(
                {"metadata": credit_metadata_delete(self.organization, owner=owner, owner_id=owner_id(self, path))}
            )

    class MetadataKeyView(OrganizationAPIView):
        resource_name = owner

        @endpoint(f"{prefix}_metadata_destroy_key", responses=s.CreditMetadataEnvelope)
        def delete(self, request: Request, **path: str) -> Response:
            metadata = credit_metadata_delete(
                self.organization, owner=owner, owner_id=owner_id(self, path), key=path["key"]
            )
            return Response({"metadata": metadata})

    title = "".join(part.title() for part in prefix.split("_"))
    return (
        named(MetadataView, f"{title}MetadataView", __name__, doc=doc),
        named(MetadataKeyView, f"{title}MetadataKeyView", __name__, doc=doc),
    )


_WALLET_DOC = """`/wallets/{id}/metadata`; `/customers/{external_id}/wallets/{code}/metadata` finds the wallet
by its customer and code instead (`CustomerWalletMetadataView`)."""
WalletMetadataView, WalletMetadataKeyView = _metadata_views(
    "wallet", "wallet", lambda view, path: path["wallet_id"], _WALLET_DOC
)
CustomerWalletMetadataView, CustomerWalletMetadataKeyView = _metadata_views(
    "customer_wallet",
    "wallet",
    lambda view, path: selectors.wallet_get_by_code(view.organization, path["external_id"], path["code"]).id,
    _WALLET_DOC,
)
CreditNoteMetadataView, CreditNoteMetadataKeyView = _metadata_views(
    "credit_note", "credit_note", lambda view, path: path["credit_note_id"]
)
