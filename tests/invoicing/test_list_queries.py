"""Lists render customers without a query per row (customer metadata and taxes are prefetched)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories.customers import CustomerFactory

pytestmark = pytest.mark.django_db


def _queries(client, path: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_customer_list_query_count_does_not_grow_with_rows(tenant):
    from catalog.models import CustomerTax, Tax

    tax = Tax.objects.create(organization=tenant.organization, code="vat", name="VAT", rate="20")
    for index in range(2):
        customer = CustomerFactory(organization=tenant.organization, external_id=f"q-{index}")
        CustomerTax.objects.create(customer=customer, tax=tax)
    tenant.client.get("/api/v1/customers")  # the key's first use records last_used_at
    few = _queries(tenant.client, "/api/v1/customers")
    for index in range(2, 12):
        customer = CustomerFactory(organization=tenant.organization, external_id=f"q-{index}")
        CustomerTax.objects.create(customer=customer, tax=tax)
    many = _queries(tenant.client, "/api/v1/customers")
    assert many == few
    body = tenant.client.get("/api/v1/customers").json()
    assert all(c["taxes"][0]["code"] == "vat" for c in body["customers"])


def test_invoice_list_query_count_does_not_grow_with_rows(tenant):
    from tests.factories.credits import make_one_off_invoice

    customers = [CustomerFactory(organization=tenant.organization, external_id=f"iq-{i}") for i in range(6)]
    for customer in customers[:2]:
        make_one_off_invoice(customer, 1000)
    tenant.client.get("/api/v1/invoices")
    few = _queries(tenant.client, "/api/v1/invoices")
    for customer in customers[2:]:
        make_one_off_invoice(customer, 1000)
        make_one_off_invoice(customer, 500)
    many = _queries(tenant.client, "/api/v1/invoices")
    assert many == few
    assert len(tenant.client.get("/api/v1/invoices").json()["invoices"]) == 10


def test_a_customers_invoice_list_takes_the_compiled_path(tenant):
    from tests.factories.credits import make_one_off_invoice

    customer = CustomerFactory(organization=tenant.organization, external_id="cq")
    for _ in range(2):
        make_one_off_invoice(customer, 1000)
    tenant.client.get("/api/v1/customers/cq/invoices")
    top = _queries(tenant.client, "/api/v1/invoices?external_customer_id=cq")
    scoped = _queries(tenant.client, "/api/v1/customers/cq/invoices?per_page=50")
    assert scoped == top + 1  # the customer is looked up first (its 404)
    for _ in range(5):
        make_one_off_invoice(customer, 500)
    assert _queries(tenant.client, "/api/v1/customers/cq/invoices") == scoped
    filtered = tenant.client.get("/api/v1/customers/cq/invoices", {"amount_from": 600}).json()
    assert filtered["meta"]["total_count"] == 2
