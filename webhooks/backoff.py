"""The retry schedule of webhook deliveries (pure; no ORM).

After attempt 1 fails the next one is about 1 minute later, then 5 min, 15 min, 30 min, 1 h, and
hourly after that, each delay stretched by up to 10% of random jitter so that many deliveries
failing together do not retry in lock-step. Retries stop at the maximum age (a setting).
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

SCHEDULE_SECONDS = (60, 5 * 60, 15 * 60, 30 * 60, 60 * 60)
JITTER_RATIO = 0.1


def base_delay_seconds(failed_attempts: int) -> int:
    """Delay before the next attempt once `failed_attempts` (>= 1) attempts have failed."""
    index = max(failed_attempts, 1) - 1
    return SCHEDULE_SECONDS[min(index, len(SCHEDULE_SECONDS) - 1)]


def retry_delay(failed_attempts: int, *, rng: random.Random | None = None) -> timedelta:
    base = base_delay_seconds(failed_attempts)
    jitter = (rng or random).uniform(0, base * JITTER_RATIO)
    return timedelta(seconds=base + jitter)


def next_attempt_at(
    *, created_at: datetime, now: datetime, failed_attempts: int, max_age: timedelta, rng: random.Random | None = None
) -> datetime | None:
    """When to try again, or None when the next try would fall past the delivery's maximum age."""
    candidate = now + retry_delay(failed_attempts, rng=rng)
    if candidate > created_at + max_age:
        return None
    return candidate
