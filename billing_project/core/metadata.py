"""Lago's metadata sub-resource of a row (`POST`/`PATCH`/`DELETE .../metadata[/{key}]`), written once.

The row holds its metadata in a JSON `metadata` field (string keys, string or null values). The
caller locks the row inside its transaction and passes it here; the row is saved with its
`updated_at` and the metadata as stored is returned (the API's body).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Metadata = dict[str, str | None]


def metadata_set(row: Any, metadata: Mapping[str, str | None], *, merge: bool) -> Metadata:
    """Replace the row's metadata (`POST`) or merge `metadata` into it (`PATCH`)."""
    incoming = dict(metadata)
    row.metadata = {**(row.metadata or {}), **incoming} if merge else incoming
    row.save(update_fields=["metadata", "updated_at"])
    return row.metadata


def metadata_delete(row: Any, key: str | None = None) -> Metadata:
    """Delete one key of the row's metadata, or all of it when `key` is None (`DELETE`)."""
    row.metadata = {} if key is None else {k: v for k, v in (row.metadata or {}).items() if k != key}
    row.save(update_fields=["metadata", "updated_at"])
    return row.metadata
