"""`/plans/{code}/entitlements`: Lago's routes, bodies and errors."""

from __future__ import annotations

import pytest

from tests.factories.entitlements import SEATS, SSO, make_feature
from tests.factories.invoicing import make_plan

pytestmark = pytest.mark.django_db


@pytest.fixture
def plan(organization):
    make_feature(organization, "seats", SEATS, name="Number of seats", description="Users")
    make_feature(organization, "sso", SSO)
    return make_plan(organization, code="startup")


def codes(body):
    return {e["code"]: {p["code"]: p["value"] for p in e["privileges"]} for e in body["entitlements"]}


def test_create_list_get_patch_delete(api, plan):
    r = api.post(
        "/api/v1/plans/startup/entitlements",
        {"entitlements": {"seats": {"max": 10, "root": True}, "sso": {"provider": "google"}}},
        format="json",
    )
    assert r.status_code == 200, r.content
    assert r.json()["entitlements"][0] == {
        "code": "seats",
        "name": "Number of seats",
        "description": "Users",
        "privileges": [
            {
                "code": "max",
                "name": "Maximum",
                "value_type": "integer",
                "config": {},
                "billable_metric_code": None,
                "value": 10,
            },
            {
                "code": "root",
                "name": "Allow root user",
                "value_type": "boolean",
                "config": {},
                "billable_metric_code": None,
                "value": True,
            },
        ],
    }
    assert codes(r.json())["sso"] == {"provider": "google"}
    assert api.get("/v1/plans/startup/entitlements").json() == r.json()
    r = api.get("/api/v1/plans/startup/entitlements/sso")
    assert r.status_code == 200 and r.json()["entitlement"]["privileges"][0]["value"] == "google"

    # PATCH: sent values change or are added, the rest stays.
    r = api.patch(
        "/api/v1/plans/startup/entitlements", {"entitlements": {"seats": {"max": "20", "max_admins": 3}}}, format="json"
    )
    assert r.status_code == 200, r.content
    assert codes(r.json()) == {"seats": {"max": 20, "root": True, "max_admins": 3}, "sso": {"provider": "google"}}

    # POST replaces: features and privileges not sent go.
    r = api.post("/api/v1/plans/startup/entitlements", {"entitlements": {"seats": {"max": 5}}}, format="json")
    assert codes(r.json()) == {"seats": {"max": 5}}

    r = api.delete("/api/v1/plans/startup/entitlements/seats/privileges/max")
    assert r.status_code == 200 and r.json()["entitlement"]["privileges"] == []
    r = api.delete("/api/v1/plans/startup/entitlements/seats/privileges/max")
    assert r.status_code == 404 and r.json()["code"] == "privilege_not_found"
    r = api.delete("/api/v1/plans/startup/entitlements/seats")
    assert r.status_code == 200 and r.json()["entitlement"]["code"] == "seats"
    assert api.get("/api/v1/plans/startup/entitlements").json() == {"entitlements": []}
    r = api.get("/api/v1/plans/startup/entitlements/seats")
    assert r.status_code == 404 and r.json() == {"status": 404, "error": "Not Found", "code": "entitlement_not_found"}


def test_post_without_entitlements_clears_the_plan(api, plan):
    api.post("/api/v1/plans/startup/entitlements", {"entitlements": {"sso": {"provider": "okta"}}}, format="json")
    r = api.post("/api/v1/plans/startup/entitlements", {}, format="json")
    assert r.status_code == 200 and r.json() == {"entitlements": []}


@pytest.mark.parametrize(
    ("entitlements", "status", "expected"),
    [
        ({"nope": {}}, 404, {"code": "feature_not_found"}),
        ({"seats": {"nope": 1}}, 404, {"code": "privilege_not_found"}),
        ({"seats": {"max": "ten"}}, 422, {"error_details": {"max_privilege_value": ["value_is_invalid"]}}),
        ({"seats": {"max": 1.5}}, 422, {"error_details": {"max_privilege_value": ["value_is_invalid"]}}),
        ({"seats": {"max": True}}, 422, {"error_details": {"max_privilege_value": ["value_is_invalid"]}}),
        ({"seats": {"root": "yes"}}, 422, {"error_details": {"root_privilege_value": ["value_is_invalid"]}}),
        (
            {"sso": {"provider": "azure"}},
            422,
            {"error_details": {"provider_privilege_value": ["value_not_in_select_options"]}},
        ),
        ({"seats": "x"}, 422, {"error_details": {"entitlements": ["value_is_invalid"]}}),
    ],
)
def test_errors_change_nothing(api, plan, entitlements, status, expected):
    api.post("/api/v1/plans/startup/entitlements", {"entitlements": {"seats": {"max": 1}}}, format="json")
    r = api.patch("/api/v1/plans/startup/entitlements", {"entitlements": entitlements}, format="json")
    assert r.status_code == status, r.content
    body = r.json()
    for key, value in expected.items():
        assert body[key] == value
    assert codes(api.get("/api/v1/plans/startup/entitlements").json()) == {"seats": {"max": 1}}


def test_unknown_plan_and_bad_body(api, plan):
    for method in ("get", "post", "patch"):
        r = getattr(api, method)("/api/v1/plans/nope/entitlements", {"entitlements": {}}, format="json")
        assert r.status_code == 404 and r.json()["code"] == "plan_not_found"
    assert api.get("/api/v1/plans/nope/entitlements/seats").json()["code"] == "plan_not_found"
    assert api.delete("/api/v1/plans/nope/entitlements/seats").json()["code"] == "plan_not_found"
    r = api.patch("/api/v1/plans/startup/entitlements", {"entitlements": ["seats"]}, format="json")
    assert r.status_code == 400
