"""Prometheus metrics: HTTP and Celery instrumentation, the business counters, and `GET /metrics`.

Other apps import this module and call the helpers (or the metric objects) directly::

    from billing_project.core import metrics

    metrics.events_ingested.inc(len(batch))
    metrics.events_duplicate.inc()
    metrics.invoice_generated("finalized")          # invoices_generated{status}
    metrics.payment_attempted("succeeded")          # payments_attempted{result}
    metrics.webhook_delivered("failed")             # webhook_deliveries{result}
    metrics.clickhouse_fallback("pending")          # clickhouse_fallbacks{reason}

Label values must come from a small fixed set (statuses, results): never ids, paths or customer
data, or the number of time series explodes.

Several gunicorn workers: set `PROMETHEUS_MULTIPROC_DIR` to an empty, writable directory (wiped at
each deploy) in the environment of every worker and Celery process; the view then aggregates the
files of all processes. Without it, each process reports only its own numbers.
"""

from __future__ import annotations

import hmac
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core import checks
from django.http import HttpRequest, HttpResponse, JsonResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily

from billing_project.core.api.exceptions import lago_error

# --- HTTP ------------------------------------------------------------------------------------

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

http_request_duration = Histogram(
    "bxb_http_request_duration_seconds",
    "Time to answer an HTTP request, by URL route (the pattern, never the raw path).",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
)
http_requests = Counter(
    "bxb_http_requests",
    "HTTP responses by route and status class (2xx, 3xx, 4xx, 5xx).",
    ["method", "route", "status_class"],
)
http_exceptions = Counter(
    "bxb_http_exceptions",
    "Unhandled exceptions raised by views (answered 500), by route and exception type.",
    ["route", "exception"],
)
rate_limited = Counter("bxb_api_rate_limited", "API requests answered 429 (per-key request limit or events limit).")

# --- Celery ----------------------------------------------------------------------------------

TASK_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0)

celery_task_duration = Histogram(
    "bxb_celery_task_duration_seconds",
    "Celery task run time, by task name and final state (SUCCESS, FAILURE, RETRY).",
    ["task", "state"],
    buckets=TASK_BUCKETS,
)
celery_task_failures = Counter(
    "bxb_celery_task_failures", "Celery tasks that raised, by task name and exception type.", ["task", "exception"]
)
celery_publish_failures = Counter(
    "bxb_celery_publish_failures",
    "Tasks that could not be sent to the broker (left to the sweepers), by task name.",
    ["task"],
)

# --- Business counters (incremented by the apps) ------------------------------------------------

events_ingested = Counter("bxb_events_ingested", "Usage events accepted by the API (new events only).")
events_duplicate = Counter(
    "bxb_events_duplicate", "Usage events received again with a known transaction_id (not counted twice)."
)
invoices_generated = Counter("bxb_invoices_generated", "Invoices generated, by status.", ["status"])
payments_attempted = Counter("bxb_payments_attempted", "Payment attempts at a provider, by result.", ["result"])
webhook_deliveries = Counter("bxb_webhook_deliveries", "Outbound webhook delivery attempts, by result.", ["result"])


clickhouse_fallbacks = Counter(
    "bxb_clickhouse_fallbacks",
    "Aggregations answered by PostgreSQL while CLICKHOUSE_URL is set, by reason: not_backfilled (the "
    "organization's backfill is not complete), pending (outbox rows not yet copied), breaker_open (a "
    "read failed seconds ago), unavailable (this read failed or timed out).",
    ["reason"],
)
gunicorn_worker_timeouts = Counter(
    "bxb_gunicorn_worker_timeouts",
    "API workers killed by gunicorn because a request outlived GUNICORN_TIMEOUT (the client got a 500).",
)


def clickhouse_fallback(reason: str) -> None:
    clickhouse_fallbacks.labels(reason=reason).inc()


def invoice_generated(status: str, count: int = 1) -> None:
    invoices_generated.labels(status=status).inc(count)


def payment_attempted(result: str) -> None:
    payments_attempted.labels(result=result).inc()


def webhook_delivered(result: str) -> None:
    webhook_deliveries.labels(result=result).inc()


# --- Instrumentation helpers -------------------------------------------------------------------


def status_class(status: int) -> str:
    return f"{status // 100}xx" if 100 <= status < 600 else "other"


