"""Per-organization event rate limit (`RATE_LIMIT_EVENTS_PER_MINUTE`), fixed one-minute windows.

With `REDIS_URL` the counter lives in Redis (shared by every worker: one INCRBY + EXPIRE per
request); without it, in this process. Counting is by events, so a batch of 1,000 costs 1,000.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings

WINDOW_SECONDS = 60


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    limit: int
    remaining: int
    reset: int  # seconds until the window resets

    def headers(self) -> dict[str, str]:
        return {
            "x-ratelimit-limit": str(self.limit),
            "x-ratelimit-remaining": str(self.remaining),
            "x-ratelimit-reset": str(self.reset),
        }


_local_lock = threading.Lock()
_local_counts: dict[tuple[str, int], int] = {}
_redis_client: Any = None
_redis_down_until = 0.0  # after a Redis failure, count locally for a few seconds (no per-request timeout)
REDIS_RETRY_SECONDS = 5.0


def _redis() -> Any:
    global _redis_client
    if _redis_client is None:
        import redis

        _redis_client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=0.5, socket_connect_timeout=0.5)
    return _redis_client


def limit_per_minute() -> int:
    return int(getattr(settings, "RATE_LIMIT_EVENTS_PER_MINUTE", 0) or 0)


def _window(organization_id: Any, now: float | None) -> tuple[float, int, str]:
    """This moment (`now`, else the clock's), the number of its one-minute window and the window's
    counter key for the organization."""
    moment = time.time() if now is None else now
    window = int(moment // WINDOW_SECONDS)
    return moment, window, f"bxb:ratelimit:events:{organization_id}:{window}"


def consume(organization_id: Any, cost: int, *, now: float | None = None) -> RateDecision | None:
    """Take `cost` events from the organization's budget; None when rate limiting is off."""
    if limit_per_minute() <= 0:
        return None
    moment, window, key = _window(organization_id, now)
    used: int | None = None
    global _redis_down_until
    if settings.REDIS_URL and time.monotonic() >= _redis_down_until:
        try:
            pipe = _redis().pipeline()
            pipe.incrby(key, cost)
            pipe.expire(key, WINDOW_SECONDS + 5)
            used = int(pipe.execute()[0])
        except Exception:  # noqa: BLE001 - Redis down: fall back to the local counter, never fail ingestion
            _redis_down_until = time.monotonic() + REDIS_RETRY_SECONDS
            used = None
    if used is None:
        with _local_lock:
            for stale in [k for k in _local_counts if k[1] < window]:
                del _local_counts[stale]
            used = _local_counts.get((key, window), 0) + cost
            _local_counts[(key, window)] = used
    return decide(used, cost, now=moment)


def redis_counter(organization_id: Any, cost: int, *, now: float | None = None) -> tuple[str, int, int] | None:
    """`(redis key, cost, expiry seconds)` of this window's counter, for a caller that increments it
    inside a Redis call of its own (the per-key API limit's: one round trip for both limits), then
    passes the new count to `decide`. None when the limit is off or Redis is not in use right now:
    the caller then calls `consume`."""
    if limit_per_minute() <= 0 or not settings.REDIS_URL or time.monotonic() < _redis_down_until:
        return None
    return (_window(organization_id, now)[2], cost, WINDOW_SECONDS + 5)


def decide(used: int, cost: int, *, now: float | None = None) -> RateDecision | None:
    """The decision for a window count `used` that includes this request's `cost`."""
    limit = limit_per_minute()
    if limit <= 0:
        return None
    moment = time.time() if now is None else now
    window = int(moment // WINDOW_SECONDS)
    reset = max(1, int((window + 1) * WINDOW_SECONDS - moment))
    if used > limit:
        remaining = max(0, limit - (used - cost))
        return RateDecision(False, limit, remaining, reset)
    return RateDecision(True, limit, limit - used, reset)


def reset_local() -> None:
    global _redis_down_until
    with _local_lock:
        _local_counts.clear()
    _redis_down_until = 0.0
