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
