"""`GET /invoices/{id}` read by `invoicing.selectors.invoice_represented` answers byte for byte what
the plain read (`invoice_get`, then every relation as the representation reaches it) answers; and
the statements it costs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection

from billing_project.core import json_rows
from catalog.models import CustomerTax, PlanTax
from customers.models import CustomerMetadata
from invoicing import selectors
from invoicing.api import views
from invoicing.billing.run import customer_bill
from tests.core.statements import get_counted
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


def at(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def invoices(organization, api):
    customer = make_customer(organization, external_id="cus_1")
    plan = make_plan(organization, amount_cents=1000)
    PlanTax.objects.create(plan=plan, tax=make_tax(organization, "20"))
    metric = make_metric(organization, "calls")
    make_charge(plan, metric, properties={"amount": "0.5"})
    sub = subscribe(customer, plan, at(2024, 1, 1), external_id="sub_1")
    add_events(sub, "calls", [at(2024, 1, 3)] * 4)
    [billed] = customer_bill(customer.id, at=at(2024, 2, 1, 1))
    other = make_customer(organization, external_id="cus_2")
    CustomerMetadata.objects.create(customer=other, key="k", value="v", display_in_invoice=True)
    CustomerTax.objects.create(customer=other, tax=make_tax(organization, "8.875"))
    AddOnFactory(organization=organization, code="setup", amount_cents=500)
    response = api.post(
        "/api/v1/invoices",
        {
            "invoice": {
                "external_customer_id": "cus_2",
                "currency": "USD",
                "fees": [{"add_on_code": "setup", "units": "2.5"}],
            }
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    api.get(f"/api/v1/invoices/{billed.id}")  # the key's first use
    return {"billed": str(billed.id), "one_off": response.json()["invoice"]["lago_id"]}


def _plain_get(self, request, invoice_id):
    """The read before `invoice_represented`."""
    return self.one(selectors.invoice_get(self.organization, invoice_id))


@pytest.mark.parametrize("which", ["billed", "one_off"])
@pytest.mark.parametrize("json", [True, False])
def test_the_invoice_answers_what_the_plain_read_answers(api, invoices, which, json, monkeypatch):
    if not json:
        monkeypatch.setattr(json_rows, "supported", lambda alias: False)
    path = f"/api/v1/invoices/{invoices[which]}"
    read = api.get(path)
    monkeypatch.setattr(views.InvoiceDetailView, "get", _plain_get)
    plain = api.get(path)
    assert read.status_code == plain.status_code == 200
    assert read.content == plain.content
    body = read.json()["invoice"]
    assert body["fees"] and body["applied_taxes"] and all(fee["applied_taxes"] for fee in body["fees"])
    if which == "one_off":
        assert body["customer"]["metadata"]
    else:
        assert body["subscriptions"] and body["billing_periods"]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="applied taxes ride on their rows on PostgreSQL")
def test_the_invoice_is_read_in_few_statements(api, invoices):
    _, sql = get_counted(api, f"/api/v1/invoices/{invoices['one_off']}")
    assert len(sql) == 4, sql  # the invoice, its fees (with their taxes), the customer's metadata and taxes
    _, sql = get_counted(api, f"/api/v1/invoices/{invoices['billed']}")
    assert len(sql) == 3, sql  # the invoice, its billing periods with their subscriptions, its fees


def test_another_tenants_invoice_is_404(invoices, other_tenant):
    assert other_tenant.client.get(f"/api/v1/invoices/{invoices['billed']}").status_code == 404
