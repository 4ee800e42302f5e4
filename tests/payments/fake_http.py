"""A JSON HTTP server on loopback, the base of the suite's fake payment providers (Adyen,
GoCardless). Subclasses route requests; the base records them, replays answers to a repeated
`Idempotency-Key` when the subclass asks for it, and injects faults (`fail_next(n, "500"|"timeout")`:
a timeout processes the request, then answers after the client has given up)."""

from __future__ import annotations

import itertools
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlparse

_ids = itertools.count(1)


def new_id(prefix: str) -> str:
    return f"{prefix}{next(_ids):06d}"


class FakeJsonServer:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.faults: list[str] = []
        self.timeout_seconds = 1.5
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                fake._handle(self, "GET")

            def do_POST(self) -> None:
                fake._handle(self, "POST")

            def do_DELETE(self) -> None:
                fake._handle(self, "DELETE")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def fail_next(self, count: int = 1, kind: str = "500") -> None:
        self.faults.extend([kind] * count)

    def posts(self, suffix: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["method"] == "POST" and r["path"].endswith(suffix)]

    # subclasses
    def route(self, method: str, path: str, body: dict[str, Any], record: dict[str, Any]) -> tuple[int, Any]:
        raise NotImplementedError

    def fault_body(self) -> dict[str, Any]:
        return {"status": 500, "message": "fake outage"}

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length).decode() if length else ""
        parsed = urlparse(handler.path)
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = {}
        record = {
            "method": method,
            "path": parsed.path,
            "query": dict(parse_qsl(parsed.query)),
            "body": body,
            "headers": {k.lower(): v for k, v in handler.headers.items()},
            "idempotency_key": handler.headers.get("Idempotency-Key"),
        }
        with self.lock:
            self.requests.append(record)
            fault = self.faults.pop(0) if self.faults else None
        if fault == "500":
            return self._send(handler, 500, self.fault_body())
        with self.lock:
            status, answer = self.route(method, parsed.path, body, record)
        if fault == "timeout":
            time.sleep(self.timeout_seconds)
        self._send(handler, status, answer)

    def _send(self, handler: BaseHTTPRequestHandler, status: int, body: Any) -> None:
        data = json.dumps(body).encode() if body is not None else b""
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
