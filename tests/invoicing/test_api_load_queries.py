"""Statements per request of the routes in the API load mix (bench/api_load.py): a customer's
invoice list, current usage and the customer upsert. Counted without the API-key lookup, which
another layer may cache; each test also checks the answer, so a cheaper route is still a right one."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.models import CustomerTax
from tests.factories.credits import make_one_off_invoice
from tests.factories.customers import CustomerFactory, CustomerMetadataFactory
from tests.factories.invoicing import make_tax

pytestmark = pytest.mark.django_db

# The page's applied taxes ride on its rows (JSON) on PostgreSQL, elsewhere they are read apart;
# so do current usage's charges (with their filters) and taxes on the subscription's row.
_TAXES_APART = connection.vendor != "postgresql"


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


def test_a_customers_invoice_list_costs_four_statements_whatever_the_page_holds(tenant, other_tenant):
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

    # The customer, the page with the list's total (a window count) and its applied taxes (JSON),
    # the customer's metadata and tax links (with their taxes).
    assert len(many_sql) == len(few_sql) == 4 + _TAXES_APART, many_sql
    assert sum("COUNT(" in sql and "OVER ()" in sql for sql in many_sql) == 1
    assert sum('FROM "invoicing_invoiceappliedtax"' in sql for sql in many_sql) == 1
    assert sum(sql.startswith('SELECT "customers_customermetadata"."id"') for sql in many_sql) == 1

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

    # The general path (any other filter) answers the same.
    for page in (1, 2, 5):
        path = f"/api/v1/invoices?external_customer_id=acme&per_page=20&page={page}"
        fast, _ = _get(tenant.client, path)
        general, _ = _get(tenant.client, path + "&currency=USD")
        assert fast == general
    beyond, _ = _get(tenant.client, "/api/v1/invoices?external_customer_id=acme&per_page=20&page=5")
    assert beyond["invoices"] == [] and beyond["meta"]["total_count"] == 24

    from invoicing import selectors

    compiled = [selectors._LIST_CUSTOMERS, *selectors._relation_queries.values()]
    compiled += [*selectors._page_queries.values(), *selectors._taxes_queries.values()]
    assert all(entry is not False for query in compiled for entry in query._compiled.values())

    theirs, _ = _get(other_tenant.client, "/api/v1/invoices?external_customer_id=acme")
    assert [i["total_amount_cents"] for i in theirs["invoices"]] == [999]


def test_a_customer_without_metadata_or_taxes_costs_two_statements(tenant):
    """The customer read says (EXISTS) whether it has metadata and tax links; none: neither is read."""
    customer = CustomerFactory(organization=tenant.organization, external_id="plain")
    make_tax(tenant.organization, "20", code="org_vat", applied_to_organization=True)
    for i in range(3):
        make_one_off_invoice(customer, 500 + i)
    body, sql = _get(tenant.client, "/api/v1/invoices?external_customer_id=plain&per_page=20")
    # the customer (with its two EXISTS), the page with its total and its applied taxes
    assert len(sql) == 2 + _TAXES_APART, sql
    assert not any(q.startswith('SELECT "customers_customermetadata"') for q in sql)
    assert not any(q.startswith('SELECT "catalog_customertax"') for q in sql)
    assert [i["customer"]["metadata"] for i in body["invoices"]] == [[], [], []]
    assert [i["customer"]["taxes"] for i in body["invoices"]] == [[], [], []]
    general, _ = _get(tenant.client, "/api/v1/invoices?external_customer_id=plain&per_page=20&currency=USD")
    assert body == general

    # Metadata added later is read again at once (no cache: the flag is read with the customer).
    CustomerMetadataFactory(customer=customer, key="crm", value="7")
    again, sql = _get(tenant.client, "/api/v1/invoices?external_customer_id=plain&per_page=20")
    assert len(sql) == 3 + _TAXES_APART
    assert again["invoices"][0]["customer"]["metadata"][0]["value"] == "7"


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
    # the page with its total, its customers' relation flags and its applied taxes (apart elsewhere
    # than on PostgreSQL); the metadata of the one customer that has some
    assert len(sql) == 2 + _TAXES_APART, sql


def test_a_reused_external_id_lists_the_deleted_customers_invoices_too(tenant):
    from customers.services import customer_delete

    old = CustomerFactory(organization=tenant.organization, external_id="again")
    make_one_off_invoice(old, 100)
    customer_delete(tenant.organization, "again")
    make_one_off_invoice(CustomerFactory(organization=tenant.organization, external_id="again"), 200)
    body, _ = _get(tenant.client, "/api/v1/invoices?external_customer_id=again")
    assert sorted(i["total_amount_cents"] for i in body["invoices"]) == [100, 200]
    assert body["meta"]["total_count"] == 2
    nobody, _ = _get(tenant.client, "/api/v1/invoices?external_customer_id=nobody")
    assert nobody["invoices"] == [] and nobody["meta"]["total_count"] == 0


def test_invoice_dates_in_the_list_order_by_issuing_date(tenant):
    customer = CustomerFactory(organization=tenant.organization, external_id="dated")
    old = make_one_off_invoice(customer, 100)
    new = make_one_off_invoice(customer, 200)
    type(old).objects.filter(pk=old.pk).update(issuing_date=old.issuing_date - timedelta(days=40))
    type(new).objects.filter(pk=new.pk).update(created_at=datetime(2020, 1, 1, tzinfo=UTC))
    body, _ = _get(tenant.client, "/api/v1/invoices?external_customer_id=dated")
    assert [i["total_amount_cents"] for i in body["invoices"]] == [200, 100]


# --- GET /customers/{id}/current_usage ------------------------------------------------------------


def _usage_setup(organization, *, with_filters: bool = False):
    from catalog.models import BillableMetricFilter, ChargeFilter, ChargeTax
    from tests.factories.invoicing import add_events, make_charge, make_metric, make_plan, subscribe

    customer = CustomerFactory(organization=organization, external_id="u1")
    plan = make_plan(organization, amount_cents=1000)
    calls = make_metric(organization, "calls")
    gb = make_metric(organization, "gb", "sum_agg", field_name="gb")
    own = make_charge(plan, calls, properties={"amount": "0.5"})
    make_charge(plan, gb, properties={"amount": "2"})
    ChargeTax.objects.create(charge=own, tax=make_tax(organization, "5.5", code="reduced"))
    if with_filters:
        BillableMetricFilter.objects.create(billable_metric=calls, key="region", values=["eu", "us"])
        ChargeFilter.objects.create(
            organization=organization, charge=own, values={"region": ["eu"]}, properties={"amount": "1"}
        )
    sub = subscribe(customer, plan, datetime(2024, 4, 1, tzinfo=UTC), external_id="s1")
    add_events(sub, "calls", [datetime(2024, 4, 2, tzinfo=UTC)] * 3, region="eu")
    add_events(sub, "calls", [datetime(2024, 4, 3, tzinfo=UTC)] * 5, region="us")
    add_events(sub, "gb", [datetime(2024, 4, 4, 10, 30, tzinfo=UTC)], gb="2.5")
    return customer, plan, sub


def _usage(client) -> tuple[dict, list[str]]:
    body, sql = _get(client, "/api/v1/customers/u1/current_usage?external_subscription_id=s1")
    return body["customer_usage"], sql


@pytest.mark.parametrize("level", ["plan", "customer", "organization"])
def test_current_usage_reads_two_statements_and_taxes_like_the_invoice(tenant, monkeypatch, level):
    """The charge's own tax first, then the plan's, the customer's, the organization's defaults."""
    from catalog.models import CustomerTax, PlanTax
    from invoicing.billing.run import customer_bill

    monkeypatch.setattr("invoicing.selectors.timezone.now", lambda: datetime(2024, 4, 20, 12, tzinfo=UTC))
    organization = tenant.organization
    customer, plan, _ = _usage_setup(organization)
    make_tax(organization, "1", code="org_default", applied_to_organization=True)
    if level == "plan":
        PlanTax.objects.create(plan=plan, tax=make_tax(organization, "20", code="plan_vat"))
    if level == "customer":
        CustomerTax.objects.create(customer=customer, tax=make_tax(organization, "12", code="cust_b"))
        CustomerTax.objects.create(customer=customer, tax=make_tax(organization, "3", code="cust_a"))

    usage, sql = _usage(tenant.client)
    # subscription + customer + plan with the plan's charges and metrics and every tax level (JSON
    # on PostgreSQL; else charges + metrics (+ EXISTS flags) and the taxes apart), rollups.
    assert len(sql) == 2 + 2 * _TAXES_APART, sql
    # The first leaves out the customer columns usage never reads.
    assert '"customers_customer"."shipping_address"' not in sql[0]
    assert usage["amount_cents"] == 8 * 50 + 500  # 8 calls × 0.50 + 2.5 GB × 2.00
    gb_rate = {"plan": 20, "customer": 15, "organization": 1}[level]
    # 400 × 5.5 % = 22; 500 × the fallback rate.
    assert usage["taxes_amount_cents"] == 22 + 500 * gb_rate // 100

    [invoice] = customer_bill(customer.id, at=datetime(2024, 5, 1, 1, tzinfo=UTC))
    charge_fees = invoice.fees.filter(fee_type="charge")
    assert sum(f.amount_cents for f in charge_fees) == usage["amount_cents"]
    assert sum(f.taxes_amount_cents for f in charge_fees) == usage["taxes_amount_cents"]


def test_current_usage_with_filters_reads_them_and_prices_each_bucket(tenant, monkeypatch, settings):
    # Counts the PostgreSQL-only path; with ClickHouse configured ingestion and usage also
    # keep the ClickHouse copy in step (tested in tests/metering/test_clickhouse*.py).
    settings.CLICKHOUSE_URL = ""
    monkeypatch.setattr("invoicing.selectors.timezone.now", lambda: datetime(2024, 4, 20, 12, tzinfo=UTC))
    _usage_setup(tenant.organization, with_filters=True)
    usage, sql = _usage(tenant.client)
    # + the charge's own rollup query; elsewhere than on PostgreSQL + the charges, the taxes, the
    # charge's filters and its metric's filter keys
    assert len(sql) == 3 + 4 * _TAXES_APART, sql
    calls = next(c for c in usage["charges_usage"] if c["billable_metric"]["code"] == "calls")
    by_values = {json.dumps(f["values"]): f for f in calls["filters"]}
    assert by_values['{"region": ["eu"]}']["amount_cents"] == 300  # 3 × 1.00
    assert by_values["null"]["amount_cents"] == 250  # 5 × 0.50 (no filter matched)
    assert calls["amount_cents"] == 550 and calls["units"] == "8.0"


def test_current_usage_error_paths_and_tenancy(tenant, other_tenant, monkeypatch):
    monkeypatch.setattr("invoicing.selectors.timezone.now", lambda: datetime(2024, 4, 20, 12, tzinfo=UTC))
    _usage_setup(tenant.organization)
    CustomerFactory(organization=other_tenant.organization, external_id="u1")
    assert (
        tenant.client.get("/api/v1/customers/nobody/current_usage?external_subscription_id=s1").json()["code"]
        == "customer_not_found"
    )
    assert (
        tenant.client.get("/api/v1/customers/u1/current_usage?external_subscription_id=nope").json()["code"]
        == "subscription_not_found"
    )
    assert tenant.client.get("/api/v1/customers/u1/current_usage").status_code == 422
    # Another tenant's customer with the same external id does not see this subscription.
    other = other_tenant.client.get("/api/v1/customers/u1/current_usage?external_subscription_id=s1")
    assert other.status_code == 404 and other.json()["code"] == "subscription_not_found"


def test_current_usage_of_a_plan_without_charges(tenant, monkeypatch):
    from tests.factories.invoicing import make_plan, subscribe

    monkeypatch.setattr("invoicing.selectors.timezone.now", lambda: datetime(2024, 4, 20, 12, tzinfo=UTC))
    customer = CustomerFactory(organization=tenant.organization, external_id="u1")
    make_tax(tenant.organization, "20", code="vat", applied_to_organization=True)
    subscribe(customer, make_plan(tenant.organization), datetime(2024, 4, 1, tzinfo=UTC), external_id="s1")
    usage, sql = _usage(tenant.client)
    assert usage["charges_usage"] == [] and usage["amount_cents"] == usage["taxes_amount_cents"] == 0
    assert len(sql) == 1 + 2 * _TAXES_APART  # no rollup read without a charge


@pytest.mark.parametrize("taxes_on_rows", [True, False], ids=["taxes-as-json", "taxes-apart"])
def test_the_compiled_page_answers_the_general_paths_bytes_for_invoices_with_everything(
    tenant, settings, tmp_path, monkeypatch, taxes_on_rows
):
    """The compiled page (`selectors.customer_invoice_page`: rows of the columns the list renders,
    applied taxes read with them as JSON on PostgreSQL, else apart) answers byte for byte what the
    general path answers, for invoices that carry metadata, credits, applied custom sections, a
    PDF, a void and a dispute, another billing entity than their customer's or none yet (a draft),
    and applied taxes with a description and without a tax, reading no entity per invoice."""
    from django.core.files.base import ContentFile

    from billing_project.core import json_rows
    from invoicing.models import Invoice, InvoiceAppliedTax
    from tests.factories.customers import BillingEntityFactory

    if taxes_on_rows and connection.vendor != "postgresql":
        pytest.skip("applied taxes ride on the page's rows on PostgreSQL")
    if not taxes_on_rows:
        monkeypatch.setattr(json_rows, "supported", lambda alias: False)
    settings.MEDIA_ROOT = tmp_path
    organization = tenant.organization
    customer = CustomerFactory(organization=organization, external_id="rich", timezone="Asia/Kolkata")
    CustomerMetadataFactory(customer=customer, key="crm", value="42")
    CustomerTax.objects.create(customer=customer, tax=make_tax(organization, "8.5", code="gst"))
    invoices = [make_one_off_invoice(customer, 1000 + i) for i in range(6)]
    moment = datetime(2026, 3, 1, 12, 30, 45, 987654, tzinfo=UTC)
    first, second, third, fourth, fifth, _ = invoices
    other_entity = BillingEntityFactory(organization=organization, code="eu")
    Invoice.objects.filter(pk=fourth.pk).update(billing_entity=other_entity)
    Invoice.objects.filter(pk=fifth.pk).update(billing_entity=None, status="draft")
    Invoice.objects.filter(pk=first.pk).update(
        metadata=[{"key": "po", "value": "A-1"}, {"key": "ünï", "value": "\u2028x"}],
        credits=[{"item_id": "w1", "item_type": "wallet", "code": "c", "name": "n", "amount_cents": 25}],
        applied_invoice_custom_sections=[
            {
                "lago_id": "s1",
                "code": "legal",
                "details": "d",
                "display_name": "Legal",
                "created_at": "2026-01-01T00:00:00Z",
            }
        ],
        purchase_order_number="PO-7",
        payment_dispute_lost_at=moment,
        taxes_rate="12.5",
    )
    Invoice.objects.filter(pk=second.pk).update(voided_at=moment - timedelta(days=400), status="voided")
    third.file.save("rich.pdf", ContentFile(b"%PDF"), save=True)
    InvoiceAppliedTax.objects.create(
        organization=organization, invoice=first, tax=None, tax_code="old", tax_name="Old tax",
        tax_rate="7.25", tax_description="gone", amount_cents=3, fees_amount_cents=40, currency="USD",
    )  # fmt: skip
    path = "/api/v1/invoices?external_customer_id=rich&per_page=3"
    rendered: dict[str, dict] = {}
    for page in (1, 2):
        tenant.client.get(f"{path}&page={page}")
        with CaptureQueriesContext(connection) as captured:
            fast = tenant.client.get(f"{path}&page={page}")
        # the customer, the page (+ its applied taxes apart), the customer's metadata and tax links
        assert len(_route_statements(captured.captured_queries)) == 4 + (not taxes_on_rows)
        general = tenant.client.get(f"{path}&page={page}&currency=USD")
        assert fast.status_code == general.status_code == 200
        assert fast.content == general.content
        rendered.update({i["lago_id"]: i for i in json.loads(fast.content)["invoices"]})
    assert set(rendered) == {str(i.id) for i in invoices}
    assert rendered[str(fourth.id)]["billing_entity_code"] == "eu"
    assert customer.billing_entity is not None
    assert rendered[str(fifth.id)]["billing_entity_code"] == customer.billing_entity.code != "eu"
    assert rendered[str(third.id)]["file_url"].endswith("rich.pdf")


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="charges and taxes ride on the subscription's row on PostgreSQL"
)
def test_current_usage_read_with_the_subscription_answers_what_the_reads_apart_answer(tenant, monkeypatch):
    """Charges (with live and deleted filters, a deleted charge, grouped and filtered ones, a
    metric with deleted filter keys) and taxes at every level read as JSON with the subscription
    give the bytes the separate reads give: current and projected usage, taxes applied or not."""
    from django.utils import timezone as django_timezone

    from billing_project.core import json_rows
    from catalog.models import BillableMetricFilter, ChargeFilter, ChargeTax, CustomerTax, PlanTax
    from tests.factories.invoicing import add_events, make_charge, make_metric

    monkeypatch.setattr("invoicing.selectors.timezone.now", lambda: datetime(2024, 4, 20, 12, tzinfo=UTC))
    organization = tenant.organization
    customer, plan, sub = _usage_setup(organization, with_filters=True)
    region = BillableMetricFilter.objects.get(key="region")
    BillableMetricFilter.objects.create(billable_metric=region.billable_metric, key="gone", values=["x"],
                                        deleted_at=django_timezone.now())  # fmt: skip
    calls = region.billable_metric
    own = ChargeFilter.objects.get().charge
    ChargeFilter.objects.create(organization=organization, charge=own, values={"region": ["us"]},
                                properties={"amount": "9"}, deleted_at=django_timezone.now())  # fmt: skip
    ChargeFilter.objects.create(organization=organization, charge=own, values={"region": ["us"]},
                                properties={"amount": "0.25"}, invoice_display_name="US")  # fmt: skip
    zones = make_metric(organization, "zones", "sum_agg", field_name="v")
    make_charge(plan, zones, properties={"amount": "0.3333"}, pricing_group_keys=["zone"])
    make_charge(plan, calls, properties={"amount": "100"}, deleted_at=django_timezone.now())
    add_events(sub, "zones", [datetime(2024, 4, 5, tzinfo=UTC)] * 2, zone="a", v="1.5")
    add_events(sub, "zones", [datetime(2024, 4, 6, tzinfo=UTC)], zone="b", v="7")
    make_tax(organization, "1", code="org_default", applied_to_organization=True)
    PlanTax.objects.create(plan=plan, tax=make_tax(organization, "20", code="plan_vat"))
    CustomerTax.objects.create(customer=customer, tax=make_tax(organization, "12", code="cust_b"))
    ChargeTax.objects.create(charge=own, tax=make_tax(organization, "2.5", code="extra"))
    paths = [
        "/api/v1/customers/u1/current_usage?external_subscription_id=s1",
        "/api/v1/customers/u1/current_usage?external_subscription_id=s1&apply_taxes=false",
        "/api/v1/customers/u1/projected_usage?external_subscription_id=s1",
    ]
    answers = {}
    for path in paths:
        tenant.client.get(path)
        with CaptureQueriesContext(connection) as captured:
            answers[path] = tenant.client.get(path)
        assert answers[path].status_code == 200
        assert sum("catalog_charge" in sql for sql in _route_statements(captured.captured_queries)) == 1
    monkeypatch.setattr(json_rows, "supported", lambda alias: False)
    for path in paths:
        apart = tenant.client.get(path)
        assert apart.content == answers[path].content, path
    usage = json.loads(answers[paths[0]].content)["customer_usage"]
    assert len(usage["charges_usage"]) == 3 and usage["taxes_amount_cents"] > 0


# --- GET /invoices (every customer's; the compiled pages without filters, the general path else) ---


@pytest.mark.parametrize("taxes_on_rows", [True, False], ids=["taxes-as-json", "taxes-apart"])
def test_a_page_of_every_invoice_is_one_statement_and_renders_as_each_invoice_alone(
    tenant, other_tenant, monkeypatch, taxes_on_rows
):
    """`GET /invoices?per_page=` (no filter: compiled pages) reads the page with its total, its
    customers' relation flags and (PostgreSQL) its applied taxes in one statement, plus one for each
    relation some customer of the page has rows in; each invoice renders as `invoice_payload` renders
    it alone (its own reads), and a filtered list the same rows the same way."""
    import uuid

    from billing_project.core import json_rows
    from billing_project.core.api.pagination import PreparedPages
    from invoicing import selectors
    from invoicing.models import Invoice, InvoiceAppliedTax
    from invoicing.representation import invoice_payload
    from tests.factories.customers import BillingEntityFactory

    if taxes_on_rows and connection.vendor != "postgresql":
        pytest.skip("applied taxes ride on the page's rows on PostgreSQL")
    if not taxes_on_rows:
        monkeypatch.setattr(json_rows, "supported", lambda alias: False)
    # pages compiled in this test (another may have compiled them with the other reading)
    monkeypatch.setattr(
        selectors, "INVOICE_PAGES", PreparedPages(selectors.INVOICE_PAGES.build, organization=uuid.UUID)
    )
    organization = tenant.organization
    plain = CustomerFactory(organization=organization, external_id="plain")
    rich = CustomerFactory(organization=organization, external_id="rich", timezone="Asia/Kolkata")
    CustomerMetadataFactory(customer=rich, key="crm", value="42")
    CustomerTax.objects.create(customer=rich, tax=make_tax(organization, "8.5", code="gst"))
    invoices = [make_one_off_invoice(customer, 100 + i) for i, customer in enumerate([plain, rich, plain, rich])]
    Invoice.objects.filter(pk=invoices[0].pk).update(billing_entity=BillingEntityFactory(organization=organization))
    InvoiceAppliedTax.objects.create(
        organization=organization, invoice=invoices[1], tax=None, tax_code="old", tax_name="Old tax",
        tax_rate="7.25", tax_description="gone", amount_cents=3, fees_amount_cents=40, currency="USD",
    )  # fmt: skip
    make_one_off_invoice(CustomerFactory(organization=other_tenant.organization, external_id="rich"), 999)

    def page(path: str) -> tuple[list[dict], dict, int]:
        tenant.client.get(path)
        with CaptureQueriesContext(connection) as captured:
            response = tenant.client.get(path)
        assert response.status_code == 200
        body = response.json()
        return body["invoices"], body["meta"], len(_route_statements(captured.captured_queries))

    listed, meta, statements = page("/api/v1/invoices?per_page=3")
    # the page; the rich customer's metadata and tax links; the applied taxes apart elsewhere
    assert statements == 3 + (not taxes_on_rows)
    assert meta["total_count"] == 4 and len(listed) == 3
    second, _, _ = page("/api/v1/invoices?per_page=3&page=2")
    rendered = listed + second
    expected = [
        invoice_payload(Invoice.objects.get(pk=i["lago_id"]), with_fees=False) for i in rendered
    ]  # each alone: its own reads
    assert json.dumps(rendered) == json.dumps(expected)
    assert {i["lago_id"] for i in rendered} == {str(i.id) for i in invoices}
    filtered, _, _ = page("/api/v1/invoices?per_page=3&currency=USD")
    assert filtered == listed

    position = next(n for n, i in enumerate(rendered) if i["customer"]["external_id"] == "plain")
    only_plain, _, statements = page(f"/api/v1/invoices?per_page=1&page={position + 1}")
    assert only_plain[0]["customer"]["external_id"] == "plain"
    assert statements == 1 + (not taxes_on_rows)  # a page whose customers have no metadata nor taxes
