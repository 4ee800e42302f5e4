"""Request ids, structured JSON logs, the request id in Celery tasks, and Prometheus metrics."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import threading
from decimal import Decimal
from pathlib import Path

import pytest
from django.test import override_settings
from prometheus_client import REGISTRY

from billing_project.celery import app as celery_app
from billing_project.core import logging as bxb_logging
from billing_project.core import metrics, observability

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]

_seen: list[dict] = []
_seen_event = threading.Event()


@celery_app.task(name="tests.core.observability_probe")
def observability_probe(fail: bool = False) -> None:
    _seen.append(bxb_logging.current_context())
    logging.getLogger("tests.probe").info("probe ran")
    _seen_event.set()
    if fail:
        raise RuntimeError("probe failure")


@pytest.fixture
def json_lines():
    """Captures what the console handler would print, formatted as in production (JSON)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(bxb_logging.JsonFormatter())
    handler.addFilter(bxb_logging.ContextFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    previous = root.level
    root.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    root.removeHandler(handler)
    root.setLevel(previous)


def sample(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


# --- request ids ------------------------------------------------------------------------------


def test_every_response_carries_a_generated_request_id(api, client):
    first = api.get("/api/v1/customers")
    second = api.get("/api/v1/customers")
    assert len(first["X-Request-Id"]) == 32
    assert first["X-Request-Id"] != second["X-Request-Id"]
    assert len(client.get("/health")["X-Request-Id"]) == 32


def test_a_sane_incoming_request_id_is_kept_and_a_bad_one_replaced(api):
    assert api.get("/api/v1/customers", HTTP_X_REQUEST_ID="lb-7f3a:01.2")["X-Request-Id"] == "lb-7f3a:01.2"
    for bad in ("a" * 200, "has space", "semi;colon", "-leading-dash", 'quote"'):
        returned = api.get("/api/v1/customers", HTTP_X_REQUEST_ID=bad)["X-Request-Id"]
        assert returned != bad and len(returned) == 32


@override_settings(CORS_ORIGINS=["https://app.example"])
def test_browsers_may_send_and_read_the_request_id(api):
    response = api.get("/api/v1/customers", HTTP_ORIGIN="https://app.example", HTTP_X_REQUEST_ID="from-browser")
    assert response["X-Request-Id"] == "from-browser"
    assert "X-Request-Id" in response["Access-Control-Allow-Headers"]
    exposed = response["Access-Control-Expose-Headers"]
    assert "X-Request-Id" in exposed and "x-ratelimit-remaining" in exposed


def test_the_context_does_not_outlive_the_request(api):
    api.get("/api/v1/customers", HTTP_X_REQUEST_ID="req-1")
    assert bxb_logging.get_request_id() is None
    assert bxb_logging.current_context() == {}


# --- JSON logs --------------------------------------------------------------------------------


def test_json_formatter_writes_one_object_per_line_with_context_and_extras(json_lines):
    token = bxb_logging.bind_context(request_id="r-1", organization_id="org-1")
    try:
        logging.getLogger("bxb.test").warning("charged %s", "acme", extra={"amount": Decimal("1.10"), "n": 3})
        try:
            raise ValueError("boom")
        except ValueError:
            logging.getLogger("bxb.test").exception("failed\nmultiline")
    finally:
        bxb_logging.reset_context(token)
    logging.getLogger("bxb.test").info("outside")
    first, second, third = json_lines()
    assert first["level"] == "WARNING" and first["logger"] == "bxb.test"
    assert first["message"] == "charged acme"
    assert (first["request_id"], first["organization_id"]) == ("r-1", "org-1")
    assert (first["amount"], first["n"]) == ("1.10", 3)
    assert first["time"].endswith("+00:00")
    assert second["message"] == "failed\nmultiline"
    assert "ValueError: boom" in second["exc_info"]
    assert third["request_id"] is None and third["organization_id"] is None


def test_api_access_log_names_route_request_and_organization(tenant, json_lines):
    response = tenant.client.get("/api/v1/customers/unknown", HTTP_X_REQUEST_ID="trace-42")
    assert response.status_code == 404
    access = [line for line in json_lines() if line["logger"] == "bxb.access"]
    assert len(access) == 1
    line = access[0]
    assert line["request_id"] == "trace-42"
    assert line["organization_id"] == str(tenant.organization.id)
    assert line["route"] == "api/v1/customers/<str:external_id>"
    assert line["status"] == 404 and line["method"] == "GET"
    assert line["duration_ms"] >= 0
    # Django's own line, written after the middleware chain, carries the id too
    django_lines = [line for line in json_lines() if line["logger"] == "django.request"]
    assert django_lines and django_lines[-1]["request_id"] == "trace-42"
    assert bxb_logging.current_context() == {}


def _python(code: str, **env: str) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if k not in {"LOG_FORMAT", "DEBUG", "DJANGO_SETTINGS_MODULE"}}
    full_env.update({"DJANGO_SETTINGS_MODULE": "billing_project.settings", "SECRET_KEY": "x", **env})
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=60, check=False
    )


