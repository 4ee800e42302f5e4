"""No duplicate alert and no threshold billed twice under concurrency (PostgreSQL, threads)."""

from __future__ import annotations

import threading
import uuid

import pytest
from django.db import connection, connections
from django.utils import timezone

from catalog.models import UsageThreshold
from invoicing.models import Invoice, InvoiceType
from metering.services import events_ingest
from tests.factories.usage_monitoring import (
    alert_webhooks,
    at,
    make_alert,
    metered_subscription,
    send_events,
    webhook_endpoint,
)
from usage_monitoring.models import AlertCrossing, AppliedUsageThreshold, TriggeredAlert
from usage_monitoring.services.evaluation import subscription_evaluate

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL"),
]


def _race(functions):
    barrier = threading.Barrier(len(functions))
    results: list[object] = [None] * len(functions)

    def run(index, fn):
        try:
            barrier.wait()
            results[index] = fn()
        except Exception as exc:  # inspected by the test
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(functions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def test_concurrent_batches_alert_once_and_bill_a_threshold_once(organization):
    """Four ingestion batches land at once; each one's evaluation (eager task) runs concurrently."""
    webhook_endpoint(organization)
    start = at(2024, 1, 1)
    sub = metered_subscription(organization, started_at=start, amount="1", thresholds=[(1500, False)])
    make_alert(sub, "current_usage_amount", [("1000", False), ("3000", False)])
    now = timezone.now()

    def batch(n):
        payloads = [
            {
                "transaction_id": f"c{n}-{i}-{uuid.uuid4().hex[:6]}",
                "code": "units",
                "external_subscription_id": sub.external_id,
                "timestamp": str(int(now.timestamp())),
                "properties": {"value": "5"},
            }
            for i in range(2)
        ]
        return events_ingest(organization, payloads)

    results = _race([lambda n=n: batch(n) for n in range(4)])  # 4 × 2 × 5 units = 4,000 cents
    assert not [r for r in results if isinstance(r, Exception)], results
    subscription_evaluate(organization, external_subscription_id=sub.external_id, force=True)
    points = sorted(AlertCrossing.objects.values_list("point", flat=True))
    assert points == [1000, 3000]
    hooks = alert_webhooks(organization)
    crossed = sorted(t["value"] for h in hooks for t in h["crossed_thresholds"])
    assert crossed == ["1000", "3000"]  # each threshold once, whatever the interleaving
    assert AppliedUsageThreshold.objects.count() == 1
    invoices = Invoice.objects.filter(invoice_type=InvoiceType.PROGRESSIVE_BILLING)
    assert sum(i.fees_amount_cents - i.progressive_billing_credit_amount_cents for i in invoices) <= 4000
    assert invoices.count() == 1


def test_four_workers_evaluate_the_same_subscription_at_once(organization):
    webhook_endpoint(organization)
    sub = metered_subscription(organization, started_at=at(2024, 1, 1), amount="1")
    send_events(sub, "units", 20, timezone.now())
    UsageThreshold.objects.create(organization=organization, plan=sub.plan, amount_cents=1000)
    make_alert(sub, "lifetime_usage_amount", [("500", False), ("100", True)])
    results = _race(
        [
            lambda: subscription_evaluate(organization, external_subscription_id=sub.external_id, force=True)
            for _ in range(4)
        ]
    )
    assert not [r for r in results if isinstance(r, Exception)], results
    assert TriggeredAlert.objects.count() == 1
    assert len(alert_webhooks(organization)) == 1
    assert sorted(AlertCrossing.objects.values_list("point", flat=True)) == [500, 2000]
    [invoice] = Invoice.objects.filter(invoice_type=InvoiceType.PROGRESSIVE_BILLING)
    assert invoice.total_amount_cents == 2000
