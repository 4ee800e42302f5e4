"""`GET /analytics/invoice_collection` and `GET /analytics/usage`: Lago's root keys, shapes and
filters, worked-out figures, 422 on bad filters, tenant isolation, lago-python-client."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from invoicing.models import Invoice
from reporting.collection import invoice_collection
from reporting.usage import UsageFilters, usages
from tests.factories.customers import CustomerFactory
from tests.factories.invoicing import make_charge, make_metric, make_plan
from tests.factories.reporting import analytics_data_set, make_fee, make_invoice, make_subscription

pytestmark = pytest.mark.django_db

TODAY = date(2024, 6, 15)


def _month(year: int, month: int) -> str:
    return f"{year}-{month:02d}-01T00:00:00.000Z"


def test_invoice_collection_by_month_status_and_currency(organization):
    data = analytics_data_set(organization)
    Invoice.objects.filter(id=data["inv7"].id).update(payment_status="succeeded")
    rows = invoice_collection(organization, months=4, today=TODAY)
    empty = {"payment_status": None, "currency": None, "invoices_count": 0, "amount_cents": 0}
    assert rows == [
        # March: c3's 1,234 EUR; February: inv7 paid (voided and draft invoices do not count)
        {
            "month": _month(2024, 3),
            "payment_status": "pending",
            "currency": "EUR",
            "invoices_count": 1,
            "amount_cents": 1234,
        },
        {"month": _month(2024, 4), **empty},
        {"month": _month(2024, 5), **empty},
        {"month": _month(2024, 6), **empty},
    ]
    six = invoice_collection(organization, months=6, today=TODAY)
    assert six[:2] == [
        {
            "month": _month(2024, 1),
            "payment_status": "pending",
            "currency": "USD",
            "invoices_count": 2,
            "amount_cents": 15050,
        },
        {
            "month": _month(2024, 2),
            "payment_status": "succeeded",
            "currency": "USD",
            "invoices_count": 1,
            "amount_cents": 3000,
        },
    ]
    # A currency asked for: only the months that have some (as Lago).
    assert [r["month"] for r in invoice_collection(organization, months=6, currency="EUR", today=TODAY)] == [
        _month(2024, 3)
    ]
    by_customer = invoice_collection(organization, months=6, external_customer_id="c2", today=TODAY)
    assert [(r["month"], r["invoices_count"], r["amount_cents"]) for r in by_customer if r["invoices_count"]] == [
        (_month(2024, 1), 1, 5050),
        (_month(2024, 2), 1, 3000),
    ]


def test_usage_by_day_week_and_month(organization):
    analytics_data_set(organization)
    monthly = usages(organization, UsageFilters(time_granularity="monthly", from_date=date(2024, 1, 1)), today=TODAY)
    assert [
        (
            r["start_of_period_dt"],
            r["end_of_period_dt"],
            r["amount_currency"],
            r["billable_metric_code"],
            r["amount_cents"],
        )
        for r in monthly
    ] == [
        ("2024-01-01", "2024-01-31", "USD", "api_calls", 4250),
        ("2024-01-01", "2024-01-31", "USD", "storage", 1500),
        ("2024-03-01", "2024-03-31", "EUR", "api_calls", 1000),
    ]
    assert monthly[0]["organization_id"] == str(organization.id)
    assert monthly[0]["is_billable_metric_deleted"] is False
    weekly = usages(organization, UsageFilters(time_granularity="weekly", from_date=date(2024, 1, 1)), today=TODAY)
    # 2024-01-10 is in the week of Monday 8 January, 2024-01-20 in the week of the 15th.
    assert [(r["start_of_period_dt"], r["end_of_period_dt"], r["amount_cents"]) for r in weekly[:3]] == [
        ("2024-01-08", "2024-01-14", 4000),
        ("2024-01-08", "2024-01-14", 1500),
        ("2024-01-15", "2024-01-21", 250),
    ]
    daily = usages(organization, UsageFilters(from_date=date(2024, 3, 1), to_date=date(2024, 3, 1)), today=TODAY)
    assert [(r["start_of_period_dt"], r["end_of_period_dt"], r["amount_cents"]) for r in daily] == [
        ("2024-03-01", "2024-03-01", 1000)
    ]
    # The default range is the last 30 days.
    assert usages(organization, UsageFilters(), today=TODAY) == []


def _usage_data(organization):
    today = timezone.now().date()
    company = CustomerFactory(
        organization=organization, external_id="acme", currency="USD", customer_type="company", country="FR"
    )
    person = CustomerFactory(
        organization=organization, external_id="jo", currency="USD", customer_type="individual", country="US"
    )
    plan = make_plan(organization, code="pro", amount_cents=100, currency="USD")
    seats = make_metric(organization, code="seats", recurring=True)
    calls = make_metric(organization, code="calls")
    subscription = make_subscription(company, plan, timezone.now() - timedelta(days=40), external_id="sub-acme")
    first = make_invoice(company, today, 700)
    make_fee(first, 500, charge=make_charge(plan, seats), subscription=subscription, units="2.5")
    make_fee(first, 200, charge=make_charge(plan, calls), subscription=subscription, units="40")
    make_fee(make_invoice(person, today, 90), 90, charge=make_charge(plan, calls), units="3")
    return today


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, [("calls", 290, "43.0"), ("seats", 500, "2.5")]),
        ({"customer_type": "individual"}, [("calls", 90, "3.0")]),
        ({"customer_country": "FR"}, [("calls", 200, "40.0"), ("seats", 500, "2.5")]),
        ({"external_customer_id": "jo"}, [("calls", 90, "3.0")]),
        ({"external_subscription_id": "sub-acme", "billable_metric_code": "seats"}, [("seats", 500, "2.5")]),
        ({"is_billable_metric_recurring": "true"}, [("seats", 500, "2.5")]),
        (
            {"plan_code": "pro", "currency": "usd", "time_granularity": "monthly"},
            [("calls", 200, "40.0"), ("seats", 500, "2.5")],
        ),
        ({"currency": "EUR"}, []),
    ],
)
def test_usage_api_filters(api, organization, query, expected):
    _usage_data(organization)
    body = api.get("/api/v1/analytics/usage", query).json()
    assert list(body) == ["usages"]
    assert [(r["billable_metric_code"], r["amount_cents"], r["units"]) for r in body["usages"]] == expected


@pytest.mark.parametrize(
    ("route", "params", "field"),
    [
        ("usage", {"time_granularity": "hourly"}, "time_granularity"),
        ("usage", {"from_date": "yesterday"}, "from_date"),
        ("usage", {"currency": "XXQ"}, "currency"),
        ("usage", {"customer_type": "robot"}, "customer_type"),
        ("usage", {"is_billable_metric_recurring": "maybe"}, "is_billable_metric_recurring"),
        ("invoice_collection", {"months": "0"}, "months"),
        ("invoice_collection", {"currency": "XXQ"}, "currency"),
    ],
)
def test_bad_filters_are_422(api, route, params, field):
    response = api.get(f"/v1/analytics/{route}", params)
    assert response.status_code == 422
    assert list(response.json()["error_details"]) == [field]


def test_another_organization_sees_none_of_it(api, organization, other_tenant):
    _usage_data(organization)
    assert api.get("/api/v1/analytics/usage").json()["usages"]
    assert other_tenant.client.get("/api/v1/analytics/usage").json() == {"usages": []}
    assert other_tenant.client.get("/api/v1/analytics/usage", {"external_customer_id": "acme"}).json() == {"usages": []}
    theirs = other_tenant.client.get("/api/v1/analytics/invoice_collection", {"months": 1}).json()
    assert [r["invoices_count"] for r in theirs["invoice_collections"]] == [0]
    ours = api.get("/api/v1/analytics/invoice_collection", {"months": 1}).json()["invoice_collections"]
    assert [(r["payment_status"], r["currency"], r["invoices_count"], r["amount_cents"]) for r in ours] == [
        ("pending", "USD", 2, 790)
    ]


@pytest.mark.django_db(transaction=True)
def test_lago_python_client(lago):
    _usage_data(lago.organization)
    [collected] = lago.client.invoice_collections.find_all({"months": 1})["invoice_collections"]
    assert (collected.invoices_count, collected.amount_cents, collected.currency) == (2, 790, "USD")
    used = lago.client.usages.find_all({"billable_metric_code": "seats"})["usages"]
    assert [(u.billable_metric_code, u.amount_cents, u.units) for u in used] == [("seats", 500, 2.5)]