LOG_ONE_LINE = "import django, logging; django.setup(); logging.getLogger('bxb.x').warning('hello', extra={'k': 1})"


def test_log_format_is_json_by_default_and_plain_on_request():
    produced = _python(LOG_ONE_LINE)
    assert produced.returncode == 0, produced.stderr
    line = json.loads(produced.stderr.strip().splitlines()[-1])
    assert (line["message"], line["k"], line["level"]) == ("hello", 1, "WARNING")

    plain = _python(LOG_ONE_LINE, LOG_FORMAT="plain")
    assert plain.stderr.strip().endswith("WARNING bxb.x [-] hello")
    debug = _python(LOG_ONE_LINE, DEBUG="1")
    assert "WARNING bxb.x [-] hello" in debug.stderr

    wrong = _python("import django; django.setup()", LOG_FORMAT="xml")
    assert wrong.returncode != 0 and "LOG_FORMAT" in wrong.stderr


# --- Celery -----------------------------------------------------------------------------------


def test_publishing_puts_the_request_context_in_the_task_headers():
    headers: dict = {}
    token = bxb_logging.bind_context(request_id="req-9", organization_id="org-9")
    try:
        observability._on_publish(headers=headers)
    finally:
        bxb_logging.reset_context(token)
    assert headers.pop("bxb_published_at") > 0  # the queue-age gauge reads it (test_scrape_metrics.py)
    assert headers == {"bxb_request_id": "req-9", "bxb_organization_id": "org-9"}
    empty: dict = {}
    observability._on_publish(headers=empty)
    assert list(empty) == ["bxb_published_at"]


def test_request_id_travels_through_a_real_worker():
    from celery.contrib.testing.worker import start_worker

    assert celery_app.conf.worker_hijack_root_logger is False  # workers keep our JSON logging

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(bxb_logging.JsonFormatter())
    handler.addFilter(bxb_logging.ContextFilter())
    probe_logger = logging.getLogger("tests.probe")
    probe_logger.addHandler(handler)
    _seen.clear()
    _seen_event.clear()
    celery_app.conf.task_always_eager = False
    try:
        with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            token = bxb_logging.bind_context(request_id="req-from-api", organization_id="org-77")
            try:
                observability_probe.delay()
            finally:
                bxb_logging.reset_context(token)
            assert _seen_event.wait(15), "the worker never ran the task"
    finally:
        celery_app.conf.task_always_eager = True
        probe_logger.removeHandler(handler)
    context = _seen[-1]
    assert context["request_id"] == "req-from-api"
    assert context["organization_id"] == "org-77"
    assert context["task_name"] == "tests.core.observability_probe"
    line = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert (line["message"], line["request_id"], line["organization_id"]) == ("probe ran", "req-from-api", "org-77")


def test_eager_tasks_keep_the_request_id_and_tasks_outside_requests_get_one():
    _seen.clear()
    token = bxb_logging.bind_context(request_id="eager-req")
    try:
        observability_probe.delay()
    finally:
        bxb_logging.reset_context(token)
    assert _seen[-1]["request_id"] == "eager-req"
    observability_probe.apply(headers={"bxb_request_id": "from-header"})
    assert _seen[-1]["request_id"] == "from-header"
    observability_probe.delay()
    assert len(_seen[-1]["request_id"]) == 32
    assert bxb_logging.current_context() == {}  # postrun restored the outer context


def test_task_duration_and_failure_metrics():
    name = "tests.core.observability_probe"
    before_ok = sample("bxb_celery_task_duration_seconds_count", task=name, state="SUCCESS")
    before_fail = sample("bxb_celery_task_failures_total", task=name, exception="RuntimeError")
    observability_probe.apply()
    observability_probe.apply(kwargs={"fail": True}, throw=False)
    assert sample("bxb_celery_task_duration_seconds_count", task=name, state="SUCCESS") == before_ok + 1
    assert sample("bxb_celery_task_failures_total", task=name, exception="RuntimeError") == before_fail + 1
    assert sample("bxb_celery_task_duration_seconds_count", task=name, state="FAILURE") >= 1


# --- metrics ----------------------------------------------------------------------------------


def test_request_metrics_by_route_never_by_raw_path(tenant):
    route = "api/v1/customers/<str:external_id>"
    before = sample("bxb_http_requests_total", method="GET", route=route, status_class="4xx")
    before_hist = sample("bxb_http_request_duration_seconds_count", method="GET", route=route)
    for external_id in ("zz-raw-1", "zz-raw-2", "zz-raw-3"):
        tenant.client.get(f"/api/v1/customers/{external_id}")
    assert sample("bxb_http_requests_total", method="GET", route=route, status_class="4xx") == before + 3
    assert sample("bxb_http_request_duration_seconds_count", method="GET", route=route) == before_hist + 3
    exposition = metrics.generate_latest(REGISTRY).decode()
    assert "zz-raw" not in exposition


