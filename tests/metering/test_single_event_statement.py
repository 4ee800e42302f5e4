"""POST /api/v1/events writes through its own one-row statement on PostgreSQL (metering/store/postgres.py):
events, values, dimensions and rollups must be exactly what the batch statement writes."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test import override_settings

from billing_project.core import localcache
from metering.models import Event, UniqueCountLink, UniqueCountRollup, UsageRollup
from tests.factories.catalog import BillableMetricFactory, BillableMetricFilterFactory

pytestmark = pytest.mark.django_db

EVENTS = [
    {"transaction_id": "a", "external_subscription_id": "s1", "code": "calls", "timestamp": 1700000000,
     "properties": {"value": 3, "region": "eu"}},
    {"transaction_id": "b", "external_subscription_id": "s1", "code": "calls", "timestamp": 1700000100.5,
     "properties": {"value": "2.5", "region": "eu"}, "precise_total_amount_cents": "10.125"},
    {"transaction_id": "c", "external_subscription_id": "s1", "code": "calls", "timestamp": 1700000200,
     "properties": {"value": 7}, "external_customer_id": "cust"},
    {"transaction_id": "d", "external_subscription_id": "s2", "code": "calls", "timestamp": 1700003700,
     "properties": {"value": -1, "region": "us", "n": 1.25}},
    {"transaction_id": "e", "external_subscription_id": "s1", "code": "unknown", "timestamp": 1700000300,
     "properties": {"value": 1}},
    {"transaction_id": "f", "external_subscription_id": "s1", "code": "calls", "timestamp": 1700000400,
     "properties": {"region": "eu"}},
    # a unique count: links (late removal of u1, a tie on u2, a number as the value, one without it)
    {"transaction_id": "g", "external_subscription_id": "s1", "code": "users", "timestamp": 1700007200,
     "properties": {"user": "u1"}},
    {"transaction_id": "h", "external_subscription_id": "s1", "code": "users", "timestamp": 1700000000,
     "properties": {"user": "u2"}},
    {"transaction_id": "i", "external_subscription_id": "s1", "code": "users", "timestamp": 1700003600,
     "properties": {"user": "u1", "operation_type": "remove"}},
    {"transaction_id": "j", "external_subscription_id": "s1", "code": "users", "timestamp": 1700000000,
     "properties": {"user": "u2", "operation_type": "remove"}},
    {"transaction_id": "k", "external_subscription_id": "s1", "code": "users", "timestamp": 1700000001,
     "properties": {"user": 12.50}},
    {"transaction_id": "l", "external_subscription_id": "s1", "code": "users", "timestamp": 1700000002,
     "properties": {"other": 1}},
]  # fmt: skip


@pytest.fixture(autouse=True)
def empty_caches():
    localcache.clear_all()
    yield
    localcache.clear_all()


def _setup(organization) -> None:
    metric = BillableMetricFactory(
        organization=organization, code="calls", aggregation_type="sum_agg", field_name="value"
    )
    BillableMetricFilterFactory(billable_metric=metric, key="region", values=["eu", "us"])
    BillableMetricFactory(
        organization=organization, code="users", aggregation_type="unique_count_agg", field_name="user"
    )


def _events(organization) -> list[tuple]:
    return sorted(
        Event.objects.filter(organization=organization).values_list(
            "transaction_id", "external_subscription_id", "external_customer_id", "code", "timestamp",
            "properties", "precise_total_amount_cents", "value", "subscription_id", "customer_id",
        )
    )  # fmt: skip


def _rollups(organization) -> list[tuple]:
    return sorted(
        UsageRollup.objects.filter(organization=organization).values_list(
            "external_subscription_id", "code", "hour", "dimensions_key", "dimensions", "events_count", "value_sum",
            "value_max", "precise_sum", "value_time_sum",
        )
    )  # fmt: skip


def _unique_state(organization) -> tuple[list[tuple], list[tuple]]:
    links = UniqueCountLink.objects.filter(organization=organization).values_list(
        "external_subscription_id", "code", "value", "timestamp", "transaction_id", "adds", "next_at", "prev_at",
        "prev_adds", "linked",
    )  # fmt: skip
    counts = UniqueCountRollup.objects.filter(organization=organization, adds__gt=0).values_list(
        "external_subscription_id", "code", "hour", "next_hour", "adds"
    )
    return sorted(links), sorted(counts)


@pytest.mark.parametrize("durable", [True, False])
def test_single_events_write_what_a_batch_writes(tenant, other_tenant, durable):
    _setup(tenant.organization)
    _setup(other_tenant.organization)
    with override_settings(EVENTS_SYNCHRONOUS_COMMIT=durable):
        for event in EVENTS:
            response = tenant.client.post("/api/v1/events", {"event": event}, format="json")
            assert response.status_code == 200, response.json()
        duplicate = tenant.client.post("/api/v1/events", {"event": EVENTS[0]}, format="json")
        assert duplicate.status_code == 422
        assert duplicate.json()["error_details"] == {"transaction_id": ["value_already_exist"]}
        batch = other_tenant.client.post("/api/v1/events/batch", {"events": EVENTS}, format="json")
        assert batch.status_code == 200
    single_rows, batch_rows = _events(tenant.organization), _events(other_tenant.organization)
    assert len(single_rows) == len(EVENTS)
    # subscription/customer ids come from the test lookup (per organization): compare their presence
    assert [(*row[:8], row[8] is None, row[9] is None) for row in single_rows] == [
        (*row[:8], row[8] is None, row[9] is None) for row in batch_rows
    ]
    assert _rollups(tenant.organization) == _rollups(other_tenant.organization)
    assert _unique_state(tenant.organization) == _unique_state(other_tenant.organization)
    links, counts = _unique_state(tenant.organization)
    assert [(link[2], link[4], link[5], link[9]) for link in links] == [
        ("12.5", "k", True, True), ("u1", "i", False, True), ("u1", "g", True, True),
        ("u2", "h", True, True), ("u2", "j", False, True),
    ]  # fmt: skip
    assert sum(c[4] for c in counts) == 3  # add events: h (next: j), k, g
    rollups = [r for r in _rollups(tenant.organization) if r[1] == "calls"]
    assert sum(r[5] for r in rollups) == 5  # "unknown" has no metric: stored, not rolled up
    eu = [r for r in rollups if r[0] == "s1" and r[3] == '{"region":"eu"}']
    # value_time_sum: 3 × 1700000000 + 2.5 × 1700000100.5 (+ nothing for f, without a value)
    assert len(eu) == 1 and eu[0][5:] == (3, Decimal("5.5"), Decimal("3"), Decimal("10.125"), Decimal("9350000251.25"))


def test_single_event_uses_one_statement_on_postgresql(tenant, settings):
    # Counts the PostgreSQL-only path; with ClickHouse configured ingestion and usage also
    # keep the ClickHouse copy in step (tested in tests/metering/test_clickhouse*.py).
    settings.CLICKHOUSE_URL = ""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only")
    from django.test.utils import CaptureQueriesContext

    _setup(tenant.organization)
    tenant.client.post("/api/v1/events", {"event": EVENTS[0]}, format="json")
    with CaptureQueriesContext(connection) as queries:
        assert tenant.client.post("/api/v1/events", {"event": EVENTS[1]}, format="json").status_code == 200
    statements = [q["sql"] for q in queries.captured_queries]
    assert len(statements) == 1 and "jsonb_to_recordset" not in statements[0]


def test_event_batch_uses_one_statement_on_postgresql(tenant, settings):
    """The batch statement also answers whether the organization has pay-in-advance charges
    (`_batch_sql`): no query of invoicing's own after it."""
    settings.CLICKHOUSE_URL = ""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only")
    from django.test.utils import CaptureQueriesContext

    _setup(tenant.organization)
    tenant.client.post("/api/v1/events/batch", {"events": EVENTS[:2]}, format="json")
    with CaptureQueriesContext(connection) as queries:
        assert tenant.client.post("/api/v1/events/batch", {"events": EVENTS[2:4]}, format="json").status_code == 200
    statements = [q["sql"] for q in queries.captured_queries]
    assert len(statements) == 1 and "jsonb_to_recordset" in statements[0], "\n".join(s[:150] for s in statements)


