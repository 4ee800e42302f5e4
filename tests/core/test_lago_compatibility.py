"""docs/lago-compatibility.md §5 lists every operation of Lago's specification and clients: each row
marked served resolves to a bxb view that answers that method, at /api/v1 and /v1."""

from __future__ import annotations

import re
from pathlib import Path

from django.urls import Resolver404, resolve

DOC = Path(__file__).resolve().parents[2] / "docs" / "lago-compatibility.md"
ROW = re.compile(r"^\| (GET|POST|PUT|PATCH|DELETE) `([^`]+)` \| (yes|\*\*no\*\*) \|", re.MULTILINE)


def _rows() -> list[tuple[str, str, bool]]:
    section = DOC.read_text().split("## 5. Every operation", 1)[1]
    return [(method, path, served == "yes") for method, path, served in ROW.findall(section)]


def _answers(method: str, path: str) -> bool:
    try:
        match = resolve(path)
    except Resolver404:
        return False
    view = getattr(match.func, "view_class", None) or getattr(match.func, "cls", None)
    return view is not None and hasattr(view, method.lower())


def test_the_table_lists_the_operations():
    rows = _rows()
    assert len(rows) >= 202 + 10
    assert len({(method, path) for method, path, _ in rows}) == len(rows)


def test_every_operation_marked_served_answers():
    wrong = []
    for method, path, served in _rows():
        concrete = re.sub(r"\{[^}]*\}", "x1", path)
        if served and not all(_answers(method, prefix + concrete) for prefix in ("/api/v1", "/v1")):
            wrong.append(f"{method} {path}")
    assert wrong == []
