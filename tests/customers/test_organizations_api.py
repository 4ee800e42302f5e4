from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_update_organization_partially(tenant):
    response = tenant.client.put(
        "/api/v1/organizations",
        {
            "organization": {
                "default_currency": "EUR",
                "timezone": "Asia/Tokyo",
                "net_payment_term": 30,
                "document_numbering": "per_organization",
                "document_number_prefix": "acm",
                "billing_configuration": {"invoice_grace_period": 5, "invoice_footer": "Thanks"},
            }
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()["organization"]
    assert body["name"] == tenant.organization.name
    assert body["default_currency"] == "EUR"
    assert body["timezone"] == "Asia/Tokyo"
    assert body["net_payment_term"] == 30
    assert body["document_numbering"] == "per_organization"
    assert body["document_number_prefix"] == "ACM"
    assert body["billing_configuration"] == {
        "invoice_footer": "Thanks",
        "invoice_grace_period": 5,
        "document_locale": "en",
    }
    assert "created_at" in body
    tenant.organization.refresh_from_db()
    assert tenant.organization.invoice_grace_period == 5
    # Keys not sent stay as they are.
    again = tenant.client.put(
        "/api/v1/organizations", {"organization": {"email": "ops@acme.test"}}, format="json"
    ).json()
    assert again["organization"]["default_currency"] == "EUR"


def test_update_organization_validation(tenant):
    response = tenant.client.put(
        "/api/v1/organizations",
        {"organization": {"default_currency": "EURO", "timezone": "Nowhere/City", "document_number_prefix": "x" * 11}},
        format="json",
    )
    assert response.status_code == 422
    details = response.json()["error_details"]
    assert set(details) == {"default_currency", "timezone", "document_number_prefix"}
    tenant.organization.refresh_from_db()
    assert tenant.organization.default_currency == "USD"


def test_each_key_sees_its_own_organization(tenant, other_tenant):
    assert tenant.client.get("/api/v1/organizations").json()["organization"]["name"] == tenant.organization.name
    assert other_tenant.client.get("/api/v1/organizations").json()["organization"]["name"] == "Other Org"


def test_legacy_webhook_url_registers_an_endpoint_once(tenant):
    payload = {"organization": {"webhook_url": "https://hooks.example.test/bxb"}}
    body = tenant.client.put("/api/v1/organizations", payload, format="json").json()["organization"]
    assert body["webhook_url"] == "https://hooks.example.test/bxb"
    assert body["webhook_urls"] == ["https://hooks.example.test/bxb"]
    again = tenant.client.put("/api/v1/organizations", payload, format="json").json()["organization"]
    assert again["webhook_urls"] == ["https://hooks.example.test/bxb"]
    bad = tenant.client.put("/api/v1/organizations", {"organization": {"webhook_url": "ftp://nope"}}, format="json")
    assert bad.status_code == 422
    assert "webhook_url" in bad.json()["error_details"]
