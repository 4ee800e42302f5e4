"""Alerts and lifetime usage API: Lago's routes, bodies and errors; another tenant gets 404."""

from __future__ import annotations

import pytest
from django.utils import timezone

from catalog.models import UsageThreshold
from tests.factories.usage_monitoring import at, metered_subscription, send_events
from usage_monitoring.models import Alert, LifetimeUsage

pytestmark = pytest.mark.django_db

T0 = at(2024, 3, 1)


@pytest.fixture
def sub(organization):
    return metered_subscription(organization, started_at=T0, external_id="sub_a", amount="1")


def alert_body(**extra):
    body = {
        "alert_type": "current_usage_amount",
        "code": "usage_warn",
        "name": "Usage warning",
        "thresholds": [{"code": "warn", "value": "10000"}, {"code": "rec", "value": "5000.5", "recurring": True}],
    }
    body.update(extra)
    return body


def test_create_get_list_update_delete(api, sub):
    r = api.post("/api/v1/subscriptions/sub_a/alerts", {"alert": alert_body()}, format="json")
    assert r.status_code == 200, r.content
    alert = r.json()["alert"]
    assert alert["alert_type"] == "current_usage_amount"
    assert alert["code"] == "usage_warn"
    assert alert["external_subscription_id"] == "sub_a"
    assert alert["lago_organization_id"] == str(sub.organization_id)
    assert alert["thresholds"] == [
        {"code": "warn", "value": "10000", "recurring": False},
        {"code": "rec", "value": "5000.5", "recurring": True},
    ]
    assert alert["previous_value"] == "0" and alert["billable_metric"] is None

    r = api.get("/api/v1/subscriptions/sub_a/alerts/usage_warn")
    assert r.status_code == 200 and r.json()["alert"]["lago_id"] == alert["lago_id"]
    r = api.get("/api/v1/subscriptions/sub_a/alerts")
    assert [a["code"] for a in r.json()["alerts"]] == ["usage_warn"]
    assert r.json()["meta"]["total_count"] == 1

    r = api.put(
        "/api/v1/subscriptions/sub_a/alerts/usage_warn",
        {"alert": {"name": "Renamed", "thresholds": [{"value": "200"}]}},
        format="json",
    )
    assert r.status_code == 200
    assert r.json()["alert"]["name"] == "Renamed"
    assert r.json()["alert"]["thresholds"] == [{"code": None, "value": "200", "recurring": False}]

    r = api.delete("/api/v1/subscriptions/sub_a/alerts/usage_warn")
    assert r.status_code == 200 and r.json()["alert"]["code"] == "usage_warn"
    assert api.get("/api/v1/subscriptions/sub_a/alerts/usage_warn").json()["code"] == "alert_not_found"
    # the code can be reused once deleted
    assert api.post("/api/v1/subscriptions/sub_a/alerts", {"alert": alert_body()}, format="json").status_code == 200


def test_metric_alert_and_batch_create_and_delete_all(api, sub):
    r = api.post(
        "/v1/subscriptions/sub_a/alerts",
        {
            "alerts": [
                alert_body(),
                alert_body(
                    alert_type="billable_metric_current_usage_units",
                    code="units",
                    billable_metric_code="units",
                    thresholds=[{"value": "10", "code": None, "recurring": None}],
                ),
            ]
        },
        format="json",
    )
    assert r.status_code == 200, r.content
    alerts = r.json()["alerts"]
    assert [a["code"] for a in alerts] == ["usage_warn", "units"]
    assert alerts[1]["billable_metric"]["code"] == "units"
    r = api.delete("/api/v1/subscriptions/sub_a/alerts")
    assert r.status_code == 200 and r.content == b""
    assert not Alert.objects.filter(deleted_at__isnull=True).exists()


def test_batch_is_all_or_nothing_with_errors_by_index(api, sub):
    r = api.post(
        "/api/v1/subscriptions/sub_a/alerts",
        {"alerts": [alert_body(), alert_body(code="x", alert_type="nope")]},
        format="json",
    )
    assert r.status_code == 422
    assert r.json()["error_details"]["1"]["alert_type"] == ["value_is_invalid"]
    assert not Alert.objects.exists()


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"alert_type": "wrong"}, "alert_type", "value_is_invalid"),
        ({"code": ""}, "code", "value_is_mandatory"),
        ({"thresholds": []}, "thresholds", "value_is_mandatory"),
        ({"thresholds": [{"value": "abc"}]}, "thresholds", "value_is_invalid"),
        ({"thresholds": [{"value": "-1"}]}, "thresholds", "value_is_invalid"),
        (
            {"thresholds": [{"value": "1", "recurring": True}, {"value": "2", "recurring": True}]},
            "thresholds",
            "only_one_recurring_threshold",
        ),
        ({"thresholds": [{"value": "1"}, {"value": "1.0"}]}, "thresholds", "duplicated_values"),
        ({"alert_type": "billable_metric_current_usage_amount"}, "billable_metric", "value_is_mandatory"),
    ],
)
def test_validation(api, sub, body, field, code):
    r = api.post("/api/v1/subscriptions/sub_a/alerts", {"alert": alert_body(**body)}, format="json")
    assert r.status_code == 422, r.content
    assert code in r.json()["error_details"][field]


