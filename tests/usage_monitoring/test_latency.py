"""Alert latency while events stream in: from the batch that crosses the threshold to the
`alert.triggered` webhook row, through the real path (ingestion API → events_ingested signal →
mark → task queue → a worker thread running the evaluation task). Prints the measured figures."""

from __future__ import annotations

import datetime as dt
import queue
import threading
import time
import uuid

import pytest
from django.db import connection, connections
from django.utils import timezone

from tests.factories.invoicing import make_charge, make_customer, make_metric, make_plan, subscribe
from tests.factories.usage_monitoring import make_alert, webhook_endpoint
from usage_monitoring import tasks
from webhooks.models import WebhookDelivery

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent writers need PostgreSQL"),
]

SUBSCRIPTIONS = 20
BATCH = 100
BATCHES = 40
CROSSING_BATCH = 20  # the watched subscription gets 5 units ($5) per batch; the alert is at $100


def test_alert_latency_while_streaming(tenant, monkeypatch, capsys):
    organization = tenant.organization
    webhook_endpoint(organization)
    metric = make_metric(organization, code="tokens", aggregation_type="sum_agg", field_name="value")
    plan = make_plan(organization, amount_cents=0)
    make_charge(plan, metric, properties={"amount": "1"})
    customer = make_customer(organization, currency="USD")
    started = timezone.now() - dt.timedelta(days=1)
    subs = [subscribe(customer, plan, started, external_id=f"stream_{i}") for i in range(SUBSCRIPTIONS)]
    watched = subs[0]
    make_alert(watched, "current_usage_amount", [(str(CROSSING_BATCH * 500), False)], code="spend")

    work: queue.Queue = queue.Queue()
    monkeypatch.setattr(tasks.evaluate_subscription, "delay", lambda org_id, ext: work.put((org_id, ext)))
    evaluations = []
    stop = threading.Event()

    def worker() -> None:  # a Celery worker: drains the queue, one evaluation per queued subscription
        try:
            while not stop.is_set() or not work.empty():
                try:
                    org_id, ext = work.get(timeout=0.05)
                except queue.Empty:
                    continue
                started_at = time.perf_counter()
                if tasks.evaluate_subscription(org_id, ext):
                    evaluations.append(time.perf_counter() - started_at)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()

    client = tenant.client
    acked: list[dt.datetime] = []
    sent: list[dt.datetime] = []
    began = time.perf_counter()
    try:
        for n in range(BATCHES):
            now = int(timezone.now().timestamp())
            events = []
            for i in range(BATCH):
                sub = subs[i % SUBSCRIPTIONS]
                events.append(
                    {
                        "transaction_id": f"{n}-{i}-{uuid.uuid4().hex[:8]}",
                        "code": "tokens",
                        "external_subscription_id": sub.external_id,
                        "timestamp": now,
                        "properties": {"value": "1"},
                    }
                )
            sent.append(timezone.now())
            response = client.post("/api/v1/events/batch", {"events": events}, format="json")
            assert response.status_code == 200, response.content
            acked.append(timezone.now())
        elapsed = time.perf_counter() - began
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        connections.close_all()

    [delivery] = WebhookDelivery.objects.filter(organization=organization, webhook_type="alert.triggered")
    latency = (delivery.created_at - sent[CROSSING_BATCH - 1]).total_seconds()
    rate = BATCHES * BATCH / elapsed
    with capsys.disabled():
        print(
            f"\nalert latency: {latency * 1000:.0f} ms from sending the batch that crossed the threshold "
            f"(streaming {rate:,.0f} events/s over {SUBSCRIPTIONS} subscriptions; "
            f"{len(evaluations)} evaluations, median {sorted(evaluations)[len(evaluations) // 2] * 1000:.0f} ms)"
        )
    assert delivery.created_at >= acked[CROSSING_BATCH - 2]  # not before the usage reached the threshold
    assert latency < 60
