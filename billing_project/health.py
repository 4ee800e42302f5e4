"""Liveness and readiness probes."""

from __future__ import annotations

import logging
from urllib.parse import urlparse

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)


@require_GET
def live(request: HttpRequest) -> JsonResponse:
    """The process answers; touches nothing else."""
    return JsonResponse({"status": "ok"})


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _check_redis() -> None:
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    finally:
        client.close()


def _check_clickhouse() -> None:
    from clickhouse_driver import Client

    parsed = urlparse(settings.CLICKHOUSE_URL)
    client = Client(
        host=parsed.hostname or "127.0.0.1",
        port=parsed.port or 9000,
        user=parsed.username or "default",
        password=parsed.password or "",
        connect_timeout=2,
        send_receive_timeout=2,
    )
    try:
        client.execute("SELECT 1")
    finally:
        client.disconnect()


# Readiness is about this web process serving requests. It does not (and should not: a load
# balancer would take every web server out for it) check that Celery workers consume the queues
# or that beat runs: alert on /metrics for those (docs/operations.md, "Alerts worth setting").
NOT_COVERED = {
    "workers": "bxb_celery_queue_oldest_age_seconds, bxb_celery_queue_depth",
    "beat": "bxb_beat_entry_last_run_age_seconds, bxb_billing_run_sweep_age_seconds",
}


@require_GET
def ready(request: HttpRequest) -> JsonResponse:
    """Every configured dependency answers; 503 names the ones that do not. The body also names what
    readiness does not check (`not_checked`: workers and beat) and the metrics that do."""
    checks = {"database": _check_database}
    if settings.REDIS_URL:
        checks["redis"] = _check_redis
    if settings.CLICKHOUSE_URL:
        checks["clickhouse"] = _check_clickhouse
    components: dict[str, str] = {}
    failing: list[str] = []
    for name, check in checks.items():
        try:
            check()
            components[name] = "ok"
        except Exception as exc:  # noqa: BLE001 - a probe reports, it does not raise
            logger.warning("readiness check %s failed: %s", name, exc)
            components[name] = "failing"
            failing.append(name)
    if failing:
        body = {"status": "unavailable", "failing": failing, "components": components, "not_checked": NOT_COVERED}
        return JsonResponse(body, status=503)
    return JsonResponse({"status": "ok", "components": components, "not_checked": NOT_COVERED})
