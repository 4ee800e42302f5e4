"""`apply_each(...)`: an admin action's loop over the selected rows, written once.

Each row goes through the service (`apply`); a domain error refuses that row only. The user sees
one success message listing what changed and one error message listing what was refused (with
the service's reason), as every finance-console action reports (docs/console.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from django.contrib import messages
from django.http import HttpRequest

from billing_project.core.errors import DomainError

Row = TypeVar("Row")
Result = TypeVar("Result")


def apply_each(
    modeladmin: Any,
    request: HttpRequest,
    rows: Iterable[Row],
    apply: Callable[[Row], Result],
    *,
    title: str,
    label: Callable[[Row], str],
    outcome: Callable[[str, Result], str],
) -> None:
    """`apply(row)` for each row; reports `title: <outcome>; ...` and `Refused: <label> (<error>); ...`.
    A row's label is taken before the service runs; `outcome(label, result)` describes a change."""
    done: list[str] = []
    refused: list[str] = []
    for row in rows:
        name = label(row)
        try:
            result = apply(row)
        except DomainError as exc:
            refused.append(f"{name} ({exc})")
        else:
            done.append(outcome(name, result))
    if done:
        modeladmin.message_user(request, f"{title}: " + "; ".join(done), messages.SUCCESS)
    if refused:
        modeladmin.message_user(request, "Refused: " + "; ".join(refused), messages.ERROR)
