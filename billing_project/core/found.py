"""`found(row, "plan")`: the row a lookup found, or the API's 404 `plan_not_found`.

The lookups of selectors and services end the same way (`.first()`, `next(...)`): a missing row
is `NotFoundFailure(resource)`, which the API answers as Lago's 404 `<resource>_not_found`.
"""

from __future__ import annotations

from typing import TypeVar

from billing_project.core.errors import NotFoundFailure

T = TypeVar("T")


def found(row: T | None, resource: str) -> T:
    """`row`, unless it is None: then 404 `<resource>_not_found`."""
    if row is None:
        raise NotFoundFailure(resource)
    return row
