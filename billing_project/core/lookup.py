"""Finding a row someone names: an API client by a UUID (`uuid_or_not_found`), an operator on the
command line by id or by a name only one row has."""

from __future__ import annotations

import uuid
from typing import Any

from billing_project.core.errors import NotFoundFailure


def by_id_or_unique_name(model: Any, ref: str, *, label: str = "organization") -> Any:
    """The row of `model` whose id is `ref`, else the one row whose `name` is exactly `ref`.
    Raises LookupError naming the problem: none, or several namesakes (listed with their ids)."""
    ref = (ref or "").strip()
    try:
        by_id = model.objects.filter(id=uuid.UUID(ref)).first()
    except ValueError:
        by_id = None
    if by_id is not None:
        return by_id
    namesakes = list(model.objects.filter(name=ref).order_by("created_at")[:10])
    if not namesakes:
        raise LookupError(f"no {label} named or with id {ref!r}")
    if len(namesakes) > 1:
        ids = ", ".join(str(row.id) for row in namesakes)
        raise LookupError(f"several {label}s are named {ref!r} ({ids}): give the id")
    return namesakes[0]


def uuid_or_not_found(value: Any, resource: str) -> uuid.UUID:
    """The UUID a client named; anything that is not one is 404 `<resource>_not_found`, as an unknown id is."""
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError):
        raise NotFoundFailure(resource) from None
