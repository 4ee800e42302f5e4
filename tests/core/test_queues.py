"""A queue per kind of work (billing_project/routing.py): every task of ours has one, each kind
waits in its own Redis list, and /metrics reports each queue's depth."""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings
from django.test import override_settings

from billing_project import routing
from billing_project.celery import app
from billing_project.core import queues


def _our_tasks() -> list[str]:
    app.loader.import_default_modules()
    # Celery's own and those the test suite registers for itself are not ours to route.
    return sorted(name for name in app.tasks if not name.startswith(("celery.", "tests.")))


def test_every_task_of_ours_has_a_queue_of_its_kind():
    tasks = _our_tasks()
    assert len(tasks) > 40
    unrouted = [name for name in tasks if routing.queue_for(name) == routing.DEFAULT_QUEUE]
    assert unrouted == [], f"give these a queue in billing_project/routing.py: {unrouted}"
    used = {routing.queue_for(name) for name in tasks}
    assert used == set(routing.QUEUES) - {routing.DEFAULT_QUEUE}  # no declared queue left idle


@pytest.mark.parametrize(
    ("task", "queue"),
    [
        ("invoicing.bill_customers", "billing"),
        ("invoicing.generate_pdf", "pdfs"),
        ("payments.generate_payment_receipt_pdf", "pdfs"),
        ("invoicing.pay_in_advance_fees", "events"),
        ("metering.tasks.clickhouse_flush_task", "events"),
        ("webhooks.tasks.webhook_deliver", "webhooks"),
        ("payments.submit_payment", "payments"),
        ("payments.send_document_email", "emails"),
        ("usage_monitoring.evaluate_subscription", "alerts"),
        ("reporting.export_run", "reporting"),
        ("subscriptions.activate", "billing"),
        ("something.else", routing.DEFAULT_QUEUE),
    ],
)
def test_routing_by_name(task, queue):
    assert routing.queue_for(task) == queue
    assert app.amqp.router.route({}, task, (), {})["queue"].name == queue


def test_a_worker_without_q_consumes_every_queue():
    declared = {queue.name for queue in app.conf.task_queues}
    assert declared == set(routing.QUEUES)
    assert queues._queue_names() == sorted(routing.QUEUES)  # the scrape reads them all


@pytest.fixture
def broker():
    if not django_settings.REDIS_URL:
        pytest.skip("no REDIS_URL")
    import redis

    client = redis.Redis.from_url(django_settings.REDIS_URL)
    client.delete(*routing.QUEUES)
    yield client
    client.delete(*routing.QUEUES)


@pytest.mark.django_db
@pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored")
def test_each_kind_waits_in_its_own_list_and_metrics_show_it(client, broker):
    """A day of PDFs waiting does not stand in front of billing: they are different Redis lists,
    consumed by whichever workers listen to each. (The suite's broker is in memory; this test
    publishes to the run's Redis, as a deployment does.)"""
    with app.connection_for_write(django_settings.REDIS_URL) as connection:
        for _ in range(3):
            app.send_task("invoicing.generate_pdf", args=["0"], connection=connection)
        app.send_task("invoicing.bill_customers", args=[[], None], connection=connection)
        app.send_task("webhooks.tasks.webhook_deliver", args=["0"], connection=connection)
    assert (broker.llen("pdfs"), broker.llen("billing"), broker.llen("webhooks"), broker.llen("celery")) == (
        3,
        1,
        1,
        0,
    )
    with override_settings(METRICS_PUBLIC=True, METRICS_TOKEN=""):
        body = client.get("/metrics").content.decode()
    assert 'bxb_celery_queue_depth{queue="pdfs"} 3.0' in body
    assert 'bxb_celery_queue_depth{queue="billing"} 1.0' in body
    assert 'bxb_celery_queue_depth{queue="payments"} 0.0' in body
