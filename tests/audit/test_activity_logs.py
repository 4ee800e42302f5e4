"""GET /activity_logs[/{activity_id}]: the audit trail in Lago's activity-log shape."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from audit.activity import activity_type, replay
from audit.context import Actor, reset_actor, set_actor
from audit.models import AuditLogEntry
from tests.factories.customers import CustomerFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/activity_logs"
LAGO_FIELDS = {
    "activity_id", "activity_type", "activity_source", "activity_object", "activity_object_changes", "user_email",
    "resource_id", "resource_type", "external_customer_id", "external_subscription_id", "logged_at", "created_at",
}  # fmt: skip


@pytest.fixture
def tenant(tenant):
    """The tenant's API key was created by the fixture: start from an empty trail."""
    AuditLogEntry.objects.all().delete()
    return tenant


@pytest.fixture
def lago(lago):
    AuditLogEntry.objects.all().delete()
    return lago


def _metric(api, code="storage", name="Storage"):
    body = {"billable_metric": {"name": name, "code": code, "aggregation_type": "count_agg"}}
    response = api.post("/api/v1/billable_metrics", body, format="json")
    assert response.status_code == 200, response.content
    return response.json()["billable_metric"]


def test_an_api_change_is_listed_with_lago_fields(tenant):
    metric = _metric(tenant.client)
    response = tenant.client.get(URL)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["meta"]["total_count"] == 1
    (log,) = body["activity_logs"]
    assert set(log) >= LAGO_FIELDS
    assert log["activity_type"] == "billable_metric.created"
    assert log["activity_source"] == "api"
    assert log["resource_type"] == "BillableMetric"
    assert log["resource_id"] == metric["lago_id"]
    assert log["activity_object"]["code"] == "storage"
    assert log["activity_object_changes"] == {}
    assert log["user_email"] is None and log["external_customer_id"] is None
    assert log["logged_at"].endswith("Z")

    detail = tenant.client.get(f"/v1/activity_logs/{log['activity_id']}")
    assert detail.status_code == 200
    assert detail.json()["activity_log"] == log


def test_an_update_has_its_changes_and_the_object_as_it_was_then(tenant):
    _metric(tenant.client)
    response = tenant.client.put(
        "/api/v1/billable_metrics/storage", {"billable_metric": {"name": "Disk"}}, format="json"
    )
    assert response.status_code == 200, response.content
    _metric(tenant.client, code="other")  # later entries do not leak into earlier objects
    logs = tenant.client.get(URL, {"activity_types[]": "billable_metric.updated"}).json()["activity_logs"]
    (update,) = logs
    assert update["activity_object_changes"]["name"] == ["Storage", "Disk"]
    assert update["activity_object"]["name"] == "Disk"
    assert update["activity_object"]["code"] == "storage"
    created = tenant.client.get(
        URL, {"resource_ids[]": update["resource_id"], "activity_types[]": "billable_metric.created"}
    )
    assert created.json()["activity_logs"][0]["activity_object"]["name"] == "Storage"


def test_customer_changes_carry_the_external_customer_id_and_filter_by_it(tenant):
    response = tenant.client.post(
        "/api/v1/customers", {"customer": {"external_id": "cus_1", "name": "One", "currency": "EUR"}}, format="json"
    )
    assert response.status_code == 200, response.content
    CustomerFactory(organization=tenant.organization, external_id="cus_2", sequential_id=99)
    logs = tenant.client.get(URL, {"external_customer_id": "cus_1"}).json()["activity_logs"]
    assert [log["activity_type"] for log in logs] == ["customer.created"]
    assert logs[0]["external_customer_id"] == "cus_1"
    assert logs[0]["resource_type"] == "Customer"
    system = tenant.client.get(URL, {"activity_sources[]": "system"}).json()["activity_logs"]
    assert [log["external_customer_id"] for log in system] == ["cus_2"]
    by_type = tenant.client.get(URL, {"resource_types[]": ["Customer", "Invoice"]}).json()["meta"]["total_count"]
    assert by_type == 2


def test_staff_changes_are_front_with_the_user_email(tenant):
    user = User.objects.create_user("ops", email="ops@example.com", password="x", is_staff=True)
    token = set_actor(Actor("user", id=str(user.pk), label="ops"))
    try:
        CustomerFactory(organization=tenant.organization, external_id="cus_staff")
    finally:
        reset_actor(token)
    logs = tenant.client.get(URL, {"user_emails[]": "ops@example.com"}).json()["activity_logs"]
    assert len(logs) == 1
    assert logs[0]["activity_source"] == "front"
    assert logs[0]["user_email"] == "ops@example.com"
    assert tenant.client.get(URL, {"user_emails[]": "nobody@example.com"}).json()["activity_logs"] == []


