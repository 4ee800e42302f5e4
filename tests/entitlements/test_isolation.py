"""Every entitlements route: another tenant's feature, plan or subscription is a 404, and nothing changes."""

from __future__ import annotations

import pytest

from entitlements.models import Entitlement, EntitlementValue, Feature, Privilege, SubscriptionFeatureRemoval
from tests.factories.entitlements import catalog, subscription_on

pytestmark = pytest.mark.django_db

ROUTES = [
    ("get", "/api/v1/features/seats", "feature_not_found"),
    ("put", "/api/v1/features/seats", "feature_not_found"),
    ("delete", "/api/v1/features/seats", "feature_not_found"),
    ("delete", "/api/v1/features/seats/privileges/max", "feature_not_found"),
    ("get", "/api/v1/plans/startup/entitlements", "plan_not_found"),
    ("post", "/api/v1/plans/startup/entitlements", "plan_not_found"),
    ("patch", "/api/v1/plans/startup/entitlements", "plan_not_found"),
    ("get", "/api/v1/plans/startup/entitlements/seats", "plan_not_found"),
    ("delete", "/api/v1/plans/startup/entitlements/seats", "plan_not_found"),
    ("delete", "/api/v1/plans/startup/entitlements/seats/privileges/max", "plan_not_found"),
    ("get", "/api/v1/subscriptions/sub_a/entitlements", "subscription_not_found"),
    ("patch", "/api/v1/subscriptions/sub_a/entitlements", "subscription_not_found"),
    ("get", "/api/v1/subscriptions/sub_a/entitlements/seats", "subscription_not_found"),
    ("delete", "/api/v1/subscriptions/sub_a/entitlements/seats", "subscription_not_found"),
    ("delete", "/api/v1/subscriptions/sub_a/entitlements/seats/privileges/max", "subscription_not_found"),
]

BODIES = {"put": {"feature": {"name": "stolen"}}, "post": {"entitlements": {}}, "patch": {"entitlements": {}}}


def _snapshot():
    return [
        sorted((str(r.pk), r.deleted_at) for r in model.objects.all())
        for model in (Feature, Privilege, Entitlement, EntitlementValue, SubscriptionFeatureRemoval)
    ] + [sorted(str(name) for name in Feature.objects.values_list("name", flat=True))]


@pytest.mark.parametrize(("method", "path", "code"), ROUTES)
def test_another_tenant_gets_404(tenant, other_tenant, method, path, code):
    plan = catalog(tenant.organization)
    subscription_on(plan, external_id="sub_a")
    before = _snapshot()
    for prefix_path in (path, path.replace("/api/v1/", "/v1/")):
        r = getattr(other_tenant.client, method)(prefix_path, BODIES.get(method), format="json")
        assert r.status_code == 404, (prefix_path, r.content)
        assert r.json() == {"status": 404, "error": "Not Found", "code": code}
    assert _snapshot() == before
    # The owner reaches the same route.
    r = getattr(tenant.client, method)(path, BODIES.get(method), format="json")
    assert r.status_code == 200, (path, r.content)


def test_lists_show_only_the_tenants_features(tenant, other_tenant):
    catalog(tenant.organization)
    assert other_tenant.client.get("/api/v1/features").json()["features"] == []
    assert len(tenant.client.get("/api/v1/features").json()["features"]) == 2


def test_entitlements_cannot_name_another_tenants_feature(tenant, other_tenant):
    catalog(tenant.organization)
    plan = catalog(other_tenant.organization, plan_code="theirs")
    sub = subscription_on(plan, external_id="sub_theirs")
    Feature.objects.filter(organization=tenant.organization, code="sso").update(code="mine_only")
    r = other_tenant.client.patch(
        f"/api/v1/subscriptions/{sub.external_id}/entitlements", {"entitlements": {"mine_only": {}}}, format="json"
    )
    assert r.status_code == 404 and r.json()["code"] == "feature_not_found"


def test_unauthenticated(client):
    r = client.get("/api/v1/features")
    assert r.status_code == 401
