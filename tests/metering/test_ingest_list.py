"""GET /api/v1/events: pages without a full COUNT(*) of the events table."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from metering import ratelimit
from tests.factories.metering import event_payload, make_metric

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _events(tenant, api):
    ratelimit.reset_local()
    make_metric(tenant.organization, "calls")
    events = [event_payload(f"t{i:02d}", sub="s1" if i % 2 else "s2", timestamp=1_700_000_000 + i) for i in range(7)]
    assert api.post("/api/v1/events/batch", {"events": events}, format="json").status_code == 200


def listing(api, query=""):
    response = api.get(f"/api/v1/events{query}")
    assert response.status_code == 200, response.content
    return response.json()


def test_last_page_is_counted_without_a_count_query(api):
    with CaptureQueriesContext(connection) as queries:
        body = listing(api, "?per_page=5&page=2")
    assert [e["transaction_id"] for e in body["events"]] == ["t01", "t00"]
    assert body["meta"] == {
        "current_page": 2,
        "next_page": None,
        "prev_page": 1,
        "total_pages": 2,
        "total_count": 7,
        "total_count_exact": True,
    }
    assert not [q for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]


def test_a_page_with_more_after_it_counts_up_to_the_limit(api):
    with CaptureQueriesContext(connection) as queries:
        body = listing(api, "?per_page=3")
    assert [e["transaction_id"] for e in body["events"]] == ["t06", "t05", "t04"]
    assert body["meta"] == {
        "current_page": 1,
        "next_page": 2,
        "prev_page": None,
        "total_pages": 3,
        "total_count": 7,
        "total_count_exact": True,
    }
    counts = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
    assert len(counts) == 1 and "LIMIT 10001" in counts[0]


@override_settings(EVENTS_LIST_COUNT_LIMIT=4)
def test_beyond_the_limit_the_total_is_a_lower_bound_and_next_page_stays_exact(api):
    first = listing(api, "?per_page=2")["meta"]
    assert first == {
        "current_page": 1,
        "next_page": 2,
        "prev_page": None,
        "total_pages": 3,
        "total_count": 5,
        "total_count_exact": False,
    }
    # Deeper than the limit: what the page proves to exist.
    third = listing(api, "?per_page=2&page=3")
    assert [e["transaction_id"] for e in third["events"]] == ["t02", "t01"]
    assert third["meta"]["next_page"] == 4
    assert third["meta"]["total_count"] == 7 and third["meta"]["total_pages"] == 4
    assert third["meta"]["total_count_exact"] is False
    last = listing(api, "?per_page=2&page=4")
    assert [e["transaction_id"] for e in last["events"]] == ["t00"]
    assert last["meta"]["next_page"] is None
    assert (last["meta"]["total_count"], last["meta"]["total_count_exact"]) == (7, True)


def test_filters_and_pages_past_the_end(api):
    body = listing(api, "?external_subscription_id=s1&per_page=2")
    assert [e["transaction_id"] for e in body["events"]] == ["t05", "t03"]
    assert body["meta"]["total_count"] == 3 and body["meta"]["next_page"] == 2
    past = listing(api, "?external_subscription_id=s1&per_page=2&page=9")
    assert past["events"] == []
    assert past["meta"]["total_count"] == 3 and past["meta"]["total_pages"] == 2
    assert past["meta"]["next_page"] is None and past["meta"]["prev_page"] == 8
    empty = listing(api, "?code=nothing")
    assert empty["meta"] == {
        "current_page": 0,
        "next_page": None,
        "prev_page": None,
        "total_pages": 0,
        "total_count": 0,
        "total_count_exact": True,
    }


def test_another_tenant_sees_none(other_tenant):
    body = other_tenant.client.get("/api/v1/events").json()
    assert body["events"] == [] and body["meta"]["total_count"] == 0
