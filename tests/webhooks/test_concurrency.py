"""Two workers running the same delivery at the same moment send it once."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from tests.factories.customers import OrganizationFactory
from tests.factories.webhooks import WebhookEndpointFactory
from webhooks import services
from webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_workers_deliver_once(receiver):
    if connection.vendor == "sqlite":
        pytest.skip("SQLite's in-memory test database is not shared between threads")
    receiver.delay = 0.5  # the first worker is still waiting for the answer when the second starts
    organization = OrganizationFactory()
    WebhookEndpointFactory(organization=organization, webhook_url=receiver.url)
    delivery = WebhookDelivery.objects.create(
        organization=organization,
        endpoint=organization.webhook_endpoints.get(),
        webhook_url=receiver.url,
        webhook_type="customer.created",
        object_type="customer",
        body="{}",
        next_attempt_at=organization.created_at,
    )
    barrier = threading.Barrier(4)
    results: list[object] = []

    def worker() -> None:
        try:
            barrier.wait()
            results.append(services.webhook_delivery_attempt(delivery.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(receiver.requests) == 1
    assert sum(result is not None for result in results) == 1
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert WebhookAttempt.objects.filter(delivery=delivery).count() == 1
