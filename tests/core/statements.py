"""Counting the statements of one API request (the read-path statement tests)."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext


def get_counted(client: Any, path: str) -> tuple[Any, list[str]]:
    """`client.get(path)` (which must answer 200): its JSON body and the SQL of its statements."""
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    assert response.status_code == 200, response.content
    return response.json(), [q["sql"] for q in captured.captured_queries]