def route_of(request: HttpRequest) -> str:
    """The URL pattern that served the request (`api/v1/customers/<str:external_id>`)."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "<unresolved>"
    return match.route or match.view_name or "<unnamed>"


# The labelled children of the two HTTP metrics, by (method, route, status class): `labels()`
# validates and looks the labels up under a lock on every call, a per-request cost that a dict
# lookup replaces. Bounded like the metrics themselves (routes are URL patterns, not paths).
_http_children: dict[tuple[str, str, str], tuple[Any, Any]] = {}


def observe_request(request: HttpRequest, status: int, seconds: float) -> None:
    route = route_of(request)
    method = request.method or "OTHER"
    key = (method, route, status_class(status))
    children = _http_children.get(key)
    if children is None:
        children = (
            http_request_duration.labels(method=method, route=route),
            http_requests.labels(method=method, route=route, status_class=key[2]),
        )
        if len(_http_children) < 10_000:
            _http_children[key] = children
    children[0].observe(seconds)
    children[1].inc()


def observe_exception(request: HttpRequest, exception: BaseException) -> None:
    http_exceptions.labels(route=route_of(request), exception=type(exception).__name__).inc()


_task_started: dict[str, float] = {}


def task_started(task_id: str) -> None:
    _task_started[task_id] = time.monotonic()


def task_finished(task_id: str, task_name: str, state: str | None) -> None:
    started = _task_started.pop(task_id, None)
    if started is not None:
        celery_task_duration.labels(task=task_name, state=state or "UNKNOWN").observe(time.monotonic() - started)


def task_failed(task_name: str, exception: BaseException | None) -> None:
    celery_task_failures.labels(task=task_name, exception=type(exception).__name__ if exception else "Unknown").inc()


# --- The endpoint ------------------------------------------------------------------------------


def _registry() -> Any:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY


def check_metrics_token(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Deploy check: /metrics without a token and not declared public answers only 403."""
    if not getattr(settings, "METRICS_TOKEN", "") and not getattr(settings, "METRICS_PUBLIC", False):
        return [
            checks.Warning(
                "METRICS_TOKEN is not set: /metrics answers 403 to every scraper",
                hint="Set METRICS_TOKEN and send it as `Authorization: Bearer <token>` (README, Metrics).",
                id="bxb.W001",
            )
        ]
    return []


# --- Gauges read at scrape time ----------------------------------------------------------------
# Some figures are facts about the database or the broker, not about this process: the billing
# run's lag, the queues' depth. They are read when /metrics is scraped (cheap, bounded reads), by
# readers that `billing_project/monitoring.py` lists, and rendered after the process metrics.


@dataclass(frozen=True)
class GaugeSample:
    name: str
    documentation: str
    value: float
    labels: dict[str, str] = field(default_factory=dict)


class _Samples:
    def __init__(self, samples: Iterable[GaugeSample]) -> None:
        self.samples = list(samples)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        families: dict[str, GaugeMetricFamily] = {}
        for sample in self.samples:
            names = sorted(sample.labels)
            family = families.get(sample.name)
            if family is None:
                family = families[sample.name] = GaugeMetricFamily(sample.name, sample.documentation, labels=names)
            family.add_metric([sample.labels[n] for n in names], sample.value)
        yield from families.values()


def render_gauges(samples: Iterable[GaugeSample]) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Samples(samples))
    return generate_latest(registry)


def metrics_view(request: HttpRequest, *, scrape: Callable[[], Iterable[GaugeSample]] | None = None) -> HttpResponse:
    """Prometheus text exposition, behind `Authorization: Bearer <METRICS_TOKEN>`.

    Without a configured token the endpoint is closed (403) unless `METRICS_PUBLIC` is on, which is
    the default only with DEBUG: per-route exception counts are not for the public internet.
    """
    token = getattr(settings, "METRICS_TOKEN", "")
    if not token and not getattr(settings, "METRICS_PUBLIC", False):
        return JsonResponse(lago_error(403, "metrics_token_not_configured"), status=403)
    if token:
        parts = request.headers.get("Authorization", "").split()
        given = parts[1] if len(parts) == 2 and parts[0].lower() == "bearer" else ""
        if not hmac.compare_digest(given.encode(), token.encode()):
            response = JsonResponse(lago_error(401), status=401)
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
    if request.method not in ("GET", "HEAD"):
        return JsonResponse(lago_error(405, "method_not_allowed"), status=405)
    body = generate_latest(_registry())
    if scrape is not None:
        body += render_gauges(scrape())
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