def test_duplicates_and_unknowns(api, sub):
    assert api.post("/api/v1/subscriptions/sub_a/alerts", {"alert": alert_body()}, format="json").status_code == 200
    r = api.post("/api/v1/subscriptions/sub_a/alerts", {"alert": alert_body()}, format="json")
    assert r.json()["error_details"] == {"code": ["value_already_exist"]}
    r = api.post("/api/v1/subscriptions/sub_a/alerts", {"alert": alert_body(code="other")}, format="json")
    assert r.json()["error_details"] == {"base": ["alert_already_exists"]}  # unique per (subscription, type, metric)
    r = api.post(
        "/api/v1/subscriptions/sub_a/alerts",
        {"alert": alert_body(code="m", alert_type="billable_metric_current_usage_units", billable_metric_code="zz")},
        format="json",
    )
    assert (r.status_code, r.json()["code"]) == (404, "billable_metric_not_found")
    r = api.post("/api/v1/subscriptions/missing/alerts", {"alert": alert_body()}, format="json")
    assert (r.status_code, r.json()["code"]) == (404, "subscription_not_found")
    r = api.post("/api/v1/subscriptions/sub_a/alerts", {}, format="json")
    assert r.status_code == 400


def test_another_tenant_gets_404(api, sub, other_tenant):
    api.post("/api/v1/subscriptions/sub_a/alerts", {"alert": alert_body()}, format="json")
    client = other_tenant.client
    assert client.get("/api/v1/subscriptions/sub_a/alerts").status_code == 404
    assert client.get("/api/v1/subscriptions/sub_a/alerts/usage_warn").status_code == 404
    assert (
        client.put("/api/v1/subscriptions/sub_a/alerts/usage_warn", {"alert": {"name": "x"}}, format="json").status_code
        == 404
    )
    assert client.delete("/api/v1/subscriptions/sub_a/alerts/usage_warn").status_code == 404
    assert client.delete("/api/v1/subscriptions/sub_a/alerts").status_code == 404
    assert client.get("/api/v1/subscriptions/sub_a/lifetime_usage").status_code == 404
    assert (
        client.put(
            "/api/v1/subscriptions/sub_a/lifetime_usage",
            {"lifetime_usage": {"external_historical_usage_amount_cents": 1}},
            format="json",
        ).status_code
        == 404
    )
    assert Alert.objects.filter(deleted_at__isnull=True).count() == 1


def test_lifetime_usage_get_and_put(api, organization):
    now = timezone.now()
    sub = metered_subscription(organization, started_at=at(2024, 1, 1), external_id="life", amount="1")
    UsageThreshold.objects.create(organization=organization, plan=sub.plan, amount_cents=4000)
    UsageThreshold.objects.create(organization=organization, plan=sub.plan, amount_cents=1000, recurring=True)
    send_events(sub, "units", 20, now)
    r = api.get("/api/v1/subscriptions/life/lifetime_usage")
    assert r.status_code == 200, r.content
    body = r.json()["lifetime_usage"]
    assert body["external_subscription_id"] == "life"
    assert body["lago_subscription_id"] == str(sub.id)
    assert (body["current_usage_amount_cents"], body["invoiced_usage_amount_cents"]) == (2000, 0)
    assert body["external_historical_usage_amount_cents"] == 0
    assert body["usage_thresholds"] == [
        {"amount_cents": 4000, "completion_ratio": 0.5, "reached_at": None},
        {"amount_cents": 5000, "completion_ratio": 0.0, "reached_at": None},
    ]
    r = api.put(
        "/api/v1/subscriptions/life/lifetime_usage",
        {"lifetime_usage": {"external_historical_usage_amount_cents": 2500}},
        format="json",
    )
    assert r.status_code == 200
    body = r.json()["lifetime_usage"]
    assert body["external_historical_usage_amount_cents"] == 2500
    # 4,500: the 4,000 step is complete, the recurring one is half way to 5,000
    assert [t["completion_ratio"] for t in body["usage_thresholds"]] == [1.0, 0.5]
    assert LifetimeUsage.objects.get().external_historical_usage_amount_cents == 2500


@pytest.mark.parametrize("value", [-1, "abc", 1.5, None])
def test_lifetime_usage_put_validation(api, sub, value):
    r = api.put(
        "/api/v1/subscriptions/sub_a/lifetime_usage",
        {"lifetime_usage": {"external_historical_usage_amount_cents": value}},
        format="json",
    )
    assert r.status_code in (400, 422)


def test_scoped_keys_need_the_alert_resource(sub):
    from rest_framework.test import APIClient

    from customers.services import api_key_create

    _, raw = api_key_create(sub.organization, name="ro", permissions={"alert": ["read"]})
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get("/api/v1/subscriptions/sub_a/alerts").status_code == 200
    r = client.post("/api/v1/subscriptions/sub_a/alerts", {"alert": alert_body()}, format="json")
    assert (r.status_code, r.json()["code"]) == (403, "write_action_not_allowed_for_alert")


def test_the_alerts_billable_metric_is_lagos_full_metric_object(api, sub):
    """Lago embeds its billable metric object (without counters): `recurring` and the rest."""
    body = alert_body(alert_type="billable_metric_current_usage_units", code="units", billable_metric_code="units")
    created = api.post("/api/v1/subscriptions/sub_a/alerts", {"alert": body}, format="json").json()["alert"]
    metric = created["billable_metric"]
    assert metric["recurring"] is False and metric["code"] == "units"
    for key in ("lago_id", "name", "description", "aggregation_type", "weighted_interval", "rounding_function",
                "rounding_precision", "created_at", "field_name", "expression", "filters"):  # fmt: skip
        assert key in metric, key
    assert "plans_count" not in metric
    shown = api.get("/api/v1/billable_metrics/units").json()
    assert {k: v for k, v in shown["billable_metric"].items() if k in metric} == metric
    assert api.get("/api/v1/subscriptions/sub_a/alerts/units").json()["alert"]["billable_metric"] == metric
