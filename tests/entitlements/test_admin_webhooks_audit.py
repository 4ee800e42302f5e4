"""The console pages of features, plan entitlements and subscription overrides (changes through the
services), the webhooks every change sends, and the audit entries it leaves."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model

from audit.models import AuditLogEntry
from entitlements import services
from entitlements.models import Entitlement, Feature, Privilege
from tests.factories.entitlements import catalog, make_feature, subscription_on
from tests.factories.webhooks import WebhookEndpointFactory
from webhooks.models import WebhookDelivery

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    user = get_user_model().objects.create_superuser("admin", "admin@example.test", "pw")
    client.force_login(user)
    return client


def deliveries(organization, webhook_type):
    rows = WebhookDelivery.objects.filter(organization=organization, webhook_type=webhook_type).order_by("created_at")
    return [json.loads(r.body) for r in rows]


def test_pages_load(staff_client, organization):
    plan = catalog(organization)
    sub = subscription_on(plan, external_id="sub_a")
    services.subscription_entitlements_update(
        organization, external_id="sub_a", status=None, entitlements={"seats": {"max": 15}}
    )
    feature = Feature.live.get(organization=organization, code="seats")
    override = Entitlement.live.get(subscription=sub)
    grant = Entitlement.live.filter(plan=plan).earliest("created_at")
    for url in (
        "/admin/entitlements/feature/",
        "/admin/entitlements/feature/?q=seat",
        "/admin/entitlements/feature/add/",
        f"/admin/entitlements/feature/{feature.pk}/change/",
        "/admin/entitlements/entitlement/",
        "/admin/entitlements/entitlement/add/",
        f"/admin/entitlements/entitlement/{grant.pk}/change/",
        "/admin/entitlements/subscriptionoverride/",
        f"/admin/entitlements/subscriptionoverride/{override.pk}/change/",
    ):
        r = staff_client.get(url)
        assert r.status_code == 200, url
    page = staff_client.get(f"/admin/catalog/plan/{plan.pk}/change/").content.decode()
    assert "entitlements (edited in" in page.lower() and "max = 10" in page
    page = staff_client.get(f"/admin/subscriptions/subscription/{sub.pk}/change/").content.decode()
    assert "entitlement overrides" in page.lower() and "max = 15" in page


def test_feature_created_and_edited_through_the_service(staff_client, organization):
    privileges: list[dict[str, object]] = [
        {"code": "max", "value_type": "integer"},
        {"code": "provider", "value_type": "select"},
    ]
    r = staff_client.post(
        "/admin/entitlements/feature/add/",
        {
            "organization": organization.pk,
            "code": "seats",
            "name": "Seats",
            "description": "",
            "privileges_json": json.dumps(privileges),
            "privileges-TOTAL_FORMS": "0",
            "privileges-INITIAL_FORMS": "0",
        },
    )
    assert r.status_code == 200 and "invalid_format" in r.content.decode()  # the select has no options
    assert not Feature.objects.exists()
    privileges[1]["config"] = {"select_options": ["okta"]}
    r = staff_client.post(
        "/admin/entitlements/feature/add/",
        {
            "organization": organization.pk,
            "code": "seats",
            "name": "Seats",
            "description": "",
            "privileges_json": json.dumps(privileges),
            "privileges-TOTAL_FORMS": "0",
            "privileges-INITIAL_FORMS": "0",
        },
    )
    assert r.status_code == 302, r.content.decode()[:2000]
    feature = Feature.live.get(code="seats")
    assert [p.code for p in Privilege.live.filter(feature=feature)] == ["max", "provider"]
    r = staff_client.post(
        f"/admin/entitlements/feature/{feature.pk}/change/",
        {
            "name": "Seats!",
            "description": "",
            "privileges_json": json.dumps([{"code": "max", "value_type": "integer"}]),
            "privileges-TOTAL_FORMS": "0",
            "privileges-INITIAL_FORMS": "0",
        },
    )
    assert r.status_code == 302
    feature.refresh_from_db()
    assert feature.name == "Seats!"
    assert [p.code for p in Privilege.live.filter(feature=feature)] == ["max"]
    assert AuditLogEntry.objects.filter(object_id=str(feature.pk), actor_type="user").exists()


def test_plan_grant_and_override_deleted_in_the_admin(staff_client, organization):
    plan = catalog(organization)
    sub = subscription_on(plan, external_id="sub_a")
    services.subscription_entitlements_update(
        organization, external_id="sub_a", status=None, entitlements={"seats": {"max": 15}}
    )
    override = Entitlement.live.get(subscription=sub)
    r = staff_client.post(f"/admin/entitlements/subscriptionoverride/{override.pk}/delete/", {"post": "yes"})
    assert r.status_code == 302
    [seats] = [e for e in services.selectors.subscription_entitlements(organization, sub) if e.code == "seats"]
    assert {p.code: p.value for p in seats.privileges}["max"] == "10"  # back to the plan's value
    grant = Entitlement.live.get(plan=plan, feature__code="sso")
    r = staff_client.post(
        f"/admin/entitlements/entitlement/{grant.pk}/change/", {"values_json": json.dumps({"provider": "azure"})}
    )
    assert r.status_code == 200 and "value_not_in_select_options" in r.content.decode()
    r = staff_client.post(
        f"/admin/entitlements/entitlement/{grant.pk}/change/", {"values_json": json.dumps({"provider": "okta"})}
    )
    assert r.status_code == 302
    assert Entitlement.live.get(pk=grant.pk).values.get(deleted_at__isnull=True).value == "okta"
    r = staff_client.post(f"/admin/entitlements/entitlement/{grant.pk}/delete/", {"post": "yes"})
    assert r.status_code == 302 and not Entitlement.live.filter(pk=grant.pk).exists()


def test_webhooks(organization):
    WebhookEndpointFactory(organization=organization)
    plan = catalog(organization)
    assert [w["feature"]["code"] for w in deliveries(organization, "feature.created")] == ["seats", "sso"]
    created = deliveries(organization, "feature.created")[1]
    assert created["object_type"] == "feature" and created["feature"]["privileges"][0]["code"] == "provider"
    [plan_updated] = deliveries(organization, "plan.updated")
    assert plan_updated["plan"]["code"] == plan.code
    assert [e["code"] for e in plan_updated["plan"]["entitlements"]] == ["seats", "sso"]

    subscription_on(plan, external_id="sub_a")
    services.subscription_entitlements_update(
        organization, external_id="sub_a", status=None, entitlements={"sso": {"provider": "okta"}}
    )
    [updated] = deliveries(organization, "subscription.updated")
    assert updated["subscription"]["external_id"] == "sub_a"
    sso = next(e for e in updated["subscription"]["entitlements"] if e["code"] == "sso")
    assert sso["overrides"] == {"provider": "okta"}

    services.feature_update(organization, code="sso", name="Single sign-on")
    assert deliveries(organization, "feature.updated")[-1]["feature"]["name"] == "Single sign-on"
    assert len(deliveries(organization, "plan.updated")) == 2  # the plan granting it changed too
    services.feature_delete(organization, code="sso")
    assert deliveries(organization, "feature.deleted")[-1]["feature"]["code"] == "sso"


def test_audit_entries_with_the_api_key(api, organization):
    r = api.post("/api/v1/features", {"feature": {"code": "seats", "privileges": [{"code": "max"}]}}, format="json")
    assert r.status_code == 200
    feature = Feature.live.get(code="seats")
    entry = AuditLogEntry.objects.get(object_id=str(feature.pk), action="create")
    assert entry.actor_type == "api_key" and entry.organization_id == organization.pk
    api.delete("/api/v1/features/seats")
    assert AuditLogEntry.objects.filter(object_id=str(feature.pk), action="update").exists()  # soft delete
    privilege = Privilege.objects.get(feature=feature)
    actions = set(AuditLogEntry.objects.filter(object_id=str(privilege.pk)).values_list("action", flat=True))
    assert actions == {"create", "update"}
    make_feature(organization, "sso", [{"code": "provider"}])
    assert AuditLogEntry.objects.filter(content_type__model="privilege", action="create").count() == 2