def test_unhandled_exceptions_are_counted(tenant, monkeypatch):
    from customers import selectors

    def broken(*args, **kwargs):
        raise ZeroDivisionError("bug")

    monkeypatch.setattr(selectors, "customer_list", broken)
    tenant.client.raise_request_exception = False
    before = sample("bxb_http_exceptions_total", route="api/v1/customers", exception="ZeroDivisionError")
    # A filter sends the list through the selector (the unfiltered first pages are prepared SQL).
    response = tenant.client.get("/api/v1/customers", {"search_term": "acme"})
    assert response.status_code == 500
    assert response.json()["status"] == 500
    assert sample("bxb_http_exceptions_total", route="api/v1/customers", exception="ZeroDivisionError") == before + 1
    assert sample("bxb_http_requests_total", method="GET", route="api/v1/customers", status_class="5xx") >= 1


def test_business_helpers_feed_their_counters():
    before = {
        "events": sample("bxb_events_ingested_total"),
        "dup": sample("bxb_events_duplicate_total"),
        "inv": sample("bxb_invoices_generated_total", status="finalized"),
        "pay": sample("bxb_payments_attempted_total", result="failed"),
        "hook": sample("bxb_webhook_deliveries_total", result="succeeded"),
    }
    metrics.events_ingested.inc(5)
    metrics.events_duplicate.inc()
    metrics.invoice_generated("finalized", 2)
    metrics.payment_attempted("failed")
    metrics.webhook_delivered("succeeded")
    assert sample("bxb_events_ingested_total") == before["events"] + 5
    assert sample("bxb_events_duplicate_total") == before["dup"] + 1
    assert sample("bxb_invoices_generated_total", status="finalized") == before["inv"] + 2
    assert sample("bxb_payments_attempted_total", result="failed") == before["pay"] + 1
    assert sample("bxb_webhook_deliveries_total", result="succeeded") == before["hook"] + 1


@override_settings(METRICS_PUBLIC=True)
def test_metrics_endpoint_serves_prometheus_text(client):
    client.get("/health")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    body = response.content.decode()
    for name in (
        "bxb_http_request_duration_seconds_bucket",
        "bxb_http_requests_total",
        "bxb_events_ingested_total",
    ):
        assert name in body
    assert 'route="health"' in body
    assert client.post("/metrics").status_code == 405


@override_settings(METRICS_TOKEN="s3cret-token")
def test_metrics_token_protects_the_endpoint(client):
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Basic s3cret-token").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token").status_code == 200


def test_metrics_are_closed_without_a_token_in_production_settings(client):
    """Production settings (DEBUG off) close /metrics until METRICS_TOKEN is set; DEBUG opens it."""
    answered = _python(
        "import django; django.setup(); from django.conf import settings as s;"
        "from django.test import RequestFactory; from billing_project.core.metrics import metrics_view;"
        "r = metrics_view(RequestFactory().get('/metrics')); print(s.METRICS_PUBLIC, r.status_code, r.content.decode())",
        ALLOWED_HOSTS="testserver",
    )
    assert answered.returncode == 0, answered.stderr
    public, status, body = answered.stdout.strip().split(" ", 2)
    assert (public, status) == ("False", "403")
    assert json.loads(body) == {"status": 403, "error": "Forbidden", "code": "metrics_token_not_configured"}
    debug = _python(
        "import django; django.setup(); from django.conf import settings as s; print(s.METRICS_PUBLIC)", DEBUG="1"
    )
    assert debug.stdout.strip() == "True", debug.stderr
    with override_settings(METRICS_TOKEN="", METRICS_PUBLIC=False):
        assert client.get("/metrics").status_code == 403
        assert [m.id for m in metrics.check_metrics_token()] == ["bxb.W001"]
    with override_settings(METRICS_TOKEN="t0ken", METRICS_PUBLIC=False):
        assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer t0ken").status_code == 200
        assert metrics.check_metrics_token() == []


def test_multiprocess_mode_aggregates_every_worker(tmp_path):
    """With PROMETHEUS_MULTIPROC_DIR, /metrics sums the counters written by several processes."""
    code = "import django; django.setup();from billing_project.core import metrics; metrics.events_ingested.inc(7)"
    for _ in range(2):
        done = _python(code, PROMETHEUS_MULTIPROC_DIR=str(tmp_path))
        assert done.returncode == 0, done.stderr
    read = _python(
        "import django; django.setup();"
        "from django.test import RequestFactory; from billing_project.core.metrics import metrics_view;"
        "print(metrics_view(RequestFactory().get('/metrics')).content.decode())",
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path),
        ALLOWED_HOSTS="testserver",
        METRICS_PUBLIC="1",
    )
    assert read.returncode == 0, read.stderr
    assert "bxb_events_ingested_total 14.0" in read.stdout
