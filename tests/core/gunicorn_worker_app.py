"""A plain WSGI application for tests/core/test_gunicorn_worker.py (no Django, so gunicorn starts fast).

`GET /` answers 200 with a small body; `POST /consume` reads the whole body and answers its length;
`POST /early` answers 401 without reading the body (as an API answers a request without a key).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    path = environ["PATH_INFO"]
    if path == "/consume":
        length = int(environ.get("CONTENT_LENGTH") or 0)
        read = len(environ["wsgi.input"].read(length))
        body = str(read).encode()
        status = "200 OK"
    elif path == "/early":
        body = b'{"status": 401, "error": "Unauthorized"}'
        status = "401 Unauthorized"
    else:
        body = b"hello " * 100
        status = "200 OK"
    start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
