"""The invoicing API: invoices, fees, current and past usage (docs/invoicing.md §6)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.urls import resolve

from catalog.models import BillableMetricFilter, ChargeFilter, PlanTax
from invoicing.billing.run import customer_bill
from invoicing.models import Invoice
from tests.factories.catalog import AddOnFactory
from tests.factories.invoicing import (
    add_events,
    make_charge,
    make_customer,
    make_metric,
    make_plan,
    make_tax,
    subscribe,
)

pytestmark = pytest.mark.django_db


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def billed(organization):
    customer = make_customer(organization, external_id="cus_1")
    plan = make_plan(organization, amount_cents=1000)
    PlanTax.objects.create(plan=plan, tax=make_tax(organization, "20"))
    metric = make_metric(organization, "calls")
    make_charge(plan, metric, properties={"amount": "0.5"})
    sub = subscribe(customer, plan, at(2024, 1, 1), external_id="sub_1")
    add_events(sub, "calls", [at(2024, 1, 3)] * 4)
    [invoice] = customer_bill(customer.id, at=at(2024, 2, 1, 1))
    return invoice


def test_list_and_filters(api, billed, organization):
    body = api.get("/api/v1/invoices").json()
    assert body["meta"]["total_count"] == 1
    item = body["invoices"][0]
    assert item["lago_id"] == str(billed.id)
    assert "fees" not in item
    assert item["total_amount_cents"] == 1440
    assert item["customer"]["external_id"] == "cus_1"
    assert item["applied_taxes"][0]["amount_cents"] == 240
    for query, count in [
        ("external_customer_id=cus_1", 1),
        ("external_customer_id=nobody", 0),
        ("status=finalized", 1),
        ("statuses[]=draft", 0),
        ("payment_status=pending", 1),
        ("currency=EUR", 0),
        ("invoice_type=subscription", 1),
        ("issuing_date_from=2024-02-01&issuing_date_to=2024-02-01", 1),
        ("issuing_date_from=2024-02-02", 0),
        ("amount_from=1440&amount_to=1440", 1),
        ("amount_from=1441", 0),
        ("payment_overdue=false", 1),
        (f"search_term={billed.number}", 1),
    ]:
        assert api.get(f"/api/v1/invoices?{query}").json()["meta"]["total_count"] == count, query
    assert api.get("/api/v1/invoices?issuing_date_from=nope").status_code == 422


def test_show_with_fees_and_billing_periods(api, billed):
    body = api.get(f"/api/v1/invoices/{billed.id}").json()["invoice"]
    assert body["number"] == billed.number
    assert body["fees_amount_cents"] == 1200
    assert body["taxes_amount_cents"] == 240
    assert body["total_due_amount_cents"] == 1440
    assert body["payment_overdue"] is False
    [period] = body["billing_periods"]
    assert period["invoicing_reason"] == "subscription_periodic"
    assert period["charges_from_datetime"] == "2024-01-01T00:00:00Z"
    assert period["charges_to_datetime"] == "2024-01-31T23:59:59Z"
    fees = {f["item"]["type"]: f for f in body["fees"]}
    assert fees["charge"]["units"] == "4.0"
    assert fees["charge"]["amount_cents"] == 200
    assert fees["charge"]["precise_unit_amount"] == "0.5"
    assert fees["charge"]["item"]["code"] == "calls"
    assert fees["subscription"]["amount_cents"] == 1000
    assert fees["subscription"]["applied_taxes"][0]["amount_cents"] == 200


def test_unknown_and_other_tenant_invoice_is_404(api, billed, other_tenant):
    assert other_tenant.client.get(f"/api/v1/invoices/{billed.id}").json()["code"] == "invoice_not_found"
    assert other_tenant.client.post(f"/api/v1/invoices/{billed.id}/void").status_code == 404
    assert api.get("/api/v1/invoices/not-a-uuid").status_code == 404
    assert other_tenant.client.get("/api/v1/invoices").json()["meta"]["total_count"] == 0
    fee_id = billed.fees.first().id
    assert other_tenant.client.get(f"/api/v1/fees/{fee_id}").json()["code"] == "fee_not_found"


def test_update_finalize_refresh_void(api, billed):
    response = api.put(
        f"/api/v1/invoices/{billed.id}",
        {"invoice": {"payment_status": "succeeded", "metadata": [{"key": "po", "value": "7"}]}},
        format="json",
    )
    assert response.status_code == 200
    body = response.json()["invoice"]
    assert body["payment_status"] == "succeeded"
    assert body["metadata"][0]["key"] == "po"
    assert api.put(f"/api/v1/invoices/{billed.id}", {}, format="json").status_code == 400
    assert api.put(f"/api/v1/invoices/{billed.id}/finalize").status_code == 404  # not a draft
    assert api.put(f"/api/v1/invoices/{billed.id}/refresh").json()["invoice"]["status"] == "finalized"
    voided = api.post(f"/api/v1/invoices/{billed.id}/void")
    assert voided.json()["invoice"]["status"] == "voided"
    again = api.post(f"/api/v1/invoices/{billed.id}/void")
    assert again.status_code == 405 and again.json()["code"] == "not_voidable"


def test_draft_finalize_endpoint(api, organization):
    customer = make_customer(organization, invoice_grace_period=5)
    plan = make_plan(organization, amount_cents=1000)
    subscribe(customer, plan, at(2024, 1, 1))
    [draft] = customer_bill(customer.id, at=at(2024, 2, 1, 1))
    listed = api.get("/api/v1/invoices?status=draft").json()
    assert listed["invoices"][0]["number"].endswith("-DRAFT")
    assert api.post(f"/api/v1/invoices/{draft.id}/download").status_code == 404
    body = api.put(f"/api/v1/invoices/{draft.id}/finalize").json()["invoice"]
    assert body["status"] == "finalized"
    assert body["number"].endswith("-001")


def test_download_returns_file_url(api, billed):
    body = api.post(f"/api/v1/invoices/{billed.id}/download").json()["invoice"]
    assert body["file_url"].endswith(".pdf")
    billed.refresh_from_db()
    assert billed.file.size > 1000


def test_one_off_invoice_api(api, organization):
    make_customer(organization, external_id="cus_2")
    add_on = AddOnFactory(organization=organization, code="setup", amount_cents=2500)
    response = api.post(
        "/api/v1/invoices",
        {
            "invoice": {
                "external_customer_id": "cus_2",
                "currency": "USD",
                "fees": [{"add_on_code": add_on.code, "units": 2}],
            }
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()["invoice"]
    assert body["invoice_type"] == "one_off"
    assert body["status"] == "finalized"
    assert body["fees_amount_cents"] == 5000
    assert body["fees"][0]["item"]["code"] == "setup"
    missing = api.post(
        "/api/v1/invoices",
        {"invoice": {"external_customer_id": "nobody", "fees": [{"add_on_code": "setup"}]}},
        format="json",
    )
    assert missing.json()["code"] == "customer_not_found"
    assert api.post("/api/v1/invoices", {}, format="json").status_code == 400
    bad = api.post("/api/v1/invoices", {"invoice": {"external_customer_id": "cus_2"}}, format="json")
    assert bad.status_code == 422


def test_fees_list_show_update(api, billed):
    body = api.get("/api/v1/fees?fee_type=charge").json()
    assert body["meta"]["total_count"] == 1
    fee = body["fees"][0]
    assert fee["lago_invoice_id"] == str(billed.id)
    assert fee["external_subscription_id"] == "sub_1"
    assert api.get("/api/v1/fees?billable_metric_code=calls").json()["meta"]["total_count"] == 1
    assert api.get("/api/v1/fees?external_customer_id=cus_1").json()["meta"]["total_count"] == 2
    shown = api.get(f"/api/v1/fees/{fee['lago_id']}").json()["fee"]
    assert shown["applied_taxes"][0]["tax_rate"] == 20
    refused = api.put(f"/api/v1/fees/{fee['lago_id']}", {"fee": {"payment_status": "succeeded"}}, format="json")
    assert refused.status_code == 405 and refused.json()["code"] == "invoiced_fee"


def test_nested_customer_routes_resolve_to_invoicing():
    assert resolve("/api/v1/customers/cus_1/current_usage").func.view_class.__name__ == "CurrentUsageView"
    assert resolve("/api/v1/customers/cus_1/past_usage").func.view_class.__name__ == "PastUsageView"
    assert resolve("/api/v1/customers/cus_1").func.view_class.__name__ == "CustomerDetailView"
    assert resolve("/v1/customers/cus_1/current_usage").func.view_class.__name__ == "CurrentUsageView"


def test_current_usage_shape_and_equals_the_invoice(api, organization, monkeypatch):
    monkeypatch.setattr("invoicing.selectors.timezone.now", lambda: at(2024, 4, 20, 12))
    customer = make_customer(organization, external_id="cus_u")
    plan = make_plan(organization, amount_cents=1000)
    PlanTax.objects.create(plan=plan, tax=make_tax(organization, "20"))
    metric = make_metric(organization, "api")
    BillableMetricFilter.objects.create(billable_metric=metric, key="region", values=["eu", "us"])
    charge = make_charge(plan, metric, properties={"amount": "1"})
    ChargeFilter.objects.create(
        organization=organization, charge=charge, values={"region": ["eu"]}, properties={"amount": "2"},
        invoice_display_name="EU calls",
    )  # fmt: skip
    idle = make_metric(organization, "idle")
    make_charge(plan, idle, properties={"amount": "3"})
    seats = make_metric(organization, "seats")
    make_charge(plan, seats, properties={"amount": "5"}, pricing_group_keys=["team"])
    sub = subscribe(customer, plan, at(2024, 4, 1), external_id="sub_u")
    add_events(sub, "api", [at(2024, 4, 2)] * 2, region="eu")
    add_events(sub, "api", [at(2024, 4, 3)] * 4, region="us")
    add_events(sub, "seats", [at(2024, 4, 3)], team="a")
    response = api.get("/api/v1/customers/cus_u/current_usage?external_subscription_id=sub_u")
    assert response.status_code == 200, response.json()
    usage = response.json()["customer_usage"]
    assert usage["from_datetime"] == "2024-04-01T00:00:00Z"
    assert usage["to_datetime"] == "2024-04-30T23:59:59Z"
    assert usage["issuing_date"] == "2024-05-01"
    assert usage["amount_cents"] == 400 + 400 + 500
    assert usage["taxes_amount_cents"] == 260
    assert usage["total_amount_cents"] == 1560
    by_code = {c["billable_metric"]["code"]: c for c in usage["charges_usage"]}
    assert set(by_code) == {"api", "idle", "seats"}  # every charge, zero usage included
    assert by_code["idle"]["units"] == "0.0" and by_code["idle"]["amount_cents"] == 0
    filters = {f["invoice_display_name"]: f for f in by_code["api"]["filters"]}
    assert filters["EU calls"]["values"] == {"region": ["eu"]} and filters["EU calls"]["amount_cents"] == 400
    assert filters[None]["values"] is None and filters[None]["units"] == "4.0"
    assert by_code["api"]["units"] == "6.0" and by_code["api"]["events_count"] == 6
    assert by_code["seats"]["grouped_usage"][0]["grouped_by"] == {"team": "a"}
    no_tax = api.get("/api/v1/customers/cus_u/current_usage?external_subscription_id=sub_u&apply_taxes=false").json()
    assert no_tax["customer_usage"]["taxes_amount_cents"] == 0
    # the invoice of the period bills exactly the usage shown
    [invoice] = customer_bill(customer.id, at=at(2024, 5, 1, 1))
    assert invoice.fees.filter(fee_type="charge").values_list("amount_cents", flat=True).count() >= 3
    assert sum(invoice.fees.filter(fee_type="charge").values_list("amount_cents", flat=True)) == usage["amount_cents"]


def test_current_usage_errors(api, organization, other_tenant):
    make_customer(organization, external_id="cus_e")
    assert api.get("/api/v1/customers/nobody/current_usage?external_subscription_id=x").json()["code"] == (
        "customer_not_found"
    )
    assert api.get("/api/v1/customers/cus_e/current_usage?external_subscription_id=x").json()["code"] == (
        "subscription_not_found"
    )
    assert api.get("/api/v1/customers/cus_e/current_usage").status_code == 422
    assert (
        other_tenant.client.get("/api/v1/customers/cus_e/current_usage?external_subscription_id=x").status_code == 404
    )


def test_past_usage(api, billed):
    body = api.get("/api/v1/customers/cus_1/past_usage?external_subscription_id=sub_1").json()
    assert body["meta"]["total_count"] == 1
    [period] = body["usage_periods"]
    assert period["lago_invoice_id"] == str(billed.id)
    assert period["amount_cents"] == 1200
    assert period["charges_usage"][0]["amount_cents"] == 200
    assert period["from_datetime"] == "2024-01-01T00:00:00Z"
    filtered = api.get("/api/v1/customers/cus_1/past_usage?external_subscription_id=sub_1&billable_metric_code=x")
    assert filtered.json()["usage_periods"][0]["charges_usage"] == []
    assert Invoice.objects.count() == 1
