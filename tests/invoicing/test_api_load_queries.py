"""Statements per request of the routes in the API load mix (bench/api_load.py): a customer's
invoice list, current usage and the customer upsert. Counted without the API-key lookup, which
another layer may cache; each test also checks the answer, so a cheaper route is still a right one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.models import CustomerTax
from tests.factories.credits import make_one_off_invoice
from tests.factories.customers import CustomerFactory, CustomerMetadataFactory
from tests.factories.invoicing import make_tax

pytestmark = pytest.mark.django_db


def _route_statements(queries: list[dict]) -> list[str]:
    """The statements of the route itself: not the key lookup nor its last-use stamp."""
    return [q["sql"] for q in queries if "customers_apikey" not in q["sql"]]


def _get(client, path: str) -> tuple[dict, list[str]]:
    client.get(path)  # the key's first use records last_used_at; caches warm up
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    assert response.status_code == 200, response.content
    return response.json(), _route_statements(captured.captured_queries)


# --- GET /invoices?external_customer_id=&per_page= ------------------------------------------------


def test_a_customers_invoice_list_costs_six_statements_whatever_the_page_holds(tenant, other_tenant):
    organization = tenant.organization
    customer = CustomerFactory(organization=organization, external_id="acme")
    CustomerMetadataFactory(customer=customer, key="crm", value="42")
    CustomerTax.objects.create(customer=customer, tax=make_tax(organization, "10", code="vat"))
    invoices = [make_one_off_invoice(customer, 1000 + i) for i in range(3)]
    # Another tenant's customer with the same external id: never listed.
    make_one_off_invoice(CustomerFactory(organization=other_tenant.organization, external_id="acme"), 999)

    few, few_sql = _get(tenant.client, "/api/v1/invoices?external_customer_id=acme&per_page=20")
    for i in range(3, 24):
        invoices.append(make_one_off_invoice(customer, 1000 + i))
    many, many_sql = _get(tenant.client, "/api/v1/invoices?external_customer_id=acme&per_page=20")

    # count, page, customer metadata, customer taxes (links + taxes), applied taxes of the page.
    assert len(many_sql) == len(few_sql) <= 6, many_sql
    assert sum("COUNT(*)" in sql for sql in many_sql) == 1
    assert sum('FROM "invoicing_invoiceappliedtax"' in sql for sql in many_sql) == 1
    assert sum('FROM "customers_customermetadata"' in sql for sql in many_sql) == 1

    assert few["meta"] == {"current_page": 1, "next_page": None, "prev_page": None, "total_pages": 1, "total_count": 3}
    assert many["meta"]["total_count"] == 24 and many["meta"]["total_pages"] == 2
    assert len(many["invoices"]) == 20
    newest_first = sorted(invoices, key=lambda i: (i.issuing_date, i.created_at), reverse=True)
    assert [i["lago_id"] for i in many["invoices"]] == [str(i.id) for i in newest_first[:20]]
    first = many["invoices"][0]
    assert first["customer"]["external_id"] == "acme"
    assert first["customer"]["metadata"][0]["value"] == "42"
    assert first["customer"]["taxes"][0]["code"] == "vat"
    assert [t["tax_code"] for t in first["applied_taxes"]] == ["vat"]
    assert first["total_amount_cents"] == newest_first[0].total_amount_cents

    second, _ = _get(tenant.client, "/api/v1/invoices?external_customer_id=acme&per_page=20&page=2")
    assert [i["lago_id"] for i in second["invoices"]] == [str(i.id) for i in newest_first[20:]]
    assert second["meta"]["total_count"] == 24 and second["meta"]["prev_page"] == 1

    theirs, _ = _get(other_tenant.client, "/api/v1/invoices?external_customer_id=acme")
    assert [i["total_amount_cents"] for i in theirs["invoices"]] == [999]


def test_a_page_of_several_customers_renders_each_with_its_own_data(tenant):
    organization = tenant.organization
    one = CustomerFactory(organization=organization, external_id="one", timezone="Europe/Paris")
    two = CustomerFactory(organization=organization, external_id="two")
    CustomerMetadataFactory(customer=two, key="k", value="v")
    make_one_off_invoice(one, 100)
    make_one_off_invoice(two, 200)
    make_one_off_invoice(one, 300)
    body, sql = _get(tenant.client, "/api/v1/invoices")
    by_amount = {i["total_amount_cents"]: i["customer"] for i in body["invoices"]}
    assert by_amount[100]["external_id"] == by_amount[300]["external_id"] == "one"
    assert by_amount[100]["applicable_timezone"] == "Europe/Paris" and by_amount[100]["metadata"] == []
    assert by_amount[200]["external_id"] == "two" and by_amount[200]["metadata"][0]["key"] == "k"
    assert len(sql) <= 6


def test_invoice_dates_in_the_list_order_by_issuing_date(tenant):
    customer = CustomerFactory(organization=tenant.organization, external_id="dated")
    old = make_one_off_invoice(customer, 100)
    new = make_one_off_invoice(customer, 200)
    type(old).objects.filter(pk=old.pk).update(issuing_date=old.issuing_date - timedelta(days=40))
    type(new).objects.filter(pk=new.pk).update(created_at=datetime(2020, 1, 1, tzinfo=UTC))
    body, _ = _get(tenant.client, "/api/v1/invoices?external_customer_id=dated")
    assert [i["total_amount_cents"] for i in body["invoices"]] == [200, 100]
