"""`/api/v1/analytics/*`: Lago's root keys and shapes, filters, validation, tenant isolation, and
the official lago-python-client."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from tests.factories.customers import CustomerFactory
from tests.factories.invoicing import make_charge, make_metric, make_plan
from tests.factories.reporting import make_fee, make_invoice, make_subscription

pytestmark = pytest.mark.django_db


def this_month() -> str:
    return f"{timezone.now():%Y-%m}-01T00:00:00.000Z"


def build(organization):
    today = timezone.now().date()
    customer = CustomerFactory(organization=organization, external_id="acme", currency="USD")
    plan = make_plan(organization, amount_cents=2500, currency="USD", interval="quarterly")
    charge = make_charge(plan, make_metric(organization, code="seats"))
    invoice = make_invoice(
        customer, today, 4321, payment_due_date=today, payment_overdue=True, total_paid_amount_cents=21
    )
    make_fee(invoice, 321, charge=charge)
    make_subscription(customer, plan, datetime.now(UTC) - timedelta(days=400))
    return invoice


def test_gross_revenue(api, organization):
    build(organization)
    body = api.get("/api/v1/analytics/gross_revenue", {"months": 2, "currency": "usd"}).json()
    assert list(body) == ["gross_revenues"]
    assert body["gross_revenues"][-1] == {
        "month": this_month(),
        "currency": "USD",
        "amount_cents": 4321,
        "invoices_count": 1,
    }
    assert len(body["gross_revenues"]) == 1  # only the month with an invoice, as Lago's server
    assert api.get("/v1/analytics/gross_revenue", {"external_customer_id": "nobody"}).json()["gross_revenues"] == []


def test_other_endpoints(api, organization):
    invoice = build(organization)
    usage = api.get("/api/v1/analytics/invoiced_usage", {"months": 1}).json()
    assert usage == {
        "invoiced_usages": [{"month": this_month(), "currency": "USD", "code": "seats", "amount_cents": 321}]
    }
    mrr = api.get("/api/v1/analytics/mrr", {"months": 1}).json()
    assert mrr == {"mrrs": [{"month": this_month(), "currency": "USD", "amount_cents": 833}]}  # 2500 x 4 / 12
    overdue = api.get("/api/v1/analytics/overdue_balance", {"months": 1}).json()
    assert overdue == {
        "overdue_balances": [
            {"month": this_month(), "currency": "USD", "amount_cents": 4300, "lago_invoice_ids": [str(invoice.id)]}
        ]
    }
    churn = api.get("/api/v1/analytics/churn", {"months": 1}).json()["churns"]
    assert churn[0]["customers_at_start"] == 1 and churn[0]["churn_rate"] == "0.0000"
    retention = api.get("/api/v1/analytics/net_revenue_retention", {"months": 1}).json()["net_revenue_retentions"]
    assert retention[0]["net_revenue_retention"] == "1.0000"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"months": "0"}, "months"),
        ({"months": "abc"}, "months"),
        ({"months": "121"}, "months"),
        ({"currency": "XXQ"}, "currency"),
    ],
)
def test_invalid_filters(api, params, field):
    response = api.get("/api/v1/analytics/mrr", params)
    assert response.status_code == 422
    assert response.json()["error_details"] == {field: ["value_is_invalid"]}


def test_requires_a_key(client):
    assert client.get("/api/v1/analytics/mrr").status_code == 401


def test_tenant_isolation(api, organization, other_tenant):
    build(organization)
    theirs = other_tenant.client.get("/api/v1/analytics/gross_revenue", {"months": 1}).json()
    assert theirs == {"gross_revenues": []}
    assert other_tenant.client.get("/api/v1/analytics/overdue_balance").json() == {"overdue_balances": []}
    assert other_tenant.client.get("/api/v1/analytics/churn").json() == {"churns": []}


@pytest.mark.django_db(transaction=True)
def test_lago_python_client(lago):
    build(lago.organization)
    client = lago.client
    revenue = client.gross_revenues.find_all({"months": 1})["gross_revenues"]
    assert revenue[0].amount_cents == 4321 and revenue[0].invoices_count == 1
    assert client.mrrs.find_all({"currency": "USD", "months": 1})["mrrs"][0].amount_cents == 833
    assert client.invoiced_usages.find_all()["invoiced_usages"][0].code == "seats"
    assert client.overdue_balances.find_all()["overdue_balances"][0].amount_cents == 4300
