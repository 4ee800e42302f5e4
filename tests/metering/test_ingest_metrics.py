"""Ingestion feeds the Prometheus counters of new and duplicate events."""

from __future__ import annotations

import pytest

from billing_project.core import metrics

pytestmark = pytest.mark.django_db


def _count(counter) -> float:
    return counter._value.get()


def test_new_and_duplicate_events_are_counted(tenant):
    ingested, duplicate = _count(metrics.events_ingested), _count(metrics.events_duplicate)
    events = [{"transaction_id": f"m-{i}", "external_subscription_id": "sub-1", "code": "calls"} for i in range(3)]
    assert tenant.client.post("/api/v1/events/batch", {"events": events}, format="json").status_code == 200
    again = [*events[:2], {"transaction_id": "m-9", "external_subscription_id": "sub-1", "code": "calls"}]
    assert tenant.client.post("/api/v1/events/batch", {"events": again}, format="json").status_code == 200
    single = tenant.client.post("/api/v1/events", {"event": events[0]}, format="json")
    assert single.status_code == 422
    assert _count(metrics.events_ingested) == ingested + 4
    assert _count(metrics.events_duplicate) == duplicate + 3