def test_the_ingestion_cursor_is_kept_per_connection_and_replaced_with_it(tenant, settings):
    """`metering.store.postgres._statement_cursor`: one psycopg cursor for every ingestion statement
    of a connection (not closed by its users), a new one once the old is closed or the connection
    replaced; statements through it are still seen by Django's query log."""
    settings.CLICKHOUSE_URL = ""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only")
    from django.test.utils import CaptureQueriesContext

    from metering.store import postgres

    _setup(tenant.organization)
    first = postgres._statement_cursor().cursor
    assert postgres._statement_cursor().cursor is first and not first.closed
    with CaptureQueriesContext(connection) as queries:
        for event in EVENTS[:3]:
            assert tenant.client.post("/api/v1/events", {"event": event}, format="json").status_code == 200
    assert sum("INSERT INTO metering_event" in q["sql"] for q in queries.captured_queries) == 3
    assert postgres._statement_cursor().cursor is first and not first.closed
    first.close()  # closed (as when its connection is): the next statement gets a new cursor
    assert tenant.client.post("/api/v1/events", {"event": EVENTS[3]}, format="json").status_code == 200
    second = postgres._statement_cursor().cursor
    assert second is not first and not second.closed and second.connection is connection.connection
    assert Event.objects.filter(organization=tenant.organization).count() == 4


@pytest.mark.django_db(transaction=True)
def test_a_replaced_connection_gets_a_new_ingestion_cursor(tenant, settings):
    settings.CLICKHOUSE_URL = ""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only")
    from metering.store import postgres

    _setup(tenant.organization)
    assert tenant.client.post("/api/v1/events", {"event": EVENTS[0]}, format="json").status_code == 200
    old = postgres._statement_cursor().cursor
    connection.close()
    assert tenant.client.post("/api/v1/events", {"event": EVENTS[1]}, format="json").status_code == 200
    new = postgres._statement_cursor().cursor
    assert new is not old and new.connection is connection.connection and old.connection.closed
    assert Event.objects.filter(organization=tenant.organization).count() == 2
