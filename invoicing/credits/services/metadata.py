"""The metadata of a wallet or a credit note (Lago's `replace_metadata`, `merge_metadata`,
`delete_all_metadata`, `delete_metadata_key`): the owner locked, its metadata written by
`billing_project.core.metadata`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal
from uuid import UUID

from django.db import transaction

from billing_project.core.metadata import Metadata, metadata_delete, metadata_set
from customers.models import Organization
from invoicing.credits.services import credit_notes, wallets

Owner = Literal["wallet", "credit_note"]

# The owner of the metadata, found in the organization (404 `<owner>_not_found`) and locked.
_LOCKED: dict[Owner, Callable[[Organization, UUID | str], Any]] = {
    "wallet": wallets._get_locked,
    "credit_note": credit_notes._locked_note,
}


def credit_metadata_set(
    organization: Organization, *, owner: Owner, owner_id: UUID | str, metadata: Mapping[str, str | None], merge: bool
) -> Metadata:
    """`POST` (replace) / `PATCH` (merge) `/wallets/{id}/metadata`, `/credit_notes/{id}/metadata`."""
    with transaction.atomic():
        return metadata_set(_LOCKED[owner](organization, owner_id), metadata, merge=merge)


def credit_metadata_delete(
    organization: Organization, *, owner: Owner, owner_id: UUID | str, key: str | None = None
) -> Metadata:
    """`DELETE /wallets/{id}/metadata[/{key}]`, `/credit_notes/{id}/metadata[/{key}]`: one key, or all."""
    with transaction.atomic():
        return metadata_delete(_LOCKED[owner](organization, owner_id), key)
