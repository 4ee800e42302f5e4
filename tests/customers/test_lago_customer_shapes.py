"""The customer and organization objects as Lago renders them: unset text is `null` (Lago's spec
types the address fields `string | null` and `country` an enum or null; `""` is neither), and
`billing_configuration` carries the provider keys only when there is a provider."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

ADDRESS = ("address_line1", "address_line2", "city", "zipcode", "state", "country")
OTHER_TEXT = ("name", "firstname", "lastname", "email", "phone", "url", "logo_url", "legal_name", "legal_number",
              "tax_identification_number")  # fmt: skip
PROVIDER_KEYS = {"provider_customer_id", "sync", "sync_with_provider", "provider_payment_methods"}


def test_unset_address_and_text_fields_are_null(api):
    body = api.post("/api/v1/customers", {"customer": {"external_id": "bare"}}, format="json").json()["customer"]
    for field in ADDRESS + OTHER_TEXT:
        assert body[field] is None, field
    assert body["shipping_address"] == dict.fromkeys(ADDRESS)
    for shown in (
        api.get("/api/v1/customers/bare").json()["customer"],
        api.get("/api/v1/customers").json()["customers"][0],
    ):
        assert all(shown[field] is None for field in ADDRESS), shown


def test_address_fields_cleared_with_empty_text_are_null_and_set_ones_kept(api):
    payload = {"external_id": "c", "city": "Paris", "country": "fr", "zipcode": "75001", "address_line1": "1 rue",
               "shipping_address": {"city": "Lyon", "country": "FR", "state": ""}}  # fmt: skip
    body = api.post("/api/v1/customers", {"customer": payload}, format="json").json()["customer"]
    assert (body["city"], body["country"], body["zipcode"], body["address_line1"]) == ("Paris", "FR", "75001", "1 rue")
    assert body["state"] is None and body["address_line2"] is None
    assert body["shipping_address"] == {**dict.fromkeys(ADDRESS), "city": "Lyon", "country": "FR"}
    cleared = api.post("/api/v1/customers", {"customer": {"external_id": "c", "city": ""}}, format="json").json()
    assert cleared["customer"]["city"] is None and cleared["customer"]["country"] == "FR"


def test_billing_configuration_without_a_provider_has_no_provider_keys(api):
    body = api.post("/api/v1/customers", {"customer": {"external_id": "np"}}, format="json").json()["customer"]
    configuration = body["billing_configuration"]
    assert set(configuration) == {
        "invoice_grace_period",
        "payment_provider",
        "payment_provider_code",
        "document_locale",
    }
    assert configuration["payment_provider"] is None and configuration["payment_provider_code"] is None


def test_billing_configuration_with_a_provider_has_its_keys(api):
    payload = {"external_id": "wp", "billing_configuration": {"payment_provider": "stripe", "provider_customer_id": "cus_1",
               "sync_with_provider": True, "provider_payment_methods": ["card"]}}  # fmt: skip
    configuration = api.post("/api/v1/customers", {"customer": payload}, format="json").json()["customer"][
        "billing_configuration"
    ]
    assert set(configuration) >= PROVIDER_KEYS
    assert (configuration["payment_provider"], configuration["provider_customer_id"]) == ("stripe", "cus_1")
    assert configuration["sync_with_provider"] is True and configuration["provider_payment_methods"] == ["card"]


def test_invoice_customer_follows_the_same_rules(api, organization):
    from tests.factories.credits import make_one_off_invoice
    from tests.factories.customers import CustomerFactory

    customer = CustomerFactory(organization=organization, external_id="inv", currency="USD", country="", city="")
    invoice = make_one_off_invoice(customer, 500)
    shown = api.get(f"/api/v1/invoices/{invoice.id}").json()["invoice"]["customer"]
    assert shown["country"] is None and shown["city"] is None
    assert not PROVIDER_KEYS & set(shown["billing_configuration"])


def test_organization_unset_address_is_null(api, organization):
    organization.country = ""
    organization.city = ""
    organization.save()
    body = api.put("/api/v1/organizations", {"organization": {"email": "ops@acme.test"}}, format="json").json()
    assert body["organization"]["country"] is None and body["organization"]["city"] is None
    assert body["organization"]["email"] == "ops@acme.test"
