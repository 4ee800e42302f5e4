"""Every error under the API is JSON in Lago's shape, and never a 500 for client input."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_malformed_json_is_400(tenant):
    response = tenant.client.generic("POST", "/api/v1/customers", "{not json", content_type="application/json")
    assert response.status_code == 400
    body = response.json()
    assert body["status"] == 400
    assert body["error"].startswith("BadRequest")


def test_non_object_body_is_400(tenant):
    for raw in ("[]", '"text"', "123", "null"):
        response = tenant.client.generic("POST", "/api/v1/customers", raw, content_type="application/json")
        assert response.status_code == 400, raw
        assert response.json()["status"] == 400


def test_missing_root_key_is_400(tenant):
    response = tenant.client.post("/api/v1/customers", {"external_id": "x"}, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "status": 400,
        "error": "BadRequest: param is missing or the value is empty or invalid: customer",
    }


def test_validation_error_shape(tenant):
    response = tenant.client.post("/api/v1/customers", {"customer": {"name": "no id"}}, format="json")
    assert response.status_code == 422
    assert response.json() == {
        "status": 422,
        "error": "Unprocessable Entity",
        "code": "validation_errors",
        "error_details": {"external_id": ["value_is_mandatory"]},
    }


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"external_id": "x", "net_payment_term": "soon"}, "net_payment_term"),
        ({"external_id": "x", "net_payment_term": -1}, "net_payment_term"),
        ({"external_id": "x", "metadata": "nope"}, "metadata"),
        ({"external_id": "x", "billing_configuration": [1, 2]}, "billing_configuration"),
        ({"external_id": "x", "name": "n" * 10_000}, "name"),
        ({"external_id": "x" * 300}, "external_id"),
        ({"external_id": {"nested": True}}, "external_id"),
        ({"external_id": "x", "customer_type": "robot"}, "customer_type"),
        ({"external_id": "x", "email": "not-an-email"}, "email"),
        ({"external_id": "x", "country": "France"}, "country"),
        (
            {"external_id": "x", "billing_configuration": {"payment_provider": "paypal"}},
            "billing_configuration.payment_provider",
        ),
    ],
)
def test_wrong_types_and_huge_values_are_422_naming_the_field(tenant, payload, field):
    response = tenant.client.post("/api/v1/customers", {"customer": payload}, format="json")
    assert response.status_code == 422, response.content
    assert field in response.json()["error_details"]
    assert not tenant.organization.customers.exists()


def test_unknown_fields_are_ignored(tenant):
    response = tenant.client.post(
        "/api/v1/customers", {"customer": {"external_id": "x", "favourite_colour": "blue"}, "extra": 1}, format="json"
    )
    assert response.status_code == 200
    assert "favourite_colour" not in response.json()["customer"]


def test_unknown_routes_are_json_404(tenant):
    for path in ("/api/v1/does-not-exist", "/v1/nope/deeper", "/api/v2/customers", "/api/v1/customers/"):
        response = tenant.client.get(path)
        assert response.status_code == 404, path
        assert response.json()["status"] == 404


def test_method_not_allowed_is_json(tenant):
    response = tenant.client.patch("/api/v1/customers", {}, format="json")
    assert response.status_code == 405
    assert response.json()["status"] == 405


def test_no_redirect_on_trailing_slash(tenant):
    response = tenant.client.get("/api/v1/customers/")
    assert response.status_code == 404  # never a 301: Lago's client does not follow redirects
