from __future__ import annotations

import pytest

from customers.models import Customer
from tests.factories.customers import CustomerFactory

pytestmark = pytest.mark.django_db


def test_upsert_creates_then_updates_by_external_id(tenant):
    payload = {"customer": {"external_id": "c-1", "name": "Acme", "currency": "EUR", "timezone": "Europe/Paris"}}
    created = tenant.client.post("/api/v1/customers", payload, format="json")
    assert created.status_code == 200
    body = created.json()["customer"]
    assert body["external_id"] == "c-1"
    assert body["applicable_timezone"] == "Europe/Paris"
    assert body["metadata"] == []
    assert body["sequential_id"] == 1

    updated = tenant.client.post(
        "/api/v1/customers", {"customer": {"external_id": "c-1", "name": "Acme 2"}}, format="json"
    )
    assert updated.status_code == 200
    again = updated.json()["customer"]
    assert again["lago_id"] == body["lago_id"]
    assert again["name"] == "Acme 2"
    assert again["currency"] == "EUR"  # absent keys are left alone
    assert Customer.objects.filter(organization=tenant.organization).count() == 1


def test_other_tenant_gets_404(tenant, other_tenant):
    customer = CustomerFactory(organization=tenant.organization)
    response = other_tenant.client.get(f"/api/v1/customers/{customer.external_id}")
    assert response.status_code == 404
    assert response.json() == {"status": 404, "error": "Not Found", "code": "customer_not_found"}


