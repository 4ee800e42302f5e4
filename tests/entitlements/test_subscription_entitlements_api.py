"""`/subscriptions/{external_id}/entitlements`: the plan's entitlements with the subscription's
overrides; removals; falling back to the plan; the switch at a plan change."""

from __future__ import annotations

import datetime as dt

import pytest

from entitlements import services
from subscriptions.models import Subscription, SubscriptionStatus, TerminationReason
from tests.factories.entitlements import catalog, make_feature, subscription_on
from tests.factories.invoicing import make_plan

pytestmark = pytest.mark.django_db


@pytest.fixture
def plan(organization):
    return catalog(organization)


@pytest.fixture
def sub(plan):
    return subscription_on(plan, external_id="sub_a")


def values(body):
    return {e["code"]: {p["code"]: p["value"] for p in e["privileges"]} for e in body["entitlements"]}


def test_plan_entitlements_without_overrides(api, sub):
    r = api.get("/api/v1/subscriptions/sub_a/entitlements")
    assert r.status_code == 200, r.content
    seats = r.json()["entitlements"][0]
    assert seats["code"] == "seats" and seats["name"] == "Number of seats" and seats["overrides"] == {}
    assert seats["privileges"][0] == {
        "code": "max",
        "name": "Maximum",
        "value_type": "integer",
        "config": {},
        "billable_metric_code": None,
        "value": 10,
        "plan_value": 10,
        "override_value": None,
    }
    assert values(r.json()) == {"seats": {"max": 10, "max_admins": 5, "root": True}, "sso": {"provider": "google"}}


def test_overrides_and_fallback_to_the_plan(api, sub, organization):
    make_feature(organization, "api", [{"code": "rate", "value_type": "integer"}])
    r = api.patch(
        "/api/v1/subscriptions/sub_a/entitlements",
        {"entitlements": {"seats": {"max": 15}, "sso": {"provider": "okta"}, "api": {"rate": 100}}},
        format="json",
    )
    assert r.status_code == 200, r.content
    body = r.json()
    assert values(body) == {
        "seats": {"max": 15, "max_admins": 5, "root": True},
        "sso": {"provider": "okta"},
        "api": {"rate": 100},
    }
    seats = body["entitlements"][0]
    assert seats["overrides"] == {"max": 15}
    assert seats["privileges"][0]["plan_value"] == 10 and seats["privileges"][0]["override_value"] == 15
    api_feature = body["entitlements"][2]
    assert api_feature["privileges"][0]["plan_value"] is None and api_feature["overrides"] == {"rate": 100}

    # The plan changes: privileges without an override follow it, overridden ones keep the override.
    services.plan_entitlements_update(
        organization, plan_code="startup", entitlements={"seats": {"max": 12, "max_admins": 6}}, partial=True
    )
    assert values(api.get("/api/v1/subscriptions/sub_a/entitlements").json())["seats"] == {
        "max": 15,
        "max_admins": 6,
        "root": True,
    }
    # Sending the plan's value drops the override: the subscription follows the plan again.
    r = api.patch("/api/v1/subscriptions/sub_a/entitlements", {"entitlements": {"seats": {"max": 12}}}, format="json")
    assert r.json()["entitlements"][0]["overrides"] == {}
    services.plan_entitlements_update(
        organization, plan_code="startup", entitlements={"seats": {"max": 30}}, partial=True
    )
    assert values(api.get("/api/v1/subscriptions/sub_a/entitlements").json())["seats"]["max"] == 30
    # Another subscription of the plan never saw the overrides.
    other = subscription_on(sub.plan, external_id="sub_b")
    assert values(api.get(f"/api/v1/subscriptions/{other.external_id}/entitlements").json())["sso"] == {
        "provider": "google"
    }


def test_single_feature_read(api, sub):
    r = api.get("/api/v1/subscriptions/sub_a/entitlements/sso")
    assert r.status_code == 200 and r.json()["entitlement"]["privileges"][0]["value"] == "google"
    r = api.get("/api/v1/subscriptions/sub_a/entitlements/nope")
    assert r.status_code == 404 and r.json()["code"] == "entitlement_not_found"


