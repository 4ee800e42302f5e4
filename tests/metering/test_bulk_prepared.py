"""metering.bulk compiles its small query shapes once (PreparedQuery) and answers as the ORM does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from metering import bulk
from metering.bulk import UsageRequest, aggregate_many
from tests.factories.invoicing import add_events, make_customer, make_metric, make_plan, subscribe

pytestmark = pytest.mark.django_db


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def _figures(results):
    return [(r.units, r.events_count, r.precise_total_amount_cents) for r in results]


def test_small_shapes_are_prepared_and_answer_as_the_orm(organization, settings, monkeypatch):
    settings.CLICKHOUSE_URL = ""
    calls = make_metric(organization, "calls")
    gb = make_metric(organization, "gb", "sum_agg", field_name="gb")
    peak = make_metric(organization, "peak", "max_agg", field_name="gb")
    plan = make_plan(organization)
    subs = [subscribe(make_customer(organization), plan, at(2024, 4, 1)) for _ in range(3)]
    for n, sub in enumerate(subs):
        stamps = [at(2024, 4, 3, 10, 10 + n), at(2024, 4, 3, 10, 40), at(2024, 4, 9, 3), at(2024, 4, 20, 17, 50)]
        for metric in (calls, gb, peak):
            add_events(sub, metric.code, stamps, gb=f"{n + 1}.25")
    windows = [
        (at(2024, 4, 1), at(2024, 5, 1)),  # whole hours: rollups only
        (at(2024, 4, 3, 10, 30), at(2024, 4, 20, 17, 55)),  # rollups and both raw edges
        (at(2024, 4, 3, 10, 5), at(2024, 4, 3, 10, 35)),  # inside one hour: one raw edge
    ]
    requests = [
        UsageRequest(sub.external_id, metric, start, end)
        for sub in subs
        for metric in (calls, gb, peak)
        for start, end in windows
    ]
    bulk._PREPARED.clear()
    prepared = aggregate_many(organization, requests)
    assert bulk._PREPARED, "the shapes went through PreparedQuery"
    for query in bulk._PREPARED.values():  # compiled, not fallen back to the ORM (False)
        assert query._compiled[connection.vendor] not in (None, False)
    with CaptureQueriesContext(connection) as again:
        assert _figures(aggregate_many(organization, requests)) == _figures(prepared)

    monkeypatch.setattr(bulk, "PREPARED_SHAPE", 0)  # every shape through the ORM, as before
    with CaptureQueriesContext(connection) as orm:
        assert _figures(aggregate_many(organization, requests)) == _figures(prepared)
    assert len(again) == len(orm)
    assert [q["sql"] for q in again] == [q["sql"] for q in orm]  # the same statements, values substituted
    # first subscription: calls over the three windows, then gb (1.25 per event), then peak
    assert [r.events_count for r in prepared[:3]] == [4, 3, 1]
    assert [r.units for r in prepared[3:6]] == [Decimal("5.00"), Decimal("3.75"), Decimal("1.25")]
    assert [r.units for r in prepared[6:9]] == [Decimal("1.25")] * 3


def test_values_are_substituted_not_reused(organization, settings):
    """Two subscriptions of the same shape get their own figures (no value left from a probe or a call)."""
    settings.CLICKHOUSE_URL = ""
    metric = make_metric(organization, "calls")
    plan = make_plan(organization)
    first, second = (subscribe(make_customer(organization), plan, at(2024, 4, 1)) for _ in range(2))
    add_events(first, "calls", [at(2024, 4, 2) + timedelta(hours=h) for h in range(5)])
    add_events(second, "calls", [at(2024, 4, 2, 0, 30)])
    window = (at(2024, 4, 1, 0, 15), at(2024, 4, 30, 23, 45))
    bulk._PREPARED.clear()
    one = aggregate_many(organization, [UsageRequest(first.external_id, metric, *window)])
    two = aggregate_many(organization, [UsageRequest(second.external_id, metric, *window)])
    later = aggregate_many(organization, [UsageRequest(first.external_id, metric, at(2024, 4, 2, 2), window[1])])
    assert (one[0].events_count, two[0].events_count, later[0].events_count) == (5, 1, 3)
