"""Statements of the simple customer reads (issue 24: a simple authenticated read in at most two).

With the API key in the worker's key cache (customers/auth.py), `GET /api/v1/customers?per_page=1`
is one statement (the page, its total and whether each customer has metadata or taxes) when the
customer has neither, and one more per relation that has rows; a customer by id likewise.
"""

from __future__ import annotations

import pytest

from customers import auth
from tests.core.statements import get_counted as _get
from tests.factories.customers import CustomerFactory, CustomerMetadataFactory

pytestmark = pytest.mark.django_db


def _with_tax(tenant, customer) -> None:
    from catalog.models import CustomerTax, Tax

    tax = Tax.objects.create(organization=tenant.organization, code="vat", name="VAT", rate="20")
    CustomerTax.objects.create(customer=customer, tax=tax)


def test_a_page_of_one_customer_is_one_statement(tenant):
    CustomerFactory(organization=tenant.organization, external_id="a")
    CustomerFactory(organization=tenant.organization, external_id="b")
    tenant.client.get("/api/v1/customers")  # the key's first use: read and last_used_at written
    body, sql = _get(tenant.client, "/api/v1/customers?per_page=1")
    assert len(sql) == 1, sql
    assert [c["external_id"] for c in body["customers"]] == ["b"]
    assert body["meta"] == {"current_page": 1, "next_page": 2, "prev_page": None, "total_pages": 2, "total_count": 2}
    assert body["customers"][0]["metadata"] == [] and body["customers"][0]["taxes"] == []


def test_relations_with_rows_cost_one_statement_each_and_are_rendered(tenant):
    plain = CustomerFactory(organization=tenant.organization, external_id="plain")
    rich = CustomerFactory(organization=tenant.organization, external_id="rich")
    CustomerMetadataFactory(customer=rich, key="crm", value="7")
    _with_tax(tenant, rich)
    tenant.client.get("/api/v1/customers")
    body, sql = _get(tenant.client, "/api/v1/customers?per_page=1")
    assert len(sql) == 3, sql  # the page, the metadata and the tax links (joined to their taxes) of `rich`
    [customer] = body["customers"]
    assert customer["metadata"][0]["key"] == "crm" and customer["taxes"][0]["code"] == "vat"
    body, sql = _get(tenant.client, "/api/v1/customers?per_page=1&page=2")
    assert len(sql) == 1, sql
    assert body["customers"][0]["external_id"] == plain.external_id
    assert body["customers"][0]["metadata"] == [] and body["customers"][0]["taxes"] == []
    # every page of the list renders each customer with its own rows
    body, _ = _get(tenant.client, "/api/v1/customers")
    by_id = {c["external_id"]: c for c in body["customers"]}
    assert by_id["rich"]["metadata"][0]["value"] == "7" and by_id["plain"]["metadata"] == []


def test_a_page_past_the_end_still_counts_the_list(tenant):
    CustomerFactory(organization=tenant.organization, external_id="a")
    tenant.client.get("/api/v1/customers")
    body, sql = _get(tenant.client, "/api/v1/customers?per_page=1&page=5")
    assert body["customers"] == []
    assert body["meta"] == {"current_page": 5, "next_page": None, "prev_page": 4, "total_pages": 1, "total_count": 1}
    assert len(sql) == 2  # the empty page, then the count
    body, sql = _get(tenant.client, "/api/v1/customers?external_id=nobody")
    assert body["meta"]["total_count"] == 0 and len(sql) == 1


def test_a_filtered_page_counts_what_the_filter_keeps(tenant):
    for n in range(3):
        customer = CustomerFactory(organization=tenant.organization, external_id=f"c{n}", currency="USD")
        CustomerMetadataFactory(customer=customer, key="tier", value="gold" if n else "silver")
    tenant.client.get("/api/v1/customers")
    body, _ = _get(tenant.client, "/api/v1/customers?per_page=1&metadata[tier]=gold&currencies[]=USD")
    assert body["meta"]["total_count"] == 2 and body["meta"]["total_pages"] == 2


