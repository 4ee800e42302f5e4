"""Two concurrent requests carrying the same events store each event once (real PostgreSQL)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections

from metering import services
from metering.models import Event, UsageRollup
from tests.factories.customers import OrganizationFactory
from tests.factories.metering import event_payload, make_metric

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row-level concurrency needs PostgreSQL"),
]


def test_concurrent_batches_never_double_count():
    organization = OrganizationFactory()
    make_metric(organization, "calls", "sum_agg", field_name="n")
    # Overlapping batches in opposite orders: shared keys must neither deadlock nor double count.
    first = [event_payload(f"t{i}", properties={"n": 1}, timestamp=1700000000) for i in range(0, 300)]
    second = [event_payload(f"t{i}", properties={"n": 1}, timestamp=1700000000) for i in range(150, 450)][::-1]
    barrier = threading.Barrier(2)
    results: dict[str, services.IngestResult] = {}
    errors: list[BaseException] = []

    def run(name, batch):
        try:
            barrier.wait()
            results[name] = services.events_ingest(organization, batch)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=("a", first)), threading.Thread(target=run, args=("b", second))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
    assert Event.objects.filter(organization=organization).count() == 450
    stored = len(results["a"].events) + len(results["b"].events)
    duplicates = len(results["a"].duplicates) + len(results["b"].duplicates)
    assert stored == 450
    assert duplicates == 150
    rollup = UsageRollup.objects.get(organization=organization)
    assert rollup.events_count == 450
    assert rollup.value_sum == 450


def test_concurrent_single_events_one_wins():
    organization = OrganizationFactory()
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def run():
        try:
            barrier.wait()
            services.events_ingest(organization, [event_payload("same")], single=True)
            outcomes.append("stored")
        except services.ValidationFailure as exc:
            outcomes.append(str(exc.details))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert outcomes.count("stored") == 1
    assert Event.objects.filter(organization=organization).count() == 1
