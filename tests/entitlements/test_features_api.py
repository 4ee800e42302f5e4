"""`/features`: Lago's routes, bodies and errors."""

from __future__ import annotations

import pytest

from entitlements.models import EntitlementValue, Feature, Privilege
from tests.factories.entitlements import SEATS, catalog, make_feature
from tests.factories.invoicing import make_metric

pytestmark = pytest.mark.django_db


def feature_body(**extra):
    body = {
        "code": "seats",
        "name": "Number of seats",
        "description": "Users of the account",
        "privileges": [
            {"code": "max", "name": "Maximum", "value_type": "integer"},
            {"code": "root", "name": "Allow root user", "value_type": "boolean"},
            {"code": "provider", "value_type": "select", "config": {"select_options": ["google", "okta"]}},
            {"code": "note"},
        ],
    }
    body.update(extra)
    return body


def test_create_get_list_update_delete(api):
    r = api.post("/api/v1/features", {"feature": feature_body()}, format="json")
    assert r.status_code == 200, r.content
    feature = r.json()["feature"]
    assert feature["code"] == "seats" and feature["name"] == "Number of seats"
    assert feature["description"] == "Users of the account"
    assert feature["created_at"].endswith("Z")
    assert feature["privileges"] == [
        {"code": "max", "name": "Maximum", "value_type": "integer", "config": {}, "billable_metric_code": None},
        {
            "code": "root",
            "name": "Allow root user",
            "value_type": "boolean",
            "config": {},
            "billable_metric_code": None,
        },
        {
            "code": "provider",
            "name": None,
            "value_type": "select",
            "config": {"select_options": ["google", "okta"]},
            "billable_metric_code": None,
        },
        {"code": "note", "name": None, "value_type": "string", "config": {}, "billable_metric_code": None},
    ]

    assert api.get("/v1/features/seats").json()["feature"] == feature
    r = api.get("/api/v1/features")
    assert [f["code"] for f in r.json()["features"]] == ["seats"]
    assert r.json()["meta"]["total_count"] == 1

    # PUT is partial: privileges not sent stay; a sent one is renamed, its select options extended.
    r = api.put(
        "/api/v1/features/seats",
        {
            "feature": {
                "name": "Seats",
                "privileges": [
                    {"code": "provider", "name": "Provider", "config": {"select_options": ["azure"]}},
                    {"code": "min", "value_type": "integer"},
                ],
            }
        },
        format="json",
    )
    assert r.status_code == 200, r.content
    body = r.json()["feature"]
    assert body["name"] == "Seats" and body["description"] == "Users of the account"
    by_code = {p["code"]: p for p in body["privileges"]}
    assert list(by_code) == ["max", "root", "provider", "note", "min"]
    assert by_code["provider"]["name"] == "Provider"
    assert by_code["provider"]["config"] == {"select_options": ["google", "okta", "azure"]}

    r = api.delete("/api/v1/features/seats/privileges/note")
    assert r.status_code == 200
    assert [p["code"] for p in r.json()["feature"]["privileges"]] == ["max", "root", "provider", "min"]
    assert api.delete("/api/v1/features/seats/privileges/note").json()["code"] == "privilege_not_found"

    r = api.delete("/api/v1/features/seats")
    assert r.status_code == 200 and r.json()["feature"]["code"] == "seats"
    r = api.get("/api/v1/features/seats")
    assert r.status_code == 404
    assert r.json() == {"status": 404, "error": "Not Found", "code": "feature_not_found"}
    # the code can be reused once deleted
    assert api.post("/api/v1/features", {"feature": feature_body()}, format="json").status_code == 200


def test_search_and_pages(api, organization):
    make_feature(organization, "seats", name="Seats")
    make_feature(organization, "sso", name="Single sign-on", description="okta or google")
    make_feature(organization, "api", name="API access")
    r = api.get("/api/v1/features?search_term=sign")
    assert [f["code"] for f in r.json()["features"]] == ["sso"]
    r = api.get("/api/v1/features?search_term=GOOGLE")
    assert [f["code"] for f in r.json()["features"]] == ["sso"]
    r = api.get("/api/v1/features?per_page=2&page=2")
    assert [f["code"] for f in r.json()["features"]] == ["api"]
    assert r.json()["meta"] == {
        "current_page": 2,
        "next_page": None,
        "prev_page": 1,
        "total_pages": 2,
        "total_count": 3,
    }


