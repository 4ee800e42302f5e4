"""Lago request fields bxb does not implement yet: refused, never stored and ignored.

A client migrating from Lago may send a field bxb has no behaviour for (`applied_pricing_unit` on a
charge, a specific `payment_method`, `cascade_updates: true`...). Dropping it silently would bill that
customer differently from what the client asked for, so each such field is declared next to the
views that receive it (`LagoOnly`) and `refuse_unsupported` answers 422 naming it:

    {"status": 422, "error": "Unprocessable Entity", "code": "validation_errors",
     "error_details": {"applied_pricing_unit": ["value_is_not_supported"]}}

A field is accepted when its value asks for nothing bxb does not do: absent, `null`, empty
(`""`, `[]`, `{}`), `false`, or one of the values declared as bxb's own behaviour (e.g.
`consolidate_invoice: true`, `payment_method_type: "provider"`). Objects are compared without
their empty members, so `{"invoice_custom_section_codes": [], "skip_invoice_custom_sections":
false}` is empty. Fields that are not Lago's are ignored, as DRF ignores unknown fields
(docs/lago-compatibility.md, "Refused Lago fields").
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from billing_project.core.errors import ValidationFailure

NOT_SUPPORTED = "value_is_not_supported"
_EMPTY: tuple[Any, ...] = (None, "", [], {}, False)


@dataclass(frozen=True)
class LagoOnly:
    """A Lago request field bxb refuses unless its value asks for nothing.

    `path` is dotted from the object it is checked in; `[]` after a name visits every element of
    that list (`charges[].applied_pricing_unit`). `accepted` lists the values that ask for
    bxb's own behaviour (empty values are always accepted unless `empty_accepted` is False, for
    a flag whose `false` asks for something else). `reason` is what the docs say.
    """

    path: str
    reason: str
    accepted: tuple[Any, ...] = ()
    empty_accepted: bool = True

    def allows(self, value: Any) -> bool:
        if value is None:
            return True
        compact = _compact(value)
        if self.empty_accepted and any(_same(compact, empty) for empty in _EMPTY):
            return True
        return any(_same(compact, _compact(allowed)) for allowed in self.accepted)


def _compact(value: Any) -> Any:
    """An object without its empty members (recursively); other values as they are."""
    if isinstance(value, dict):
        kept = {key: _compact(item) for key, item in value.items()}
        return {key: item for key, item in kept.items() if not any(_same(item, empty) for empty in _EMPTY)}
    return value


def _same(value: Any, other: Any) -> bool:
    # `False == 0` and `1 == True` in Python; a flag and a number are different answers here.
    return type(value) is type(other) and value == other


def _visit(node: Any, parts: list[str], prefix: str) -> Iterator[tuple[str, Any]]:
    if not parts:
        yield prefix, node
        return
    head, rest = parts[0], parts[1:]
    many = head.endswith("[]")
    name = head[:-2] if many else head
    if not isinstance(node, dict) or name not in node:
        return
    value = node[name]
    key = f"{prefix}.{name}" if prefix else name
    if not many:
        yield from _visit(value, rest, key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _visit(item, rest, f"{key}.{index}")


def unsupported_errors(payload: Any, fields: Iterable[LagoOnly], *, prefix: str = "") -> dict[str, list[str]]:
    """`{dotted key: ["value_is_not_supported"]}` for every declared field the payload uses."""
    errors: dict[str, list[str]] = {}
    for field in fields:
        for key, value in _visit(payload, field.path.split("."), prefix):
            if not field.allows(value):
                errors[key] = [NOT_SUPPORTED]
    return errors


def refuse_unsupported(payload: Any, fields: Iterable[LagoOnly], *, prefix: str = "") -> None:
    """422 (Lago's shape, `value_is_not_supported`) when the payload uses a field bxb lacks."""
    if errors := unsupported_errors(payload, fields, prefix=prefix):
        raise ValidationFailure(errors)
