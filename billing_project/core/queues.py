"""What waits in the broker, read at each `/metrics` scrape (Redis, as kombu lays its queues out).

Per queue: how many tasks wait, and how long the oldest has waited (every task carries its publish
time in the `bxb_published_at` header, billing_project/core/observability.py). Across queues: how
many tasks workers have taken and not acknowledged, and since when the oldest (kombu's unacked
index; a task held longer than the broker's visibility timeout is given to another worker).

A queue whose oldest task keeps ageing while its depth grows has no live consumer: this is what
tells a dead or stuck worker apart, which `/health/ready` cannot (docs/operations.md, "Alerts").
"""

from __future__ import annotations

import json
import time
from typing import Any

from django.conf import settings

from billing_project.core.metrics import GaugeSample

# kombu's Redis transport: a queue `q` is the list `q` plus `q\x06\x16{3,6,9}` for priorities; it
# pushes on the left and consumers pop on the right, so the oldest message is at index -1.
PRIORITY_SEPARATOR = "\x06\x16"
PRIORITY_STEPS = (0, 3, 6, 9)
UNACKED_INDEX = "unacked_index"
PUBLISHED_AT_HEADER = "bxb_published_at"


def _queue_names() -> list[str]:
    from billing_project.celery import app

    names = {app.conf.task_default_queue or "celery"}
    for queue in app.conf.task_queues or ():
        names.add(getattr(queue, "name", str(queue)))
    return sorted(names)


def _client() -> Any:
    import redis

    # A scrape must not hang on a stalled broker: the same bound as publishing.
    timeout = getattr(settings, "BROKER_SOCKET_TIMEOUT", 0.5)
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=timeout, socket_connect_timeout=timeout)


def _published_at(raw: Any) -> float | None:
    try:
        message = json.loads(raw)
        value = (message.get("headers") or {}).get(PUBLISHED_AT_HEADER)
        return float(value) if value is not None else None
    except (TypeError, ValueError, AttributeError):
        return None


def broker_gauges(now: float | None = None) -> list[GaugeSample]:
    """The broker's gauges; `bxb_celery_broker_up 0` alone when it cannot be read. Nothing without
    REDIS_URL (tasks run inline)."""
    if not getattr(settings, "REDIS_URL", ""):
        return []
    now = time.time() if now is None else now
    try:
        client = _client()
        try:
            names = _queue_names()
            pipe = client.pipeline(transaction=False)
            keys = {}
            for name in names:
                keys[name] = [name if step == 0 else f"{name}{PRIORITY_SEPARATOR}{step}" for step in PRIORITY_STEPS]
                for key in keys[name]:
                    pipe.llen(key)
                    pipe.lindex(key, -1)
            pipe.zcard(UNACKED_INDEX)
            pipe.zrange(UNACKED_INDEX, 0, 0, withscores=True)
            replies = pipe.execute()
        finally:
            client.close()
    except Exception:  # noqa: BLE001 - a scrape reports, it does not raise
        return [GaugeSample("bxb_celery_broker_up", "1 when the broker answered this scrape.", 0.0)]
    samples = [GaugeSample("bxb_celery_broker_up", "1 when the broker answered this scrape.", 1.0)]
    position = 0
    for name in names:
        depth, oldest = 0, None
        for _ in keys[name]:
            length, tail = replies[position], replies[position + 1]
            position += 2
            depth += int(length or 0)
            published = _published_at(tail) if tail else None
            if published is not None and (oldest is None or published < oldest):
                oldest = published
        samples.append(
            GaugeSample("bxb_celery_queue_depth", "Tasks waiting in the queue.", float(depth), {"queue": name})
        )
        samples.append(
            GaugeSample(
                "bxb_celery_queue_oldest_age_seconds",
                "How long the oldest task waiting in the queue has waited (0 when empty).",
                max(now - oldest, 0.0) if oldest is not None and depth else 0.0,
                {"queue": name},
            )
        )
    reserved, first = replies[position], replies[position + 1]
    samples.append(
        GaugeSample(
            "bxb_celery_reserved_tasks",
            "Tasks taken by workers and not acknowledged yet (running, prefetched or waiting for a countdown).",
            float(reserved or 0),
        )
    )
    samples.append(
        GaugeSample(
            "bxb_celery_reserved_oldest_age_seconds",
            "How long ago the oldest unacknowledged task was taken by a worker (0 when none).",
            max(now - float(first[0][1]), 0.0) if first else 0.0,
        )
    )
    return samples
