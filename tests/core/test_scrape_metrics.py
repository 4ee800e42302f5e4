"""Gauges read at scrape time: the billing run's lag (from the database), the queues (from Redis)
and beat's entries. They tell the truth whatever process answers the scrape."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.test import override_settings
from django.utils import timezone

from billing_project.core import queues
from invoicing.models import BillingRun, BillingRunStatus

pytestmark = pytest.mark.django_db


def _value(body: str, name: str, labels: str = "") -> float | None:
    prefix = f"{name}{{{labels}}} " if labels else f"{name} "
    for line in body.splitlines():
        if line.startswith(prefix):
            return float(line.split()[-1])
    return None


def _scrape(client) -> str:
    with override_settings(METRICS_PUBLIC=True, METRICS_TOKEN=""):
        response = client.get("/metrics")
    assert response.status_code == 200
    return response.content.decode()


def test_the_billing_lag_is_the_age_of_the_oldest_due_uninvoiced_billing(client, settings):
    settings.REDIS_URL = ""
    assert _value(_scrape(client), "bxb_billing_run_lag_seconds") is None  # no run yet: no sample
    now = timezone.now()
    run = BillingRun.objects.create(
        at=now - timedelta(minutes=55),
        status=BillingRunStatus.FAILED,
        customers_due=3,
        oldest_due_at=now - timedelta(days=5.9),  # a customer whose billing keeps failing
    )
    body = _scrape(client)
    assert _value(body, "bxb_billing_run_lag_seconds") == pytest.approx(5.9 * 86400, abs=5)
    assert _value(body, "bxb_billing_run_sweep_age_seconds") == pytest.approx(55 * 60, abs=5)
    # A run for one organization does not speak for the others.
    from tests.factories.customers import OrganizationFactory

    BillingRun.objects.create(organization=OrganizationFactory(), at=now, status=BillingRunStatus.SUCCEEDED)
    assert _value(_scrape(client), "bxb_billing_run_lag_seconds") == pytest.approx(5.9 * 86400, abs=5)
    BillingRun.objects.filter(id=run.id).update(oldest_due_at=None, status=BillingRunStatus.SUCCEEDED)
    assert _value(_scrape(client), "bxb_billing_run_lag_seconds") == 0


def test_beat_entries_report_when_they_last_ran(client, settings):
    from django_celery_beat.models import CrontabSchedule, PeriodicTask

    settings.REDIS_URL = ""
    schedule = CrontabSchedule.objects.create(minute="5")
    PeriodicTask.objects.create(
        name="invoicing-billing-sweep", task="invoicing.billing_sweep", crontab=schedule,
        last_run_at=timezone.now() - timedelta(hours=3),
    )  # fmt: skip
    value = _value(_scrape(client), "bxb_beat_entry_last_run_age_seconds", 'entry="invoicing-billing-sweep"')
    assert value == pytest.approx(3 * 3600, abs=5)


@pytest.fixture
def broker(settings):
    """The test run's own Redis database (REDIS_URL), its queue keys emptied before and after."""
    if not django_settings.REDIS_URL:
        pytest.skip("no REDIS_URL")
    import redis

    client = redis.Redis.from_url(django_settings.REDIS_URL)
    keys = ["celery", f"celery{queues.PRIORITY_SEPARATOR}3", queues.UNACKED_INDEX]
    client.delete(*keys)
    yield client
    client.delete(*keys)


def _message(published_at: float | None) -> str:
    headers = {"task": "invoicing.generate_pdf"}
    if published_at is not None:
        headers[queues.PUBLISHED_AT_HEADER] = published_at
    return json.dumps({"body": "", "headers": headers, "properties": {}})


def test_queue_depth_and_the_age_of_the_oldest_waiting_task(client, broker):
    now = time.time()
    broker.lpush("celery", _message(now - 120))  # the oldest: popped first, at the right end
    broker.lpush("celery", _message(now - 5))
    broker.lpush(f"celery{queues.PRIORITY_SEPARATOR}3", _message(now - 30))
    broker.zadd(queues.UNACKED_INDEX, {"tag-1": now - 400, "tag-2": now - 10})
    body = _scrape(client)
    assert _value(body, "bxb_celery_broker_up") == 1
    assert _value(body, "bxb_celery_queue_depth", 'queue="celery"') == 3
    assert _value(body, "bxb_celery_queue_oldest_age_seconds", 'queue="celery"') == pytest.approx(120, abs=5)
    assert _value(body, "bxb_celery_reserved_tasks") == 2
    assert _value(body, "bxb_celery_reserved_oldest_age_seconds") == pytest.approx(400, abs=5)
    broker.delete("celery", f"celery{queues.PRIORITY_SEPARATOR}3", queues.UNACKED_INDEX)
    body = _scrape(client)
    assert _value(body, "bxb_celery_queue_depth", 'queue="celery"') == 0
    assert _value(body, "bxb_celery_queue_oldest_age_seconds", 'queue="celery"') == 0


def test_an_unreachable_broker_is_reported_not_raised_and_the_scrape_stays_fast(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    started = time.monotonic()
    body = _scrape(client)
    assert time.monotonic() - started < 3
    assert _value(body, "bxb_celery_broker_up") == 0
    assert "bxb_http_requests_total" in body  # the process metrics are still served


def test_published_tasks_carry_their_publish_time():
    from billing_project.core import observability

    headers: dict = {}
    observability._on_publish(headers=headers)
    assert abs(headers[queues.PUBLISHED_AT_HEADER] - time.time()) < 5