def test_date_window(tenant):
    _metric(tenant.client)
    today = timezone.now().date()
    assert tenant.client.get(URL, {"from_date": today.isoformat()}).json()["meta"]["total_count"] == 1
    assert tenant.client.get(URL, {"to_date": today.isoformat()}).json()["meta"]["total_count"] == 1
    yesterday = (today - dt.timedelta(days=1)).isoformat()
    assert tenant.client.get(URL, {"to_date": yesterday}).json()["meta"]["total_count"] == 0
    tomorrow = (today + dt.timedelta(days=1)).isoformat()
    assert tenant.client.get(URL, {"from_date": tomorrow}).json()["meta"]["total_count"] == 0


@pytest.mark.parametrize(
    ("params", "field", "code"),
    [
        ({"activity_sources[]": "browser"}, "activity_sources", "value_is_invalid"),
        ({"from_date": "yesterday"}, "from_date", "invalid_date"),
        ({"to_date": "2026-13-01"}, "to_date", "invalid_date"),
        ({"resource_ids[]": "not-a-uuid"}, "resource_ids", "value_is_invalid"),
        ({"per_page": "0"}, "per_page", "value_is_invalid"),
    ],
)
def test_bad_filters_are_422_in_lago_shape(tenant, params, field, code):
    response = tenant.client.get(URL, params)
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_errors"
    assert body["error_details"] == {field: [code]}


def test_another_organization_sees_nothing(tenant, other_tenant):
    _metric(tenant.client)
    log = tenant.client.get(URL).json()["activity_logs"][0]
    others = other_tenant.client.get(URL).json()["activity_logs"]
    assert log["activity_id"] not in {item["activity_id"] for item in others}
    assert {item["organization_id"] for item in others} == {str(other_tenant.organization.pk)}
    response = other_tenant.client.get(f"{URL}/{log['activity_id']}")
    assert response.status_code == 404
    assert response.json()["code"] == "activity_log_not_found"
    assert tenant.client.get(f"{URL}/not-a-uuid").status_code == 404


def test_pages_are_newest_first(tenant):
    for code in ("a", "b", "c"):
        _metric(tenant.client, code=code, name=code)
    body = tenant.client.get(URL, {"per_page": 2, "page": 1}).json()
    assert [log["activity_object"]["code"] for log in body["activity_logs"]] == ["c", "b"]
    assert body["meta"] == {"current_page": 1, "next_page": 2, "prev_page": None, "total_pages": 2, "total_count": 3}


@pytest.mark.parametrize(
    ("label", "action", "changes", "expected"),
    [
        ("invoicing.invoice", "create", {"status": [None, "draft"]}, "invoice.drafted"),
        ("invoicing.invoice", "create", {"status": [None, "finalized"]}, "invoice.created"),
        ("invoicing.invoice", "update", {"status": ["draft", "finalized"]}, "invoice.created"),
        ("invoicing.invoice", "update", {"status": ["finalized", "voided"]}, "invoice.voided"),
        ("invoicing.invoice", "update", {"payment_status": ["pending", "succeeded"]}, "invoice.payment_status_updated"),
        ("invoicing.invoice", "update", {"payment_overdue": [False, True]}, "invoice.payment_overdue"),
        ("subscriptions.subscription", "create", {"status": [None, "active"]}, "subscription.started"),
        ("subscriptions.subscription", "update", {"status": ["active", "terminated"]}, "subscription.terminated"),
        ("subscriptions.subscription", "update", {"status": ["pending", "canceled"]}, "subscription.canceled"),
        ("catalog.plan", "update", {"deleted_at": [None, "2026-01-01T00:00:00+00:00"]}, "plan.deleted"),
        ("payments.payment", "create", {"amount_cents": [None, 100]}, "payment.recorded"),
        ("entitlements.feature", "delete", {}, "feature.deleted"),
    ],
)
def test_activity_types_follow_lago(label, action, changes, expected):
    class_name = {"invoicing.invoice": "Invoice", "subscriptions.subscription": "Subscription"}.get(label, "X")
    assert activity_type(label, class_name, action, changes) == expected


def test_replay_rebuilds_the_object():
    history: list[tuple[str, dict]] = [
        ("create", {"name": [None, "A"], "code": [None, "a"]}),
        ("update", {"name": ["A", "B"], "description": [None, "d"]}),
    ]
    assert replay(history) == {"name": "B", "code": "a", "description": "d"}
    assert replay([*history, ("delete", {"name": ["B", None], "code": ["a", None]})]) == {"name": "B", "code": "a"}


def test_entries_record_their_activity_fields(tenant):
    customer = CustomerFactory(organization=tenant.organization)
    entry = AuditLogEntry.objects.get(object_id=str(customer.pk))
    assert entry.activity_type == "customer.created"
    assert entry.related_customer_id == customer.pk


def test_lago_python_client_reads_activity_logs(lago):
    from lago_python_client.models import BillableMetric

    lago.client.billable_metrics.create(BillableMetric(name="Storage", code="storage", aggregation_type="count_agg"))
    listed = lago.client.activity_logs.find_all()
    assert listed["meta"]["total_count"] == 1
    log = listed["activity_logs"][0]
    assert log.activity_type == "billable_metric.created"
    found = lago.client.activity_logs.find(log.activity_id)
    assert found.resource_type == "BillableMetric"
