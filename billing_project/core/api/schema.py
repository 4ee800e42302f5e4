"""drf-spectacular hooks."""

from __future__ import annotations

from typing import Any


def only_canonical_paths(endpoints: list[tuple[str, str, str, Any]], **kwargs: Any) -> list[tuple[str, str, str, Any]]:
    """Document each operation once, under /api/v1 (the /v1 alias serves the same views)."""
    return [endpoint for endpoint in endpoints if endpoint[0].startswith("/api/v1/")]
