"""Delivery attempts feed the Prometheus counter by result."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from billing_project.core import metrics
from tests.factories.webhooks import WebhookEndpointFactory
from webhooks import services
from webhooks.transport import Outcome

pytestmark = pytest.mark.django_db


def _count(result: str) -> float:
    return metrics.webhook_deliveries.labels(result=result)._value.get()


def test_attempts_are_counted_by_result(organization, monkeypatch):
    WebhookEndpointFactory(organization=organization, webhook_url="http://127.0.0.1:9/hook")
    outcomes = iter(
        [
            Outcome(succeeded=False, http_status=500, duration_ms=1, error="HTTP 500", response_excerpt=""),
            Outcome(succeeded=True, http_status=200, duration_ms=1, error="", response_excerpt="ok"),
        ]
    )
    monkeypatch.setattr(services.transport, "post", lambda *args, **kwargs: next(outcomes))
    monkeypatch.setattr(services, "_enqueue", lambda *args, **kwargs: None)
    retrying, succeeded = _count("retrying"), _count("succeeded")

    [delivery] = services.webhook_send(
        organization, webhook_type="customer.created", object_type="customer", payload={"external_id": "c"}
    )
    now = timezone.now()
    services.webhook_delivery_attempt(delivery.pk, now=now)
    services.webhook_delivery_attempt(delivery.pk, now=now + timedelta(hours=1))

    assert _count("retrying") == retrying + 1
    assert _count("succeeded") == succeeded + 1
