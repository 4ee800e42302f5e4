"""Cached metric/subscription lookups of the single-event path (metering/lookups.py) and the
usage-monitoring receiver's per-organization check: what is cached, what is seen at once."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from billing_project.core import localcache
from metering import lookups
from metering.models import Event, EventError
from tests.factories.catalog import BillableMetricFactory
from tests.factories.metering import FakeSubscriptions
from tests.factories.subscriptions import SubscriptionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def empty_caches():
    localcache.clear_all()
    yield
    localcache.clear_all()


@pytest.fixture(autouse=True)
def real_subscriptions():
    """These tests use real subscriptions: put back the subscriptions app's lookup that the
    metering conftest replaced with a fake."""
    FakeSubscriptions.uninstall()


def send(tenant, transaction_id: str, *, code: str = "calls", sub: str = "sub_1", value: object = 2):
    body = {
        "event": {
            "transaction_id": transaction_id,
            "external_subscription_id": sub,
            "code": code,
            "properties": {"value": value},
        }
    }
    return tenant.client.post("/api/v1/events", body, format="json")


def queries_on(table: str, queries) -> int:
    return len([q for q in queries.captured_queries if f'"{table}"' in q["sql"]])


def test_found_metric_and_subscription_are_read_once(tenant):
    BillableMetricFactory(organization=tenant.organization, code="calls")
    SubscriptionFactory(organization=tenant.organization, external_id="sub_1")
    assert send(tenant, "a").status_code == 200
    with CaptureQueriesContext(connection) as queries:
        assert send(tenant, "b").status_code == 200
    assert queries_on("catalog_billablemetric", queries) == 0
    assert queries_on("subscriptions_subscription", queries) == 0
    assert Event.objects.get(transaction_id="b").value == 2


def test_unknown_code_and_subscription_are_never_cached(tenant):
    assert send(tenant, "a", code="later", sub="sub_later").status_code == 200
    assert "invalid_code" in set(EventError.objects.values_list("error_code", flat=True))
    assert Event.objects.get(transaction_id="a").subscription_id is None
    # Created a moment later (as if in another worker: no receiver involved for the cache) ...
    BillableMetricFactory(organization=tenant.organization, code="later")
    SubscriptionFactory(organization=tenant.organization, external_id="sub_later")
    assert send(tenant, "b", code="later", sub="sub_later").status_code == 200
    stored = Event.objects.get(transaction_id="b")
    assert stored.value == 2 and stored.subscription_id is not None
    assert not EventError.objects.filter(transaction_id="b").exists()


def test_metric_change_in_this_process_is_seen_at_once(tenant):
    metric = BillableMetricFactory(organization=tenant.organization, code="calls", field_name="value")
    SubscriptionFactory(organization=tenant.organization, external_id="sub_1")
    assert send(tenant, "a").status_code == 200
    metric.field_name = "other"
    metric.save()
    assert send(tenant, "b").status_code == 200
    assert Event.objects.get(transaction_id="b").value is None  # 'other' is missing: reported
    assert EventError.objects.filter(transaction_id="b", error_code="missing_aggregation_property").exists()


def test_metric_change_elsewhere_is_bounded_by_the_ttl(tenant):
    metric = BillableMetricFactory(organization=tenant.organization, code="calls", field_name="value")
    with override_settings(EVENTS_LOOKUP_CACHE_SECONDS=60):
        assert lookups.metrics_by_code_cached(tenant.organization, {"calls"})["calls"].field_name == "value"
        type(metric).objects.filter(pk=metric.pk).update(field_name="other")  # no signal: another process
        assert lookups.metrics_by_code_cached(tenant.organization, {"calls"})["calls"].field_name == "value"
        for key, (expires, value) in list(lookups._metrics._data.items()):
            lookups._metrics._data[key] = (expires - 61, value)
        assert lookups.metrics_by_code_cached(tenant.organization, {"calls"})["calls"].field_name == "other"


def test_cache_off_reads_every_time(tenant):
    BillableMetricFactory(organization=tenant.organization, code="calls")
    with override_settings(EVENTS_LOOKUP_CACHE_SECONDS=0, EVENTS_SUBSCRIPTION_CACHE_SECONDS=0):
        send(tenant, "a")
        with CaptureQueriesContext(connection) as queries:
            send(tenant, "b")
    assert queries_on("catalog_billablemetric", queries) == 1


def test_subscription_replaced_in_this_process_is_seen_at_once(tenant):
    BillableMetricFactory(organization=tenant.organization, code="calls")
    old = SubscriptionFactory(organization=tenant.organization, external_id="sub_1")
    assert send(tenant, "a").status_code == 200
    old.status = "terminated"
    old.terminated_at = datetime(2024, 6, 1, tzinfo=UTC)
    old.save()
    new = SubscriptionFactory(
        organization=tenant.organization, external_id="sub_1", started_at=datetime(2024, 6, 1, tzinfo=UTC)
    )
    assert send(tenant, "b").status_code == 200
    assert Event.objects.get(transaction_id="a").subscription_id == old.pk
    assert Event.objects.get(transaction_id="b").subscription_id == new.pk


def test_usage_monitoring_costs_nothing_for_an_organization_that_watches_nothing(tenant):
    BillableMetricFactory(organization=tenant.organization, code="calls")
    SubscriptionFactory(organization=tenant.organization, external_id="sub_1")
    send(tenant, "a")
    with CaptureQueriesContext(connection) as queries:
        send(tenant, "b")
    assert queries_on("usage_monitoring_alert", queries) == 0
    assert queries_on("catalog_usagethreshold", queries) == 0


def test_usage_monitoring_sees_an_alert_created_in_this_process_at_once(tenant):
    from usage_monitoring.inputs import AlertFields, AlertThresholdFields
    from usage_monitoring.models import UsageActivity
    from usage_monitoring.services.alerts import alert_create

    metric = BillableMetricFactory(organization=tenant.organization, code="calls")
    subscription = SubscriptionFactory(organization=tenant.organization, external_id="sub_1")
    send(tenant, "a")
    assert not UsageActivity.objects.exists()
    alert_create(
        tenant.organization,
        external_subscription_id=subscription.external_id,
        data=AlertFields(
            alert_type="billable_metric_current_usage_units",
            code="calls_alert",
            billable_metric_code=metric.code,
            thresholds=(AlertThresholdFields(value="100"),),
        ),
    )
    send(tenant, "b")
    assert UsageActivity.objects.filter(external_subscription_id="sub_1").exists()
