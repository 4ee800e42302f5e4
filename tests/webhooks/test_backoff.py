"""The retry schedule (pure functions)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from webhooks import backoff

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_documented_schedule():
    assert [backoff.base_delay_seconds(n) for n in range(1, 8)] == [60, 300, 900, 1800, 3600, 3600, 3600]


@given(failed=st.integers(min_value=1, max_value=500), seed=st.integers())
def test_jitter_stays_within_ten_percent_and_never_shortens(failed, seed):
    base = backoff.base_delay_seconds(failed)
    delay = backoff.retry_delay(failed, rng=random.Random(seed)).total_seconds()
    assert base <= delay <= base * 1.1


@given(failed=st.integers(min_value=1, max_value=4), seed=st.integers())
def test_delays_grow_until_hourly(failed, seed):
    rng = random.Random(seed)
    assert backoff.retry_delay(failed, rng=rng) < backoff.retry_delay(failed + 1, rng=rng)


@given(max_age_minutes=st.integers(min_value=0, max_value=7 * 24 * 60), seed=st.integers())
def test_attempts_stop_at_the_maximum_age(max_age_minutes, seed):
    rng = random.Random(seed)
    max_age = timedelta(minutes=max_age_minutes)
    now, failed = T0, 0
    while True:
        failed += 1
        planned = backoff.next_attempt_at(created_at=T0, now=now, failed_attempts=failed, max_age=max_age, rng=rng)
        if planned is None:
            break
        assert planned > now
        assert planned <= T0 + max_age
        now = planned
    # Never more than one attempt per minute, and about hourly after the first hour and a half.
    assert failed <= max_age_minutes + 1
    assert failed <= 6 + max_age_minutes // 60 + 1


def test_one_hour_down_is_survived_with_the_default_maximum_age():
    """A receiver down for an hour still gets the delivery: attempts keep coming after the outage."""
    now, failed = T0, 0
    attempts = [T0]
    while now < T0 + timedelta(hours=3):
        failed += 1
        now = backoff.next_attempt_at(created_at=T0, now=now, failed_attempts=failed, max_age=timedelta(hours=24))
        attempts.append(now)
    after_outage = [t for t in attempts if t > T0 + timedelta(hours=1)]
    assert after_outage and after_outage[0] <= T0 + timedelta(hours=2, minutes=6)
