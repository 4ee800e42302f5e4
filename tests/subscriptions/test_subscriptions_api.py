"""The /api/v1/subscriptions endpoints: Lago's shapes, codes and refusals."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from subscriptions.models import Subscription
from tests.factories.subscriptions import SubscriptionPlanFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def plans(organization):
    return {
        "basic": SubscriptionPlanFactory(organization=organization, code="basic", amount_cents=10000),
        "premium": SubscriptionPlanFactory(organization=organization, code="premium", amount_cents=20000),
        "starter": SubscriptionPlanFactory(organization=organization, code="starter", amount_cents=5000),
    }


def post(api, **fields):
    body = {"external_customer_id": "cust-1", "plan_code": "basic", "external_id": "sub-1", **fields}
    return api.post("/api/v1/subscriptions", {"subscription": body}, format="json")


def test_create_find_list_and_shape(api, plans):
    response = post(api, name="Main", billing_time="anniversary")
    assert response.status_code == 200, response.content
    sub = response.json()["subscription"]
    assert sub["external_id"] == "sub-1"
    assert sub["external_customer_id"] == "cust-1"
    assert sub["plan_code"] == "basic"
    assert sub["plan_amount_cents"] == 10000
    assert sub["plan_amount_currency"] == "USD"
    assert sub["status"] == "active"
    assert sub["billing_time"] == "anniversary"
    assert sub["name"] == "Main"
    assert sub["on_termination_invoice"] == "generate"
    assert sub["previous_plan_code"] is None and sub["next_plan_code"] is None
    assert sub["current_billing_period_started_at"] is not None
    assert sub["current_billing_period_ending_at"].endswith("23:59:59Z")
    assert sub["started_at"] is not None
    found = api.get("/api/v1/subscriptions/sub-1").json()["subscription"]
    assert found["lago_id"] == sub["lago_id"]
    listing = api.get("/api/v1/subscriptions?external_customer_id=cust-1").json()
    assert [s["external_id"] for s in listing["subscriptions"]] == ["sub-1"]
    assert listing["meta"]["total_count"] == 1
    # Also served at /v1.
    assert api.get("/v1/subscriptions/sub-1").status_code == 200


def test_root_key_and_validation_errors(api, plans):
    assert api.post("/api/v1/subscriptions", {}, format="json").status_code == 400
    response = api.post("/api/v1/subscriptions", {"subscription": {"plan_code": "basic"}}, format="json")
    assert response.status_code == 422
    assert response.json()["error_details"] == {
        "external_customer_id": ["value_is_mandatory"],
        "external_id": ["value_is_mandatory"],
    }
    unknown = post(api, plan_code="nope")
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "plan_not_found"
    bad_time = post(api, billing_time="sometimes")
    assert bad_time.status_code == 422
    assert bad_time.json()["error_details"] == {"billing_time": ["value_is_invalid"]}
    bad_date = post(api, subscription_at="yesterday")
    assert bad_date.json()["error_details"] == {"subscription_at": ["invalid_date"]}


def test_pending_find_with_status_and_cancel(api, plans):
    future = (timezone.now() + timedelta(days=10)).isoformat()
    sub = post(api, subscription_at=future).json()["subscription"]
    assert sub["status"] == "pending"
    assert sub["started_at"] is None
    assert sub["current_billing_period_started_at"] is None
    assert api.get("/api/v1/subscriptions/sub-1").status_code == 404  # default status is active
    assert api.get("/api/v1/subscriptions/sub-1?status=pending").json()["subscription"]["lago_id"] == sub["lago_id"]
    pending_list = api.get("/api/v1/subscriptions?status[]=pending").json()["subscriptions"]
    assert [s["lago_id"] for s in pending_list] == [sub["lago_id"]]
    assert api.get("/api/v1/subscriptions").json()["subscriptions"] == []
    assert api.delete("/api/v1/subscriptions/sub-1").status_code == 404
    canceled = api.delete("/api/v1/subscriptions/sub-1?status=pending").json()["subscription"]
    assert canceled["status"] == "canceled"
    assert canceled["canceled_at"] is not None


def test_terminate_with_options_then_refused(api, plans):
    post(api)
    response = api.delete("/api/v1/subscriptions/sub-1?on_termination_invoice=skip&on_termination_credit_note=refund")
    assert response.status_code == 200
    body = response.json()["subscription"]
    assert body["status"] == "terminated"
    assert body["terminated_at"] is not None
    assert body["on_termination_invoice"] == "skip"
    assert body["on_termination_credit_note"] == "refund"
    assert api.delete("/api/v1/subscriptions/sub-1").status_code == 404
    refused = api.delete("/api/v1/subscriptions/sub-1?status=terminated")
    assert refused.status_code == 405
    assert refused.json() == {"status": 405, "error": "Method Not Allowed", "code": "invalid_status"}
    assert api.get("/api/v1/subscriptions/sub-1?status=terminated").json()["subscription"]["status"] == "terminated"
    bad = api.delete("/api/v1/subscriptions/sub-1?status=terminated&on_termination_invoice=maybe")
    assert bad.status_code == 422


def test_upgrade_and_downgrade_through_the_api(api, plans):
    post(api)
    upgraded = post(api, plan_code="premium").json()["subscription"]
    assert upgraded["plan_code"] == "premium"
    assert upgraded["previous_plan_code"] == "basic"
    old = api.get("/api/v1/subscriptions/sub-1?status=terminated").json()["subscription"]
    assert old["next_plan_code"] == "premium"
    assert old["termination_reason"] == "upgraded"
    downgraded = post(api, plan_code="starter").json()["subscription"]
    assert downgraded["lago_id"] == upgraded["lago_id"]  # the current one, still active
    assert downgraded["next_plan_code"] == "starter"
    assert downgraded["downgrade_plan_date"] is not None
    pending = api.get("/api/v1/subscriptions/sub-1?status=pending").json()["subscription"]
    assert pending["plan_code"] == "starter"
    assert pending["previous_plan_code"] == "premium"
    # bxb extra: apply it now instead.
    now = post(api, plan_code="starter", downgrade_timing="immediate").json()["subscription"]
    assert now["plan_code"] == "starter" and now["status"] == "active"
    assert Subscription.objects.filter(external_id="sub-1", status="active").count() == 1
    assert Subscription.objects.filter(external_id="sub-1", status="pending").count() == 0


def test_update(api, plans):
    post(api)
    ending = (timezone.now() + timedelta(days=30)).replace(microsecond=0)
    response = api.put(
        "/api/v1/subscriptions/sub-1",
        {
            "subscription": {
                "name": "New name",
                "ending_at": ending.isoformat(),
                "plan_overrides": {"amount_cents": 999},
            }
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()["subscription"]
    assert body["name"] == "New name"
    assert body["ending_at"].startswith(ending.strftime("%Y-%m-%dT%H:%M:%S"))
    assert body["plan_code"] == "basic"
    assert body["plan_amount_cents"] == 999
    assert body["plan"]["amount_cents"] == 999 and body["plan"]["code"] == "basic"
    assert api.get("/api/v1/plans/basic").json()["plan"]["amount_cents"] == 10000  # the parent is untouched
    past = api.put(
        "/api/v1/subscriptions/sub-1", {"subscription": {"ending_at": "2001-01-01T00:00:00Z"}}, format="json"
    )
    assert past.status_code == 422
    assert past.json()["error_details"] == {"ending_at": ["invalid_date"]}
    assert api.put("/api/v1/subscriptions/nope", {"subscription": {"name": "x"}}, format="json").status_code == 404
    assert api.put("/api/v1/subscriptions/sub-1", {}, format="json").status_code == 400


def test_list_filters_and_pagination(api, plans):
    post(api)
    post(api, external_id="sub-2", plan_code="premium")
    post(api, external_id="sub-3", external_customer_id="cust-2")
    assert api.get("/api/v1/subscriptions?plan_code=premium").json()["meta"]["total_count"] == 1
    assert api.get("/api/v1/subscriptions?external_customer_id=cust-2").json()["meta"]["total_count"] == 1
    page = api.get("/api/v1/subscriptions?per_page=2&page=2").json()
    assert page["meta"] == {"current_page": 2, "next_page": None, "prev_page": 1, "total_pages": 2, "total_count": 3}
    assert api.get("/api/v1/subscriptions?external_id=sub-2").json()["meta"]["total_count"] == 1


def test_other_tenant_gets_404(api, other_tenant, plans):
    post(api)
    assert other_tenant.client.get("/api/v1/subscriptions/sub-1").status_code == 404
    assert other_tenant.client.delete("/api/v1/subscriptions/sub-1").status_code == 404
    assert (
        other_tenant.client.put(
            "/api/v1/subscriptions/sub-1", {"subscription": {"name": "x"}}, format="json"
        ).status_code
        == 404
    )
    assert other_tenant.client.get("/api/v1/subscriptions").json()["subscriptions"] == []
    # Another tenant's plan code is unknown here.
    response = other_tenant.client.post(
        "/api/v1/subscriptions",
        {"subscription": {"external_customer_id": "c", "plan_code": "basic", "external_id": "s"}},
        format="json",
    )
    assert response.status_code == 404


def test_requires_api_key(client):
    assert client.get("/api/v1/subscriptions").status_code == 401


def test_show_carries_the_plan_and_catalog_counts(api, plans):
    post(api)
    body = api.get("/api/v1/subscriptions/sub-1").json()["subscription"]
    assert body["plan"]["code"] == "basic"
    assert body["plan"]["lago_id"] == str(plans["basic"].pk)
    plan = api.get("/api/v1/plans/basic").json()["plan"]
    assert plan["active_subscriptions_count"] == 1
    assert plan["customers_count"] == 1


def test_plan_deletion_terminates_its_subscriptions(api, plans, django_capture_on_commit_callbacks):
    post(api)
    future = (timezone.now() + timedelta(days=3)).isoformat()
    post(api, external_id="sub-2", subscription_at=future)
    with django_capture_on_commit_callbacks(execute=True):
        assert api.delete("/api/v1/plans/basic").status_code == 200
    rows = dict(Subscription.objects.values_list("external_id", "status"))
    assert rows == {"sub-1": "terminated", "sub-2": "canceled"}
    assert Subscription.objects.get(external_id="sub-1").termination_reason == "plan_deleted"


def test_list_query_count_does_not_grow_with_rows(api, plans):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for index in range(3):
        post(api, external_id=f"s-{index}")
        post(api, external_id=f"s-{index}", plan_code="starter")  # each with a scheduled downgrade
    with CaptureQueriesContext(connection) as small:
        api.get("/api/v1/subscriptions?per_page=1")
    for index in range(3, 12):
        post(api, external_id=f"s-{index}", plan_code="premium")
    with CaptureQueriesContext(connection) as big:
        body = api.get("/api/v1/subscriptions").json()
    assert body["meta"]["total_count"] == 12
    assert sum(1 for s in body["subscriptions"] if s["next_plan_code"] == "starter") == 3
    assert len(big.captured_queries) == len(small.captured_queries) <= 8


def test_subscribed_customer_may_change_its_default_currency(api, plans):
    post(api)
    response = api.post("/api/v1/customers", {"customer": {"external_id": "cust-1", "currency": "EUR"}}, format="json")
    assert response.status_code == 200 and response.json()["customer"]["currency"] == "EUR"
    listed = api.get("/api/v1/subscriptions?external_customer_id=cust-1").json()["subscriptions"]
    assert [(s["external_id"], s["plan_code"], s["status"]) for s in listed] == [("sub-1", "basic", "active")]


def test_update_refused_on_terminated(api, plans):
    post(api)
    api.delete("/api/v1/subscriptions/sub-1")
    response = api.put("/api/v1/subscriptions/sub-1?status=terminated", {"subscription": {"name": "x"}}, format="json")
    assert response.status_code == 405
    assert response.json()["code"] == "invalid_status"
    assert api.put("/api/v1/subscriptions/sub-1", {"subscription": {"name": "x"}}, format="json").status_code == 404