@pytest.mark.parametrize(
    ("body", "details"),
    [
        ({"code": ""}, {"code": ["value_is_mandatory"]}),
        ({"code": "x", "privileges": [{"code": "a"}, {"code": "a"}]}, {"privilege.code": ["value_is_duplicated"]}),
        (
            {"code": "x", "privileges": [{"code": "a", "value_type": "float"}]},
            {"privilege.value_type": ["value_is_invalid"]},
        ),
        (
            {"code": "x", "privileges": [{"code": "a", "value_type": "select"}]},
            {"privilege.config": ["invalid_format"]},
        ),
        (
            {"code": "x", "privileges": [{"code": "a", "value_type": "select", "config": {"select_options": []}}]},
            {"privilege.config": ["invalid_format"]},
        ),
        (
            {"code": "x", "privileges": [{"code": "a", "value_type": "integer", "config": {"select_options": ["a"]}}]},
            {"privilege.config": ["invalid_format"]},
        ),
        ({"code": "x", "description": "d" * 601}, {"description": ["value_is_too_long"]}),
    ],
)
def test_create_validation_errors(api, body, details):
    r = api.post("/api/v1/features", {"feature": body}, format="json")
    assert r.status_code == 422, r.content
    assert r.json() == {
        "status": 422,
        "error": "Unprocessable Entity",
        "code": "validation_errors",
        "error_details": details,
    }
    assert not Feature.objects.exists()


def test_duplicate_code_and_missing_root(api, organization):
    make_feature(organization, "seats")
    r = api.post("/api/v1/features", {"feature": {"code": "seats"}}, format="json")
    assert r.status_code == 422 and r.json()["error_details"] == {"code": ["value_already_exist"]}
    r = api.post("/api/v1/features", {"code": "seats"}, format="json")
    assert r.status_code == 400 and r.json()["error"].startswith("BadRequest")
    r = api.put("/api/v1/features/nope", {"feature": {"name": "x"}}, format="json")
    assert r.status_code == 404 and r.json()["code"] == "feature_not_found"
    assert api.delete("/api/v1/features/nope").json()["code"] == "feature_not_found"
    assert api.delete("/api/v1/features/nope/privileges/max").json()["code"] == "feature_not_found"


def test_usage_limit_privilege(api, organization):
    make_metric(organization, code="api_calls")
    body = {
        "code": "api",
        "privileges": [{"code": "calls", "value_type": "integer", "billable_metric_code": "api_calls"}],
    }
    r = api.post("/api/v1/features", {"feature": body}, format="json")
    assert r.status_code == 200, r.content
    assert r.json()["feature"]["privileges"][0]["billable_metric_code"] == "api_calls"
    body = {
        "code": "api2",
        "privileges": [{"code": "calls", "value_type": "string", "billable_metric_code": "api_calls"}],
    }
    r = api.post("/api/v1/features", {"feature": body}, format="json")
    assert r.status_code == 422
    assert r.json()["error_details"] == {"privilege.billable_metric_code": ["value_type_must_be_integer"]}
    body = {"code": "api3", "privileges": [{"code": "calls", "value_type": "integer", "billable_metric_code": "nope"}]}
    r = api.post("/api/v1/features", {"feature": body}, format="json")
    assert r.status_code == 404 and r.json()["code"] == "billable_metric_not_found"


def test_deleting_a_feature_or_privilege_removes_it_from_plans(api, organization):
    plan = catalog(organization)
    api.delete("/api/v1/features/seats/privileges/root")
    r = api.get(f"/api/v1/plans/{plan.code}/entitlements/seats")
    assert [p["code"] for p in r.json()["entitlement"]["privileges"]] == ["max", "max_admins"]
    api.delete("/api/v1/features/seats")
    r = api.get(f"/api/v1/plans/{plan.code}/entitlements")
    assert [e["code"] for e in r.json()["entitlements"]] == ["sso"]
    assert not EntitlementValue.live.filter(privilege__feature__code="seats").exists()
    assert not Privilege.live.filter(feature__code="seats").exists()


def test_factory_privileges_shape(organization):
    feature = make_feature(organization, "seats", SEATS)
    assert [p.code for p in getattr(feature, "live_privileges")]  # noqa: B009 == ["max", "max_admins", "root"]
