"""Invalid values are refused with Lago's 422, never stored as given (a repr, an impossible date)."""

from __future__ import annotations

import pytest

from billing_project.core.errors import ValidationFailure
from invoicing.credits.models import Wallet
from invoicing.models import Fee, Invoice
from tests.factories.catalog import AddOnFactory
from tests.factories.invoicing import make_customer

pytestmark = pytest.mark.django_db


def _wallet(api, customer, **extra):
    body = {"external_customer_id": customer.external_id, "rate_amount": "1", "currency": "USD", **extra}
    return api.post("/api/v1/wallets", {"wallet": body}, format="json")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("code", {"a": 1}),
        ("code", ["main"]),
        ("code", 7),
        ("code", "c" * 256),
        ("name", {"x": "y"}),
        ("name", True),
        ("transaction_name", {"x": 1}),
    ],
)
def test_a_wallet_text_field_that_is_not_text_is_refused(api, organization, field, value):
    customer = make_customer(organization, currency="USD")
    response = _wallet(api, customer, **{field: value})
    assert response.status_code == 422, response.json()
    assert response.json()["error_details"] == {field: ["value_is_invalid"]}
    assert not Wallet.objects.filter(organization=organization).exists()


def test_a_wallet_update_with_an_object_name_changes_nothing(api, organization):
    customer = make_customer(organization, currency="USD")
    wallet_id = _wallet(api, customer, name="Prepaid", code="main").json()["wallet"]["lago_id"]
    response = api.put(f"/api/v1/wallets/{wallet_id}", {"wallet": {"name": {"n": 1}}}, format="json")
    assert response.status_code == 422
    assert response.json()["error_details"] == {"name": ["value_is_invalid"]}
    wallet = Wallet.objects.get(pk=wallet_id)
    assert (wallet.name, wallet.code) == ("Prepaid", "main")


def test_a_recurring_rule_transaction_name_must_be_text(api, organization):
    customer = make_customer(organization, currency="USD")
    rule = {"trigger": "interval", "interval": "monthly", "granted_credits": "1", "transaction_name": {"t": 1}}
    response = _wallet(api, customer, recurring_transaction_rules=[rule])
    assert response.status_code == 422
    assert "recurring_transaction_rules.transaction_name" in response.json()["error_details"]


@pytest.mark.parametrize("value", ["1999-12-31T23:59:59Z", "2101-01-01T00:00:00Z", "2024-02-30T00:00:00Z", "soon"])
def test_a_wallet_expiration_outside_the_accepted_range_is_refused(api, organization, value):
    customer = make_customer(organization, currency="USD")
    response = _wallet(api, customer, expiration_at=value)
    assert response.status_code == 422
    assert "expiration_at" in response.json()["error_details"]


def _one_off(api, **fee):
    body = {"external_customer_id": "cust-1", "fees": [{"add_on_code": "setup", **fee}]}
    return api.post("/api/v1/invoices", {"invoice": body}, format="json")


@pytest.fixture
def add_on(organization):
    make_customer(organization, external_id="cust-1", currency="USD")
    return AddOnFactory(organization=organization, code="setup", amount_cents=1000, amount_currency="USD")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("from_datetime", "not-a-date"),
        ("from_datetime", "2024-02-30"),
        ("from_datetime", "2024-02-30T00:00:00Z"),
        ("to_datetime", "2024-13-01T00:00:00Z"),
        ("from_datetime", "0001-01-01T00:00:00Z"),
        ("to_datetime", "3000-01-01T00:00:00Z"),
        ("from_datetime", {"at": "2024-01-01"}),
        ("to_datetime", 20240101),
    ],
)
def test_a_one_off_fee_boundary_must_be_a_real_date_time(api, organization, add_on, field, value):
    response = _one_off(api, **{field: value})
    assert response.status_code == 422, response.json()
    assert response.json()["error_details"] == {f"fees.0.{field}": ["invalid_date"]}
    assert not Invoice.objects.filter(organization=organization).exists()


def test_a_one_off_fee_boundary_is_stored_in_rfc3339(api, organization, add_on):
    response = _one_off(api, from_datetime="2024-02-29T10:00:00+02:00", to_datetime="2024-03-01")
    assert response.status_code == 200, response.json()
    fee = response.json()["invoice"]["fees"][0]
    assert (fee["from_date"], fee["to_date"]) == ("2024-02-29T08:00:00Z", "2024-03-01T00:00:00Z")
    backwards = _one_off(api, from_datetime="2024-03-01T00:00:00Z", to_datetime="2024-02-01T00:00:00Z")
    assert backwards.status_code == 422
    assert backwards.json()["error_details"] == {"to_datetime": ["invalid_date"]}
    # The service refuses the same values when called without the API's serializer.
    from invoicing.services.one_off import invoice_create_one_off

    with pytest.raises(ValidationFailure) as refused:
        invoice_create_one_off(
            organization, external_customer_id="cust-1", fees=[{"add_on_code": "setup", "from_datetime": "2024-02-30"}]
        )
    assert refused.value.details == {"from_datetime": ["invalid_date"]}


@pytest.mark.parametrize(
    ("field", "value"),
    [("units", "1000000000001"), ("unit_amount_cents", str(10**15 + 1)), ("units", "-1")],
)
def test_one_off_amounts_are_bounded(api, organization, add_on, field, value):
    response = _one_off(api, **{field: value})
    assert response.status_code == 422, response.json()
    assert response.json()["error_details"] == {field: ["value_is_invalid"]}
    assert not Fee.objects.filter(organization=organization).exists()
