"""Two concurrent requests carrying the same events store each event once (real PostgreSQL)."""

from __future__ import annotations

import threading
from typing import Any

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


def test_concurrent_batches_link_unique_count_values_exactly():
    """Four writers of the same values at interleaved timestamps (and shared transaction ids):
    the per-value lock orders the trigger's linking, so the links and counts equal a rebuild from
    the stored events, and the unique count equals the raw-event count."""
    from datetime import UTC, datetime

    from metering.aggregation import aggregate
    from metering.models import UniqueCountLink, UniqueCountRollup

    organization = OrganizationFactory()
    metric = make_metric(organization, "users", "unique_count_agg", field_name="user")

    def batch(start: int) -> list[dict]:
        events = [
            event_payload(
                f"t{i}",
                code="users",
                properties={"user": f"u{i % 5}", "operation_type": "remove" if i % 3 == 0 else "add"},
                timestamp=1700000000 + i * 60,
            )
            for i in range(start, 400, 4)
        ][:: 1 if start % 2 else -1]
        # and a transaction id of another writer's batch: one of the two is stored
        return [*events, event_payload(f"t{(start + 1) % 4}", code="users", properties={"user": "u0"})]

    batches = [batch(start) for start in range(4)]
    barrier = threading.Barrier(len(batches))
    errors: list[BaseException] = []

    def run(batch):
        try:
            barrier.wait()
            services.events_ingest(organization, batch)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(batch,)) for batch in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors

    def state():
        links = UniqueCountLink.objects.filter(organization=organization).values_list(
            "value", "timestamp", "transaction_id", "adds", "next_at", "prev_at", "prev_adds", "linked"
        )
        counts = UniqueCountRollup.objects.filter(organization=organization, adds__gt=0).values_list(
            "hour", "next_hour", "adds"
        )
        return sorted(links), sorted(counts)

    incremental = state()
    assert len(incremental[0]) == 400
    services.usage_rollups_rebuild(
        organization, from_datetime=datetime(2023, 11, 1, tzinfo=UTC), to_datetime=datetime(2023, 12, 1, tzinfo=UTC)
    )
    assert state() == incremental
    window: dict[str, Any] = {
        "external_subscription_id": "sub_1",
        "metric": metric,
        "from_datetime": datetime(2023, 11, 14, 22, 30, tzinfo=UTC),
        "to_datetime": datetime(2023, 11, 15, 1, 0, tzinfo=UTC),
    }
    fast = aggregate(organization, **window)
    assert fast.source == "rollups"
    assert fast.units == aggregate(organization, use_rollups=False, **window).units
