"""One HTTP POST of a webhook, with a bounded timeout and a bounded read of the answer."""

from __future__ import annotations

import functools
import ssl
import time
from dataclasses import dataclass

import certifi
import httpx

RESPONSE_EXCERPT_CHARS = 1000
_MAX_READ_BYTES = 8 * 1024
USER_AGENT = "bxb-webhooks/1.0"


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """Built once per process: loading the CA bundle is most of the cost of a new client."""
    return ssl.create_default_context(cafile=certifi.where())


@dataclass(frozen=True)
class Outcome:
    succeeded: bool
    http_status: int | None
    duration_ms: int
    error: str
    response_excerpt: str


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float) -> Outcome:
    """POST `body` to `url`. Any 2xx is success; redirects are not followed (a 3xx is a failure)."""
    started = time.monotonic()
    all_headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers}
    try:
        with (
            httpx.Client(
                timeout=httpx.Timeout(timeout), follow_redirects=False, trust_env=False, verify=_ssl_context()
            ) as client,
            client.stream("POST", url, content=body, headers=all_headers) as response,
        ):
            chunks = bytearray()
            for chunk in response.iter_raw():
                chunks.extend(chunk)
                if len(chunks) >= _MAX_READ_BYTES or time.monotonic() - started > timeout:
                    break
            status = response.status_code
    except httpx.TimeoutException as exc:
        return _failed(started, f"timeout after {timeout:g}s ({type(exc).__name__})")
    except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError, OSError, ValueError) as exc:
        return _failed(started, f"{type(exc).__name__}: {exc}"[:500])
    excerpt = bytes(chunks[:_MAX_READ_BYTES]).decode("utf-8", errors="replace")[:RESPONSE_EXCERPT_CHARS]
    ok = 200 <= status < 300
    return Outcome(
        succeeded=ok,
        http_status=status,
        duration_ms=_elapsed_ms(started),
        error="" if ok else f"HTTP {status}",
        response_excerpt=excerpt,
    )


def _elapsed_ms(started: float) -> int:
    return max(int((time.monotonic() - started) * 1000), 0)


def _failed(started: float, error: str) -> Outcome:
    return Outcome(
        succeeded=False, http_status=None, duration_ms=_elapsed_ms(started), error=error, response_excerpt=""
    )
