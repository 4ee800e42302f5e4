"""The event store interface (metering/store/): the database's store writes each event once, with
its rollup, whatever the batch size, and reads it back; it is chosen by the database engine alone."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection

from metering import ingestion, services
from metering.models import Event, UsageRollup
from metering.store import IMPLEMENTATIONS, event_store, reader_for, rollup_deltas
from metering.store.base import DatabaseEventStore
from tests.factories.metering import make_metric

pytestmark = pytest.mark.django_db

NOW = datetime(2024, 3, 1, 12, 30, tzinfo=UTC)


def _parsed(organization, transaction_id: str, value: int, *, region: str = "eu") -> ingestion.ParsedEvent:
    event, errors = ingestion.parse_event(
        0,
        {
            "transaction_id": transaction_id,
            "external_subscription_id": "sub_1",
            "code": "calls",
            "timestamp": int(NOW.timestamp()),
            "properties": {"value": value, "region": region},
        },
        NOW,
    )
    assert event is not None and not errors
    services.enrich(event, services.metrics_by_code(organization, {"calls"}).get("calls"))
    return event


def test_the_database_store_is_the_one_of_its_engine():
    store = event_store()
    assert store.name == {"postgresql": "postgres", "sqlite": "sqlite"}[connection.vendor]
    assert set(IMPLEMENTATIONS) == {"postgresql", "sqlite"}
    assert event_store() is store  # one instance per engine
    for attribute in ("write", "reader", "add_rollups", "lock_rollups", "relax_commit", "one_statement"):
        assert hasattr(store, attribute), attribute
    assert DatabaseEventStore.__annotations__["one_statement"] == "bool"


def test_an_unknown_engine_has_no_store(monkeypatch):
    monkeypatch.setattr(connection, "vendor", "oracle")
    with pytest.raises(NotImplementedError, match="oracle"):
        event_store()


@pytest.mark.parametrize("size", [1, 3])
def test_write_stores_each_event_once_with_its_rollup(organization, size):
    make_metric(organization, "calls", "sum_agg", field_name="value", filters={"region": ["eu", "us"]})
    store = event_store()
    events = [_parsed(organization, f"t{i}", i + 1) for i in range(size)]
    store.lock_rollups(organization.id, exclusive=False)
    store.write(organization.id, events, now=NOW)
    assert all(e.id is not None for e in events)
    again = [_parsed(organization, f"t{i}", 100) for i in range(size)]
    store.write(organization.id, again, now=NOW)
    assert all(e.id is None for e in again)  # duplicates: nothing stored, no id

    assert Event.objects.filter(organization=organization).count() == size
    rollup = UsageRollup.objects.get(organization=organization)
    total = Decimal(sum(range(1, size + 1)))
    assert (rollup.events_count, rollup.value_sum, rollup.dimensions) == (size, total, {"region": "eu"})

    reader = reader_for(organization, "sub_1", "calls", "postgres", reads_from=NOW)
    assert reader.name == "rollups"
    rows = reader.rows(NOW.replace(minute=0), NOW.replace(hour=13), ["region"])
    assert sorted(r.value or Decimal(0) for r in rows) == [Decimal(i + 1) for i in range(size)]
    [(key, additive)] = reader.additive(NOW.replace(hour=12, minute=0), NOW.replace(hour=14), ["region"]).items()
    assert (key, additive.count, additive.total) == (("eu",), size, total)


def test_add_rollups_increments_existing_rows(organization):
    make_metric(organization, "calls", "sum_agg", field_name="value", filters={"region": ["eu", "us"]})
    store = event_store()
    events = [_parsed(organization, "a", 2), _parsed(organization, "b", 5, region="us")]
    deltas = rollup_deltas(events)
    store.add_rollups(organization.id, deltas, NOW)
    store.add_rollups(organization.id, deltas, NOW)
    rows = {r.dimensions["region"]: (r.events_count, r.value_sum, r.value_max) for r in UsageRollup.objects.all()}
    assert rows == {"eu": (2, Decimal(4), Decimal(2)), "us": (2, Decimal(10), Decimal(5))}
