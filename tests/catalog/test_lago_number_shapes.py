"""Tax `rate` and plan `trial_period` are JSON numbers wherever Lago's objects carry them
(Lago's spec types both `number`; its Go client cannot decode a string into its float fields).

The digits are the decimal's: the response text is read back with `parse_float=Decimal`.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from drf_spectacular.generators import SchemaGenerator

from billing_project.core.money import decimal_number
from tests.factories.invoicing import make_metric

pytestmark = pytest.mark.django_db


def _numbers(document: Any, key: str, found: list[Any], *, under: str | None = None, parent: str = "") -> list[Any]:
    """Every value of `key` in the document (inside a `under` list when given)."""
    if isinstance(document, dict):
        for name, value in document.items():
            if name == key and (under is None or parent == under):
                found.append(value)
            _numbers(value, key, found, under=under, parent=name)
    elif isinstance(document, list):
        for item in document:
            _numbers(item, key, found, under=under, parent=parent)
    return found


def _exact(response) -> dict[str, Any]:
    assert response.status_code == 200, response.content
    return json.loads(response.content, parse_float=Decimal)


def _catalog(api, organization) -> None:
    metric = make_metric(organization, "calls")
    for code, rate in (("vat", "20"), ("ny", "8.875"), ("tiny", "0.0001")):
        assert (
            api.post("/api/v1/taxes", {"tax": {"name": code, "code": code, "rate": rate}}, format="json").status_code
            == 200
        )
    api.post(
        "/api/v1/add_ons",
        {
            "add_on": {
                "name": "Setup",
                "code": "setup",
                "amount_cents": 100,
                "amount_currency": "USD",
                "tax_codes": ["ny"],
            }
        },
        format="json",
    )
    plan = {
        "name": "P", "code": "p", "interval": "monthly", "amount_cents": 100, "amount_currency": "USD",
        "trial_period": "14.5", "tax_codes": ["vat"],
        "minimum_commitment": {"amount_cents": 1000, "tax_codes": ["tiny"]},
        "charges": [{"billable_metric_id": str(metric.id), "code": "c", "charge_model": "standard",
                     "properties": {"amount": "1"}, "tax_codes": ["ny"]}],
    }  # fmt: skip
    assert api.post("/api/v1/plans", {"plan": plan}, format="json").status_code == 200


@pytest.fixture
def catalog_api(api, organization):
    _catalog(api, organization)
    return api


EXPECTED_RATES = {Decimal("20"), Decimal("8.875"), Decimal("0.0001")}


def test_every_operation_embedding_a_tax_renders_its_rate_as_a_number(catalog_api):
    api = catalog_api
    customer = {"customer": {"external_id": "c1", "currency": "USD", "tax_codes": ["vat"]}}
    subscription = {"subscription": {"external_customer_id": "c1", "plan_code": "p", "external_id": "s1"}}
    operations = [
        ("post", "/api/v1/taxes", {"tax": {"name": "x", "code": "x", "rate": "5.5"}}, "rate", None),
        ("get", "/api/v1/taxes", None, "rate", None),
        ("get", "/api/v1/taxes/vat", None, "rate", None),
        ("put", "/api/v1/taxes/x", {"tax": {"rate": "6.25"}}, "rate", None),
        ("delete", "/api/v1/taxes/x", None, "rate", None),
        ("get", "/api/v1/add_ons", None, "rate", "taxes"),
        ("get", "/api/v1/add_ons/setup", None, "rate", "taxes"),
        ("put", "/api/v1/add_ons/setup", {"add_on": {"name": "Setup!"}}, "rate", "taxes"),
        ("get", "/api/v1/plans", None, "rate", "taxes"),
        ("get", "/api/v1/plans/p", None, "rate", "taxes"),
        ("put", "/api/v1/plans/p", {"plan": {"name": "P2"}}, "rate", "taxes"),
        ("get", "/api/v1/plans/p/charges", None, "rate", "taxes"),
        ("get", "/api/v1/plans/p/charges/c", None, "rate", "taxes"),
        ("put", "/api/v1/plans/p/charges/c", {"charge": {"invoice_display_name": "C"}}, "rate", "taxes"),
        ("post", "/api/v1/customers", customer, "rate", "taxes"),
        ("get", "/api/v1/customers/c1", None, "rate", "taxes"),
        ("get", "/api/v1/customers", None, "rate", "taxes"),
        ("post", "/api/v1/subscriptions", subscription, "rate", "taxes"),
        ("get", "/api/v1/subscriptions/s1", None, "rate", "taxes"),
        ("put", "/api/v1/subscriptions/s1", {"subscription": {"name": "S"}}, "rate", "taxes"),
        ("delete", "/api/v1/add_ons/setup", None, "rate", "taxes"),
    ]
    for method, path, body, key, under in operations:
        response = getattr(api, method)(path, body, format="json") if body else getattr(api, method)(path)
        document = _exact(response)
        rates = _numbers(document, key, [], under=under)
        assert rates, (method, path)
        for rate in rates:
            assert isinstance(rate, Decimal), (method, path, rate)  # a JSON number, read with its digits
        if under is not None:
            assert set(rates) <= EXPECTED_RATES, (method, path, rates)
    assert json.loads(api.get("/api/v1/taxes/ny").content, parse_float=Decimal)["tax"]["rate"] == Decimal("8.875")


def test_every_operation_embedding_a_plan_renders_trial_period_as_a_number(catalog_api):
    api = catalog_api
    api.post("/api/v1/customers", {"customer": {"external_id": "c1", "currency": "USD"}}, format="json")
    subscription = {"subscription": {"external_customer_id": "c1", "plan_code": "p", "external_id": "s1"}}
    operations = [
        ("get", "/api/v1/plans", None),
        ("get", "/api/v1/plans/p", None),
        ("put", "/api/v1/plans/p", {"plan": {"trial_period": 3}}),
        ("post", "/api/v1/subscriptions", subscription),
        ("get", "/api/v1/subscriptions/s1", None),
        ("put", "/api/v1/subscriptions/s1", {"subscription": {"name": "S"}}),
        ("delete", "/api/v1/subscriptions/s1", None),
    ]
    for method, path, body in operations:
        response = getattr(api, method)(path, body, format="json") if body else getattr(api, method)(path)
        periods = _numbers(_exact(response), "trial_period", [])
        assert periods and all(isinstance(p, Decimal) for p in periods), (method, path, periods)
    plan = json.loads(api.get("/api/v1/plans/p").content, parse_float=Decimal)["plan"]
    assert plan["trial_period"] == Decimal("3")
    created = api.post(
        "/api/v1/plans",
        {"plan": {"name": "Q", "code": "q", "interval": "monthly", "amount_cents": 0, "amount_currency": "USD"}},
        format="json",
    )
    assert b'"trial_period":0.0,' in created.content  # Lago's float column renders 0.0


def test_schema_says_number_for_rate_and_trial_period():
    components = SchemaGenerator().get_schema(request=None, public=True)["components"]["schemas"]
    assert components["TaxOutput"]["properties"]["rate"]["type"] == "number"
    assert components["TaxSummary"]["properties"]["rate"]["type"] == "number"
    assert components["PlanOutput"]["properties"]["trial_period"]["type"] == "number"


@pytest.mark.parametrize(
    ("value", "text"),
    [("20.0000", "20.0"), ("8.875", "8.875"), ("0", "0.0"), ("14.50000", "14.5"), ("9999999.99999", "9999999.99999")],
)
def test_decimal_number_keeps_the_digits(value, text):
    assert json.dumps(decimal_number(Decimal(value))) == text


@pytest.mark.parametrize("value", ["1.0000000000000001", "12345678901234567", "NaN", "Infinity"])
def test_decimal_number_refuses_what_a_double_cannot_render_exactly(value):
    with pytest.raises(ValueError):
        decimal_number(Decimal(value))