def test_a_customer_by_id_is_one_statement_without_relations(tenant):
    CustomerFactory(organization=tenant.organization, external_id="a")
    rich = CustomerFactory(organization=tenant.organization, external_id="rich")
    CustomerMetadataFactory(customer=rich, key="crm", value="7")
    tenant.client.get("/api/v1/customers")
    body, sql = _get(tenant.client, "/api/v1/customers/a")
    assert len(sql) == 1, sql
    assert body["customer"]["external_id"] == "a" and body["customer"]["metadata"] == []
    body, sql = _get(tenant.client, "/api/v1/customers/rich")
    assert len(sql) == 2, sql
    assert body["customer"]["metadata"][0]["key"] == "crm"


def test_a_key_not_in_the_cache_adds_one_statement_key_and_organization_joined(tenant):
    CustomerFactory(organization=tenant.organization, external_id="a")
    tenant.client.get("/api/v1/customers")  # last_used_at written: not again within the minute
    auth.forget_all()
    _, sql = _get(tenant.client, "/api/v1/customers?per_page=1")
    assert len(sql) == 2, sql
    assert '"customers_apikey"' in sql[0] and 'JOIN "customers_organization"' in sql[0]


def test_the_compiled_unfiltered_list_answers_what_the_filtered_path_answers(tenant):
    from billing_project.core.api.pagination import PreparedPages

    for n in range(3):
        customer = CustomerFactory(organization=tenant.organization, external_id=f"c{n}", currency="USD")
        if n == 1:
            CustomerMetadataFactory(customer=customer, key="k", value="v")
            _with_tax(tenant, customer)
    tenant.client.get("/api/v1/customers")
    for query in ("per_page=1", "per_page=2&page=2", "page=3&per_page=1", "per_page=2&page=9", ""):
        compiled, _ = _get(tenant.client, f"/api/v1/customers?{query}")
        general, _ = _get(tenant.client, f"/api/v1/customers?{query}&currencies[]=USD")  # keeps every customer
        assert compiled == general, query
    assert PreparedPages.MAX_SHAPES >= 5


def test_the_compiled_list_is_tenant_scoped(tenant, other_tenant):
    CustomerFactory(organization=tenant.organization, external_id="mine")
    CustomerFactory(organization=other_tenant.organization, external_id="theirs")
    body, _ = _get(other_tenant.client, "/api/v1/customers?per_page=1")
    assert [c["external_id"] for c in body["customers"]] == ["theirs"] and body["meta"]["total_count"] == 1
    body, _ = _get(tenant.client, "/api/v1/customers?per_page=1")
    assert [c["external_id"] for c in body["customers"]] == ["mine"] and body["meta"]["total_count"] == 1


def test_customer_reads_leave_the_billing_entitys_logo_in_the_database(tenant):
    """The representation prints the entity's code only: its logo (a data URI of up to ~800 KB),
    footer and e-mail settings are not read with the customer, by id, in a list or on an invoice
    page (general and compiled paths); the statement counts stay as pinned above."""
    from customers.entities import customer_billing_entity
    from customers.models import BillingEntity
    from tests.factories.credits import make_one_off_invoice

    customer = CustomerFactory(organization=tenant.organization, external_id="a")
    entity = customer_billing_entity(customer)
    BillingEntity.objects.filter(pk=entity.pk).update(
        logo="data:image/png;base64," + "A" * 4000, invoice_footer="Thanks", email_settings=["invoice.finalized"]
    )
    make_one_off_invoice(customer, 1000)
    tenant.client.get("/api/v1/customers")
    paths = {
        "/api/v1/customers/a": 1,
        "/api/v1/customers?per_page=1": 1,
        "/api/v1/customers?external_id=a": 1,
        "/api/v1/invoices?external_customer_id=a&per_page=20": None,
        "/api/v1/invoices?external_customer_id=a&per_page=20&currency=USD": None,
    }
    for path, statements in paths.items():
        body, sql = _get(tenant.client, path)
        for column in ("logo", "invoice_footer", "email_settings"):
            assert not any(f'"customers_billingentity"."{column}"' in s for s in sql), (path, column, sql)
        if statements is not None:
            assert len(sql) == statements, (path, sql)
        customers = body.get("customers") or [body.get("customer")]
        customers = [c for c in customers if c] + [i["customer"] for i in body.get("invoices", [])]
        assert customers and all(c["billing_entity_code"] == entity.code for c in customers), path