def test_tenant_isolation_on_read_update_and_delete(tenant, other_tenant):
    customer = CustomerFactory(organization=tenant.organization, external_id="shared-id", name="Original")
    assert other_tenant.client.get("/api/v1/customers/shared-id").status_code == 404
    assert other_tenant.client.delete("/api/v1/customers/shared-id").status_code == 404
    # An upsert with the same external id in another tenant creates that tenant's own customer.
    response = other_tenant.client.post(
        "/api/v1/customers", {"customer": {"external_id": "shared-id", "name": "Theirs"}}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["customer"]["lago_id"] != str(customer.id)
    customer.refresh_from_db()
    assert customer.name == "Original"
    assert customer.deleted_at is None
    listing = other_tenant.client.get("/api/v1/customers").json()
    assert [c["name"] for c in listing["customers"]] == ["Theirs"]


def test_metadata_is_a_list_replaced_on_upsert(tenant):
    first = {
        "external_id": "m-1",
        "metadata": [{"key": "a", "value": "1"}, {"key": "b", "value": "2", "display_in_invoice": True}],
    }
    body = tenant.client.post("/api/v1/customers", {"customer": first}, format="json").json()["customer"]
    assert [(m["key"], m["value"], m["display_in_invoice"]) for m in body["metadata"]] == [
        ("a", "1", False),
        ("b", "2", True),
    ]
    assert all("lago_id" in m and "created_at" in m for m in body["metadata"])
    second = {"external_id": "m-1", "metadata": [{"key": "b", "value": "3"}]}
    body = tenant.client.post("/api/v1/customers", {"customer": second}, format="json").json()["customer"]
    assert [(m["key"], m["value"]) for m in body["metadata"]] == [("b", "3")]
    duplicated = {"external_id": "m-1", "metadata": [{"key": "x", "value": "1"}, {"key": "x", "value": "2"}]}
    response = tenant.client.post("/api/v1/customers", {"customer": duplicated}, format="json")
    assert response.status_code == 422
    assert response.json()["error_details"] == {"metadata": ["duplicated_key"]}


def test_billing_configuration_and_timezone_fallback(tenant):
    tenant.organization.timezone = "Europe/Berlin"
    tenant.organization.save()
    payload = {
        "external_id": "b-1",
        "billing_configuration": {
            "invoice_grace_period": 3,
            "payment_provider": "stripe",
            "provider_customer_id": "cus_1",
            "sync_with_provider": True,
        },
        "shipping_address": {"city": "Lyon", "country": "FR"},
    }
    body = tenant.client.post("/api/v1/customers", {"customer": payload}, format="json").json()["customer"]
    assert body["applicable_timezone"] == "Europe/Berlin"
    assert body["timezone"] is None
    assert body["billing_configuration"]["invoice_grace_period"] == 3
    assert body["billing_configuration"]["payment_provider"] == "stripe"
    assert body["billing_configuration"]["sync_with_provider"] is True
    assert body["shipping_address"]["city"] == "Lyon"


def test_soft_delete_keeps_the_row_and_frees_the_external_id(tenant):
    tenant.client.post("/api/v1/customers", {"customer": {"external_id": "d-1", "name": "Gone"}}, format="json")
    response = tenant.client.delete("/api/v1/customers/d-1")
    assert response.status_code == 200
    assert response.json()["customer"]["external_id"] == "d-1"
    assert tenant.client.get("/api/v1/customers/d-1").status_code == 404
    assert tenant.client.delete("/api/v1/customers/d-1").status_code == 404
    assert Customer.objects.filter(organization=tenant.organization, external_id="d-1").count() == 1
    again = tenant.client.post("/api/v1/customers", {"customer": {"external_id": "d-1"}}, format="json")
    assert again.status_code == 200
    assert Customer.objects.filter(organization=tenant.organization, external_id="d-1").count() == 2
    assert again.json()["customer"]["sequential_id"] == 2


def test_pagination_meta(tenant):
    for index in range(5):
        CustomerFactory(organization=tenant.organization, external_id=f"p-{index}")
    page1 = tenant.client.get("/api/v1/customers?per_page=2").json()
    assert page1["meta"] == {"current_page": 1, "next_page": 2, "prev_page": None, "total_pages": 3, "total_count": 5}
    page3 = tenant.client.get("/api/v1/customers?per_page=2&page=3").json()
    assert page3["meta"] == {"current_page": 3, "next_page": None, "prev_page": 2, "total_pages": 3, "total_count": 5}
    assert len(page3["customers"]) == 1
    beyond = tenant.client.get("/api/v1/customers?per_page=2&page=9").json()
    assert beyond["customers"] == []
    garbage = tenant.client.get("/api/v1/customers?per_page=abc&page=-4")
    assert garbage.status_code == 422
    assert garbage.json()["error_details"] == {"page": ["value_is_invalid"], "per_page": ["value_is_invalid"]}
    capped = tenant.client.get("/api/v1/customers?per_page=100000").json()
    assert capped["meta"]["current_page"] == 1 and len(capped["customers"]) == 5


def test_empty_list_meta(tenant):
    assert tenant.client.get("/api/v1/customers").json() == {
        "customers": [],
        "meta": {"current_page": 0, "next_page": None, "prev_page": None, "total_pages": 0, "total_count": 0},
    }


def test_list_filters(tenant):
    CustomerFactory(organization=tenant.organization, external_id="f-1", name="Alpha Inc", currency="EUR", country="FR")
    CustomerFactory(organization=tenant.organization, external_id="f-2", name="Beta LLC", currency="USD", country="US")

    def ids(query):
        return sorted(c["external_id"] for c in tenant.client.get(f"/api/v1/customers?{query}").json()["customers"])

    assert ids("external_id=f-1") == ["f-1"]
    assert ids("search_term=beta") == ["f-2"]
    assert ids("currencies%5B%5D=EUR") == ["f-1"]
    assert ids("countries%5B%5D=US&countries%5B%5D=FR") == ["f-1", "f-2"]


def test_currency_is_a_default_that_may_change_whatever_was_billed(tenant):
    """Lago's multi-currency customers: `currency` is the default (the first currency used), not a
    lock; subscriptions, wallets and invoices keep their own."""
    from tests.factories.credits import make_one_off_invoice

    tenant.client.post("/api/v1/customers", {"customer": {"external_id": "cur-1", "currency": "USD"}}, format="json")
    customer = Customer.objects.get(organization=tenant.organization, external_id="cur-1")
    invoice = make_one_off_invoice(customer, 1000, currency="USD")
    response = tenant.client.post(
        "/api/v1/customers", {"customer": {"external_id": "cur-1", "currency": "EUR"}}, format="json"
    )
    assert response.status_code == 200 and response.json()["customer"]["currency"] == "EUR"
    invoice.refresh_from_db()
    assert invoice.currency == "USD"
    bad = tenant.client.post(
        "/api/v1/customers", {"customer": {"external_id": "cur-1", "currency": "EURO"}}, format="json"
    )
    assert bad.status_code == 422 and bad.json()["error_details"] == {"currency": ["value_is_invalid"]}