def test_remove_feature_and_privilege_as_lago_does(api, sub):
    api.patch("/api/v1/subscriptions/sub_a/entitlements", {"entitlements": {"seats": {"max": 15}}}, format="json")
    r = api.delete("/api/v1/subscriptions/sub_a/entitlements/seats/privileges/root")
    assert r.status_code == 200, r.content
    assert values(r.json())["seats"] == {"max": 15, "max_admins": 5}
    r = api.delete("/api/v1/subscriptions/sub_a/entitlements/seats/privileges/max")
    assert values(r.json())["seats"] == {"max_admins": 5}
    # The feature itself: removed from this subscription though the plan grants it.
    r = api.delete("/api/v1/subscriptions/sub_a/entitlements/sso")
    assert r.status_code == 200 and "sso" not in values(r.json())
    # PATCH brings a removed feature back (the plan's values when they are the ones sent).
    r = api.patch(
        "/api/v1/subscriptions/sub_a/entitlements", {"entitlements": {"sso": {"provider": "google"}}}, format="json"
    )
    assert values(r.json())["sso"] == {"provider": "google"}
    r = api.patch(
        "/api/v1/subscriptions/sub_a/entitlements",
        {"entitlements": {"seats": {"max": 10, "root": True}}},
        format="json",
    )
    assert values(r.json())["seats"] == {"max": 10, "max_admins": 5, "root": True}
    # The plan itself is untouched.
    assert len(api.get("/api/v1/plans/startup/entitlements").json()["entitlements"]) == 2


def test_errors(api, sub):
    assert api.get("/api/v1/subscriptions/nope/entitlements").json()["code"] == "subscription_not_found"
    r = api.get("/api/v1/subscriptions/sub_a/entitlements?subscription_status=bogus")
    assert r.status_code == 404 and r.json()["code"] == "subscription_not_found"
    r = api.patch("/api/v1/subscriptions/sub_a/entitlements", {"entitlements": {"nope": {"x": 1}}}, format="json")
    assert r.status_code == 404 and r.json()["code"] == "feature_not_found"
    r = api.patch("/api/v1/subscriptions/sub_a/entitlements", {"entitlements": {"seats": {"x": 1}}}, format="json")
    assert r.status_code == 404 and r.json()["code"] == "privilege_not_found"
    r = api.patch(
        "/api/v1/subscriptions/sub_a/entitlements", {"entitlements": {"seats": {"max": "many"}}}, format="json"
    )
    assert r.status_code == 422 and r.json()["error_details"] == {"max_privilege_value": ["value_is_invalid"]}
    assert api.delete("/api/v1/subscriptions/sub_a/entitlements/nope").json()["code"] == "feature_not_found"
    assert (
        api.delete("/api/v1/subscriptions/sub_a/entitlements/seats/privileges/nope").json()["code"]
        == "privilege_not_found"
    )


def test_pending_and_terminated_by_status(api, plan, sub, organization):
    sub.status = SubscriptionStatus.TERMINATED
    sub.terminated_at = dt.datetime(2024, 2, 1, tzinfo=dt.UTC)
    sub.save()
    assert api.get("/api/v1/subscriptions/sub_a/entitlements").status_code == 404
    r = api.get("/api/v1/subscriptions/sub_a/entitlements?subscription_status=terminated")
    assert r.status_code == 200 and "seats" in values(r.json())
    r = api.get("/api/v1/subscriptions/sub_a/entitlements?status=terminated")
    assert r.status_code == 200


def test_plan_override_reads_the_parent_plan(api, plan, organization):
    child = make_plan(organization, code=plan.code, parent=plan, name="custom")
    sub = subscription_on(child, external_id="sub_child")
    assert values(api.get(f"/api/v1/subscriptions/{sub.external_id}/entitlements").json())["sso"] == {
        "provider": "google"
    }


def test_upgrade_switches_entitlements_with_the_plan(api, plan, sub, organization):
    """A plan change makes a new subscription row: the new plan's entitlements apply from the
    moment it is active; the old row's overrides stay with the old row (as Lago's)."""
    api.patch("/api/v1/subscriptions/sub_a/entitlements", {"entitlements": {"seats": {"max": 15}}}, format="json")
    premium = make_plan(organization, code="premium")
    services.plan_entitlements_update(
        organization, plan_code="premium", entitlements={"seats": {"max": 100, "root": True}}, partial=False
    )
    now = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
    Subscription.objects.filter(pk=sub.pk).update(
        status=SubscriptionStatus.TERMINATED, terminated_at=now, termination_reason=TerminationReason.UPGRADED
    )
    Subscription.objects.create(
        organization=organization,
        customer=sub.customer,
        plan=premium,
        external_id="sub_a",
        status=SubscriptionStatus.ACTIVE,
        subscription_at=sub.subscription_at,
        started_at=now,
        previous_subscription=sub,
    )
    assert values(api.get("/api/v1/subscriptions/sub_a/entitlements").json()) == {"seats": {"max": 100, "root": True}}
    old = api.get("/api/v1/subscriptions/sub_a/entitlements?subscription_status=terminated").json()
    assert values(old)["seats"]["max"] == 15
