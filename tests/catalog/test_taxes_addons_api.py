from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog.models import AddOn, Tax
from tests.factories.catalog import AddOnFactory, PlanFactory, TaxFactory

pytestmark = pytest.mark.django_db


# --- taxes ------------------------------------------------------------------------------------


def test_tax_crud(api):
    created = api.post(
        "/api/v1/taxes",
        {"tax": {"name": "NY sales tax", "code": "ny", "rate": "8.875", "description": "d",
                 "applied_to_organization": False}},
        format="json",
    )  # fmt: skip
    assert created.status_code == 200, created.json()
    body = created.json()["tax"]
    assert b'"rate":8.875,' in created.content  # a JSON number with the decimal's digits, as Lago
    assert body["rate"] == 8.875
    assert (body["code"], body["name"], body["applied_to_organization"]) == ("ny", "NY sales tax", False)
    assert body["customers_count"] == 0 and body["plans_count"] == 0

    assert api.get("/api/v1/taxes/ny").json()["tax"]["lago_id"] == body["lago_id"]
    response = api.put("/api/v1/taxes/ny", {"tax": {"rate": 20, "code": "vat"}}, format="json")
    assert b'"rate":20.0,' in response.content
    assert (response.json()["tax"]["rate"], response.json()["tax"]["code"]) == (20.0, "vat")
    listing = api.get("/api/v1/taxes").json()
    assert [t["code"] for t in listing["taxes"]] == ["vat"] and listing["meta"]["total_count"] == 1

    deleted = api.delete("/api/v1/taxes/vat")
    assert deleted.status_code == 200 and deleted.json()["tax"]["code"] == "vat"
    assert not Tax.objects.exists()
    assert api.get("/api/v1/taxes/vat").json()["code"] == "tax_not_found"


def test_tax_rate_from_json_number_is_exact(api):
    response = api.post("/api/v1/taxes", {"tax": {"name": "t", "code": "t", "rate": 12.345}}, format="json")
    assert b'"rate":12.345,' in response.content


@pytest.mark.parametrize(
    ("payload", "errors"),
    [
        ({"code": "x", "rate": "10"}, {"name": ["value_is_mandatory"]}),
        ({"name": "x", "rate": "10"}, {"code": ["value_is_mandatory"]}),
        ({"name": "x", "code": "x"}, {"rate": ["value_is_mandatory"]}),
        ({"name": "x", "code": "x", "rate": "-1"}, {"rate": ["value_is_invalid"]}),
        ({"name": "x", "code": "x", "rate": "abc"}, {"rate": ["value_is_invalid"]}),
        ({"name": "x", "code": "x", "rate": "8.87551"}, {"rate": ["value_is_invalid"]}),
    ],
)
def test_tax_validation(api, payload, errors):
    response = api.post("/api/v1/taxes", {"tax": payload}, format="json")
    assert response.status_code == 422
    assert response.json()["error_details"] == errors


def test_tax_duplicate_code(api, organization):
    TaxFactory(organization=organization, code="vat")
    response = api.post("/api/v1/taxes", {"tax": {"name": "x", "code": "vat", "rate": "1"}}, format="json")
    assert response.json()["error_details"] == {"code": ["value_already_exist"]}


def test_tax_other_tenant(api, other_tenant, organization):
    TaxFactory(organization=organization, code="vat")
    assert other_tenant.client.get("/api/v1/taxes/vat").status_code == 404
    assert other_tenant.client.put("/api/v1/taxes/vat", {"tax": {"name": "x"}}, format="json").status_code == 404
    assert other_tenant.client.delete("/api/v1/taxes/vat").status_code == 404
    # the other tenant may use the same code
    created = other_tenant.client.post(
        "/api/v1/taxes", {"tax": {"name": "x", "code": "vat", "rate": "1"}}, format="json"
    )
    assert created.status_code == 200


