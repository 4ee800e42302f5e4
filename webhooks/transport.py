"""One HTTP POST of a webhook, with a bounded timeout and a bounded read of the answer."""

from __future__ import annotations

import functools
import ssl
import time
from dataclasses import dataclass

import certifi
import httpx

from webhooks import targets

RESPONSE_EXCERPT_CHARS = 1000
_MAX_READ_BYTES = 8 * 1024
USER_AGENT = "bxb-webhooks/1.0"


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """Built once per process: loading the CA bundle is most of the cost of a new client."""
    return ssl.create_default_context(cafile=certifi.where())


@dataclass(frozen=True)
class Outcome:
    """One POST's result; a `WebhookAttempt` row stores these fields as they are."""

    succeeded: bool
    http_status: int | None
    duration_ms: int
    error: str
    response_excerpt: str


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float, allow_private: bool = False) -> Outcome:
    """POST `body` to `url`. Any 2xx is success; redirects are not followed (a 3xx is a failure).

    The host is resolved once and its addresses checked (`targets.checked_addresses`); the request
    then goes to those addresses themselves, in the resolver's order until one accepts the
    connection, with the URL's host in the `Host` header and as the TLS server name (the
    certificate is still verified for that name). No second lookup happens, so a DNS answer that
    changes between the check and the connection cannot reach a private address.
    """
    started = time.monotonic()
    try:
        target = httpx.URL(url)
        host = target.raw_host.decode("ascii")
        port = target.port or (443 if target.scheme == "https" else 80)
        addresses = targets.checked_addresses(host, port, allow_private=allow_private)
    except targets.PrivateTargetError as exc:
        return _failed(started, str(exc))
    except (httpx.InvalidURL, UnicodeError, ValueError) as exc:
        return _failed(started, f"{type(exc).__name__}: {exc}"[:500])
    if not addresses:
        return _failed(started, f"ConnectError: {host} does not resolve")
    all_headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        **headers,
        "Host": target.netloc.decode("ascii"),
    }
    extensions = {"sni_hostname": host} if target.scheme == "https" else {}
    for index, address in enumerate(addresses):
        pinned = target.copy_with(host=address, port=port)
        last = index == len(addresses) - 1 or time.monotonic() - started > timeout
        try:
            return _send(pinned, body, all_headers, extensions, timeout=timeout, started=started)
        except httpx.ConnectError as exc:
            if last:
                return _failed(started, f"{type(exc).__name__}: {exc}"[:500])
        except httpx.TimeoutException as exc:
            return _failed(started, f"timeout after {timeout:g}s ({type(exc).__name__})")
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError, OSError, ValueError) as exc:
            return _failed(started, f"{type(exc).__name__}: {exc}"[:500])
    return _failed(started, "ConnectError: no address accepted the connection")  # not reached


def _send(
    url: httpx.URL, body: bytes, headers: dict[str, str], extensions: dict, *, timeout: float, started: float
) -> Outcome:
    with (
        httpx.Client(
            timeout=httpx.Timeout(timeout), follow_redirects=False, trust_env=False, verify=_ssl_context()
        ) as client,
        client.stream("POST", url, content=body, headers=headers, extensions=extensions) as response,
    ):
        chunks = bytearray()
        for chunk in response.iter_raw():
            chunks.extend(chunk)
            if len(chunks) >= _MAX_READ_BYTES or time.monotonic() - started > timeout:
                break
        status = response.status_code
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
