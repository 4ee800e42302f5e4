"""The real path: commit → on_commit → broker → Celery worker → receiver."""

from __future__ import annotations

import time

import pytest
from django.db import connection, transaction

from billing_project.celery import app as celery_app
from tests.factories.customers import OrganizationFactory
from tests.factories.webhooks import WebhookEndpointFactory
from webhooks import services
from webhooks.models import DeliveryStatus, WebhookDelivery


@pytest.mark.django_db(transaction=True)
def test_a_committed_webhook_is_delivered_by_a_real_worker(receiver):
    if connection.vendor == "sqlite":
        pytest.skip("the worker thread cannot see SQLite's in-memory test database")
    from celery.contrib.testing.worker import start_worker

    organization = OrganizationFactory()
    WebhookEndpointFactory(organization=organization, webhook_url=receiver.url, signature_algo="jwt")
    celery_app.conf.task_always_eager = False
    celery_app.conf.worker_hijack_root_logger = False
    try:
        with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            with transaction.atomic():
                (delivery,) = services.webhook_send(
                    organization, webhook_type="customer.created", object_type="customer", payload={"id": "1"}
                )
            deadline = time.monotonic() + 20
            while not receiver.requests and time.monotonic() < deadline:
                time.sleep(0.05)
            # Let the worker record the attempt.
            while time.monotonic() < deadline:
                if WebhookDelivery.objects.get(pk=delivery.pk).status != DeliveryStatus.PENDING:
                    break
                time.sleep(0.05)
    finally:
        celery_app.conf.task_always_eager = True
        celery_app.conf.worker_hijack_root_logger = True
    assert len(receiver.requests) == 1
    assert receiver.requests[0].headers["X-Lago-Unique-Key"] == str(delivery.pk)
    assert WebhookDelivery.objects.get(pk=delivery.pk).status == DeliveryStatus.SUCCEEDED
