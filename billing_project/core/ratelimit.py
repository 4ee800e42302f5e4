"""A reusable fixed-window rate limiter, shared by every worker through Redis when configured.

Interface (all a caller needs)::

    from billing_project.core import ratelimit

    result = ratelimit.hit("api:key:<api_key_id>", limit=6000, window_seconds=60)
    if not result.allowed:
        ...  # answer 429 with result.headers()

`hit(key, limit, window_seconds, *, cost=1)` takes `cost` units (1 per request; a batch of 1,000
events may cost 1,000) from the budget of `key` in the current window and returns a
`RateLimitResult(allowed, limit, remaining, reset_seconds)`:

* windows are aligned on the epoch (`floor(now / window_seconds)`), so every worker agrees on
  when a window starts and `reset_seconds` (1 .. window_seconds) is the same everywhere;
* a refused hit is still counted (a client hammering a closed window does not get through when
  it reopens any sooner), but `remaining` never goes below 0;
* `limit <= 0` disables the limit: the hit is allowed and nothing is stored;
* `result.headers()` gives Lago's `x-ratelimit-limit`, `x-ratelimit-remaining` and
  `x-ratelimit-reset` (seconds), which lago-python-client reads on a 429.

Storage: with `REDIS_URL` set, one Redis key per (key, window), `<RATE_LIMIT_KEY_PREFIX><key>:<window_seconds>:<window>`,
updated with INCRBY + EXPIRE in one Lua script (atomic, one round trip and one command; the key
expires shortly after its window).
Without Redis, or when Redis cannot be reached (logged, never an error for the client; Redis is
tried again after `REDIS_RETRY_AFTER_SECONDS`), an in-process counter is used: exact within one
process, per process under several workers.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)

_EXPIRY_MARGIN_SECONDS = 5


@dataclass(frozen=True)
class RateLimitResult:
    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int
    # The count of the `also=` counter after this hit, when it was taken in the same Redis call.
    also_count: int | None = None

    def headers(self) -> dict[str, str]:
        return {
            "x-ratelimit-limit": str(self.limit),
            "x-ratelimit-remaining": str(self.remaining),
            "x-ratelimit-reset": str(self.reset_seconds),
        }


class _LocalCounters:
    """Thread-safe per-process counters: one (window, count) pair per key, reset when the window moves."""

    _PURGE_ABOVE = 10_000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, tuple[int, int]] = {}

    def incr(self, key: str, window: int, cost: int) -> int:
        with self._lock:
            if len(self._counts) > self._PURGE_ABOVE:
                self._counts = {k: v for k, v in self._counts.items() if v[0] >= window}
            stored_window, used = self._counts.get(key, (window, 0))
            used = (used if stored_window == window else 0) + cost
            self._counts[key] = (window, used)
            return used

    def clear(self) -> None:
        with self._lock:
            self._counts.clear()


_local = _LocalCounters()
_clients: dict[str, Any] = {}
_clients_lock = threading.Lock()


def _redis_client(url: str) -> Any:
    client = _clients.get(url)
    if client is None:
        import redis

        with _clients_lock:
            client = _clients.get(url)
            if client is None:
                client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
                _clients[url] = client
    return client


# After a Redis failure, count in-process for this long before trying Redis again, so a Redis
# outage neither slows every request by the socket timeout nor floods the logs.
REDIS_RETRY_AFTER_SECONDS = 5.0
_redis_down_until = 0.0


# INCRBY + EXPIRE as one server-side script: atomic like MULTI/EXEC, but one command and one
# reply instead of four (MULTI, INCRBY, EXPIRE, EXEC), which is most of the limiter's client CPU.
_INCR_SCRIPT = (
    "local out = {} for i = 1, #KEYS do out[i] = redis.call('INCRBY', KEYS[i], ARGV[2 * i - 1]) "
    "redis.call('EXPIRE', KEYS[i], ARGV[2 * i]) end return out"
)
_scripts: dict[str, Any] = {}


def _incr_script(url: str) -> Any:
    script = _scripts.get(url)
    if script is None:
        script = _scripts[url] = _redis_client(url).register_script(_INCR_SCRIPT)
    return script


def _redis_incr(
    url: str, key: str, window_seconds: int, cost: int, also: tuple[str, int, int] | None = None
) -> list[int] | None:
    global _redis_down_until
    if time.monotonic() < _redis_down_until:
        return None
    keys, args = [key], [cost, window_seconds + _EXPIRY_MARGIN_SECONDS]
    if also is not None:
        keys.append(also[0])
        args += [also[1], also[2]]
    try:
        return [int(n) for n in _incr_script(url)(keys=keys, args=args)]
    except Exception as exc:  # noqa: BLE001 - Redis down: count locally rather than fail the request
        _redis_down_until = time.monotonic() + REDIS_RETRY_AFTER_SECONDS
        logger.warning(
            "rate limit store unavailable, counting in-process",
            extra={"error": str(exc), "retry_in_seconds": REDIS_RETRY_AFTER_SECONDS},
        )
        return None


def backend() -> str:
    """`redis` when counters are shared through Redis, else `local`."""
    return "redis" if _redis_url() else "local"


def _redis_url() -> str:
    return getattr(settings, "REDIS_URL", "") or ""


def hit(
    key: str,
    limit: int,
    window_seconds: int,
    *,
    cost: int = 1,
    now: float | None = None,
    also: tuple[str, int, int] | None = None,
) -> RateLimitResult:
    """Take `cost` from `key`'s budget of `limit` per `window_seconds`; see the module docstring.

    `also=(redis_key, cost, expire_seconds)` increments another caller-owned Redis counter in the
    same call (one round trip for two limits); its new value comes back as `also_count`, or None
    when Redis was not used (no REDIS_URL, Redis down, or this limit disabled): the caller then
    counts it its own way."""
    if window_seconds <= 0:
        raise ValueError("window_seconds must be positive")
    if cost < 0:
        raise ValueError("cost must not be negative")
    moment = time.time() if now is None else now
    window = int(moment // window_seconds)
    reset = max(1, min(window_seconds, int((window + 1) * window_seconds - moment + 0.999)))
    if limit <= 0:
        return RateLimitResult(True, 0, 0, reset)
    prefix = getattr(settings, "RATE_LIMIT_KEY_PREFIX", "bxb:rl:")
    base_key = f"{prefix}{key}:{window_seconds}"
    used: int | None = None
    also_count: int | None = None
    url = _redis_url()
    if url:
        counts = _redis_incr(url, f"{base_key}:{window}", window_seconds, cost, also)
        if counts is not None:
            used = counts[0]
            also_count = counts[1] if also is not None else None
    if used is None:
        used = _local.incr(base_key, window, cost)
    allowed = used <= limit
    return RateLimitResult(allowed, limit, max(0, limit - used), reset, also_count)


def reset_local() -> None:
    """Forget the in-process counters and any Redis back-off (tests)."""
    global _redis_down_until
    _local.clear()
    _redis_down_until = 0.0
