"""Finding a row an operator names on the command line: by id, or by a name only one row has."""

from __future__ import annotations

import uuid
from typing import Any


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