def test_customer_tax_codes(api, organization):
    TaxFactory(organization=organization, code="vat", rate="20")
    TaxFactory(organization=organization, code="local", rate="1.5")
    response = api.post(
        "/api/v1/customers", {"customer": {"external_id": "c1", "tax_codes": ["vat", "local"]}}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert sorted(t["code"] for t in response.json()["customer"]["taxes"]) == ["local", "vat"]
    assert api.get("/api/v1/taxes/vat").json()["tax"]["customers_count"] == 1
    # sending tax_codes replaces the list; omitting it keeps it
    response = api.post("/api/v1/customers", {"customer": {"external_id": "c1", "tax_codes": ["local"]}}, format="json")
    assert [t["code"] for t in response.json()["customer"]["taxes"]] == ["local"]
    response = api.post("/api/v1/customers", {"customer": {"external_id": "c1", "name": "n"}}, format="json")
    assert [t["code"] for t in response.json()["customer"]["taxes"]] == ["local"]
    assert [t["code"] for t in api.get("/api/v1/customers/c1").json()["customer"]["taxes"]] == ["local"]


def test_customer_unknown_tax_code_is_404(api, other_tenant):
    TaxFactory(organization=other_tenant.organization, code="theirs")
    for codes in (["nope"], ["theirs"]):
        response = api.post("/api/v1/customers", {"customer": {"external_id": "c2", "tax_codes": codes}}, format="json")
        assert response.status_code == 404
        assert response.json()["code"] == "tax_not_found"


# --- add-ons ----------------------------------------------------------------------------------


def test_add_on_crud(api, organization):
    TaxFactory(organization=organization, code="vat")
    created = api.post(
        "/api/v1/add_ons",
        {"add_on": {"name": "Setup", "code": "setup", "amount_cents": 50000, "amount_currency": "EUR",
                    "invoice_display_name": "Setup fee", "description": "once", "tax_codes": ["vat"]}},
        format="json",
    )  # fmt: skip
    assert created.status_code == 200, created.json()
    body = created.json()["add_on"]
    assert (body["amount_cents"], body["amount_currency"], body["invoice_display_name"]) == (50000, "EUR", "Setup fee")
    assert [t["code"] for t in body["taxes"]] == ["vat"]
    updated = api.put("/api/v1/add_ons/setup", {"add_on": {"amount_cents": 100, "tax_codes": []}}, format="json")
    assert updated.json()["add_on"]["amount_cents"] == 100
    assert updated.json()["add_on"]["taxes"] == []
    assert updated.json()["add_on"]["name"] == "Setup"
    assert api.get("/api/v1/add_ons").json()["meta"]["total_count"] == 1
    assert api.delete("/api/v1/add_ons/setup").status_code == 200
    assert api.get("/api/v1/add_ons/setup").json()["code"] == "add_on_not_found"
    assert AddOn.objects.get(code="setup").deleted_at is not None


@pytest.mark.parametrize(
    ("payload", "errors"),
    [
        ({"code": "a", "amount_cents": 1, "amount_currency": "USD"}, {"name": ["value_is_mandatory"]}),
        ({"name": "a", "code": "a", "amount_currency": "USD"}, {"amount_cents": ["value_is_mandatory"]}),
        ({"name": "a", "code": "a", "amount_cents": -1, "amount_currency": "USD"}, {"amount_cents": ["value_is_invalid"]}),
        ({"name": "a", "code": "a", "amount_cents": 1, "amount_currency": "XXX1"},
         {"amount_currency": ["value_is_invalid"]}),
        ({"name": "a", "code": "a", "amount_cents": 1, "amount_currency": "ZZZ"},
         {"amount_currency": ["value_is_invalid"]}),
        ({"name": "a", "code": "a", "amount_cents": "1.5", "amount_currency": "USD"},
         {"amount_cents": ["value_is_invalid"]}),
    ],
)  # fmt: skip
def test_add_on_validation(api, payload, errors):
    response = api.post("/api/v1/add_ons", {"add_on": payload}, format="json")
    assert response.status_code == 422
    assert response.json()["error_details"] == errors


def test_add_on_unknown_tax_is_404(api):
    response = api.post(
        "/api/v1/add_ons",
        {"add_on": {"name": "a", "code": "a", "amount_cents": 1, "amount_currency": "USD", "tax_codes": ["x"]}},
        format="json",
    )
    assert response.status_code == 404 and response.json()["code"] == "tax_not_found"
    assert not AddOn.objects.exists()


def test_add_on_other_tenant(api, other_tenant, organization):
    AddOnFactory(organization=organization, code="setup")
    assert other_tenant.client.get("/api/v1/add_ons/setup").status_code == 404
    assert other_tenant.client.delete("/api/v1/add_ons/setup").status_code == 404
    assert other_tenant.client.get("/api/v1/add_ons").json()["add_ons"] == []


def test_deleting_a_tax_unlinks_it(api, organization):
    tax = TaxFactory(organization=organization, code="vat")
    plan = PlanFactory(organization=organization, code="p")
    plan.taxes.add(tax)
    assert api.get("/api/v1/taxes/vat").json()["tax"]["plans_count"] == 1
    api.delete("/api/v1/taxes/vat")
    assert api.get("/api/v1/plans/p").json()["plan"]["taxes"] == []


def test_catalog_routes_need_a_key(client):
    for path in ("/api/v1/taxes", "/api/v1/plans", "/api/v1/plans/p/charges", "/api/v1/billable_metrics",
                 "/api/v1/coupons", "/api/v1/applied_coupons", "/api/v1/add_ons"):  # fmt: skip
        response = client.get(path)
        assert response.status_code == 401, path
        assert response.json() == {"status": 401, "error": "Unauthorized"}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rate=st.decimals(min_value=0, max_value=999_999, places=4, allow_nan=False, allow_infinity=False))
def test_tax_rates_round_trip_exactly(api, rate):
    code = f"t{abs(hash(rate))}"
    response = api.post("/api/v1/taxes", {"tax": {"name": "t", "code": code, "rate": str(rate)}}, format="json")
    assert response.status_code == 200, response.json()
    # The JSON number's digits are the decimal's: read back as a Decimal, not through float.
    assert json.loads(response.content, parse_float=Decimal)["tax"]["rate"] == rate
    assert json.loads(api.get(f"/api/v1/taxes/{code}").content, parse_float=Decimal)["tax"]["rate"] == rate
    Tax.objects.filter(code=code).delete()
