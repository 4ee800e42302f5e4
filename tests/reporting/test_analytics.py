"""Analytics on a known data set (tests/factories/reporting.py), worked out by hand."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from reporting import selectors
from tests.factories.customers import CustomerFactory
from tests.factories.reporting import analytics_data_set, make_invoice

pytestmark = pytest.mark.django_db

TODAY = date(2024, 6, 15)
MONTHS = [f"2024-{m:02d}-01T00:00:00.000Z" for m in range(1, 7)]


def by_key(rows, *keys):
    return {tuple(row[k] for k in keys): row for row in rows}


@pytest.fixture
def data(organization):
    return analytics_data_set(organization)


def test_month_range_crosses_years():
    months = selectors.month_range(3, today=date(2024, 2, 29))
    assert [m.label for m in months] == [
        "2023-12-01T00:00:00.000Z",
        "2024-01-01T00:00:00.000Z",
        "2024-02-01T00:00:00.000Z",
    ]
    assert months[0].end == date(2024, 1, 1)


def test_gross_revenue_by_month_and_currency(organization, data):
    rows = selectors.gross_revenue(organization, months=6, today=TODAY)
    # January: 10000 + 5050; February: 3000 minus a 2000 refund (the voided credit note and the
    # voided/draft invoices do not count); March: 1234 EUR. Months without data have no row.
    assert [(r["month"], r["currency"], r["amount_cents"], r["invoices_count"]) for r in rows] == [
        (MONTHS[0], "USD", 15050, 2),
        (MONTHS[1], "USD", 1000, 1),
        (MONTHS[2], "EUR", 1234, 1),
    ]


def test_gross_revenue_series_fills_every_month(organization, data):
    rows = selectors.gross_revenue_series(organization, months=6, today=TODAY)
    assert len(rows) == 12  # six months x (EUR, USD)
    got = {(r["month"], r["currency"]): (r["amount_cents"], r["invoices_count"]) for r in rows}
    # January: 10000 + 5050; February: 3000 minus a 2000 refund (the voided credit note and the
    # voided/draft invoices do not count); March: 1234 EUR.
    assert got[(MONTHS[0], "USD")] == (15050, 2)
    assert got[(MONTHS[1], "USD")] == (1000, 1)
    assert got[(MONTHS[2], "USD")] == (0, 0)
    assert got[(MONTHS[2], "EUR")] == (1234, 1)
    assert got[(MONTHS[0], "EUR")] == (0, 0)
    assert sum(a for a, _ in got.values()) == 15050 + 1000 + 1234


def test_gross_revenue_series_without_data_has_null_rows(organization):
    rows = selectors.gross_revenue_series(organization, months=2, today=TODAY)
    assert rows == [
        {"month": "2024-05-01T00:00:00.000Z", "currency": None, "amount_cents": None, "invoices_count": 0},
        {"month": "2024-06-01T00:00:00.000Z", "currency": None, "amount_cents": None, "invoices_count": 0},
    ]


def test_gross_revenue_filters(organization, data):
    rows = selectors.gross_revenue(organization, months=6, today=TODAY, external_customer_id="c2")
    got = {r["month"]: r["amount_cents"] for r in rows}
    assert got == {MONTHS[0]: 5050, MONTHS[1]: 3000}
    eur = selectors.gross_revenue(organization, months=6, today=TODAY, currency="EUR")
    assert [(r["month"], r["currency"], r["amount_cents"]) for r in eur] == [(MONTHS[2], "EUR", 1234)]


def test_gross_revenue_without_data_has_no_rows(organization):
    assert selectors.gross_revenue(organization, months=2, today=TODAY) == []


def test_invoiced_usage_by_metric(organization, data):
    rows = selectors.invoiced_usage(organization, months=6, today=TODAY)
    assert rows == [
        {"month": MONTHS[0], "currency": "USD", "code": "api_calls", "amount_cents": 4250},
        {"month": MONTHS[0], "currency": "USD", "code": "storage", "amount_cents": 1500},
        {"month": MONTHS[2], "currency": "EUR", "code": "api_calls", "amount_cents": 1000},
    ]
    assert selectors.invoiced_usage(organization, months=6, today=TODAY, currency="EUR") == [rows[2]]


def test_overdue_balances(organization, data):
    rows = selectors.overdue_balances(organization, months=6, today=TODAY)
    assert rows == [
        {
            "month": MONTHS[1],
            "currency": "USD",
            "amount_cents": 5000,
            "lago_invoice_ids": [str(data["inv2"].id)],
        },
        {
            "month": MONTHS[2],
            "currency": "USD",
            "amount_cents": 3000,
            "lago_invoice_ids": [str(data["inv7"].id)],
        },
    ]
    assert selectors.overdue_balances(organization, months=6, today=TODAY, external_customer_id="c1") == []


def test_mrr_normalizes_intervals(organization, data):
    rows = selectors.mrr(organization, months=6, today=TODAY)
    got = {(r["month"], r["currency"]): r["amount_cents"] for r in rows}
    # USD: monthly 1000 (x12) + weekly 700 (x52) = 48400/yr -> 4033.33 -> 4033; with the yearly
    # 12000 plan (Feb 10 .. Apr 20) 60400/yr -> 5033.
    assert [got[(m, "USD")] for m in MONTHS] == [4033, 5033, 5033, 4033, 4033, 4033]
    # EUR: quarterly 3001 (x4) = 12004 -> 1000.33 -> 1000 from March; semiannual 600 (x2) counts
    # once its trial ended (May 10): 13204 -> 1100.33 -> 1100.
    assert [got[(m, "EUR")] for m in MONTHS] == [0, 0, 1000, 1000, 1100, 1100]


def test_mrr_is_one_query(organization, data):
    with CaptureQueriesContext(connection) as queries:
        selectors.mrr(organization, months=12, today=TODAY)
    assert len(queries) == 1


def test_churn_by_month(organization, data):
    rows = by_key(selectors.churn(organization, months=6, today=TODAY), "month", "currency")
    assert rows[(MONTHS[0], "USD")] == {
        "month": MONTHS[0],
        "currency": "USD",
        "customers_at_start": 1,
        "churned_customers": 0,
        "new_customers": 0,
        "churn_rate": "0.0000",
    }
    assert rows[(MONTHS[1], "USD")]["new_customers"] == 1  # c2 started February 10
    april = rows[(MONTHS[3], "USD")]
    assert (april["customers_at_start"], april["churned_customers"], april["churn_rate"]) == (2, 1, "0.5000")
    assert rows[(MONTHS[4], "USD")]["customers_at_start"] == 1
    assert rows[(MONTHS[2], "EUR")]["new_customers"] == 1
    assert rows[(MONTHS[0], "EUR")]["churn_rate"] is None  # nobody paying at the start


def test_net_revenue_retention(organization, data):
    rows = by_key(selectors.net_revenue_retention(organization, months=6, today=TODAY), "month", "currency")
    # February: the cohort is c1 only (c2 started on the 10th, new revenue is excluded).
    assert rows[(MONTHS[1], "USD")]["net_revenue_retention"] == "1.0000"
    assert rows[(MONTHS[1], "USD")]["starting_mrr_cents"] == 4033
    # April: c2's yearly plan ends on the 20th: 48400 / 60400.
    april = rows[(MONTHS[3], "USD")]
    assert (april["starting_mrr_cents"], april["retained_mrr_cents"], april["net_revenue_retention"]) == (
        5033,
        4033,
        "0.8013",
    )
    # May, EUR: c3's trial ends and the semiannual plan expands it: 13204 / 12004.
    assert rows[(MONTHS[4], "EUR")]["net_revenue_retention"] == "1.1000"
    assert rows[(MONTHS[0], "EUR")]["net_revenue_retention"] is None


def test_tenant_isolation(organization, other_tenant, data):
    other = CustomerFactory(organization=other_tenant.organization, external_id="c1", currency="USD")
    make_invoice(other, date(2024, 1, 5), 99999)
    rows = selectors.gross_revenue(organization, months=6, today=TODAY, currency="USD")
    assert rows[0]["amount_cents"] == 15050
    theirs = selectors.gross_revenue(other_tenant.organization, months=6, today=TODAY)
    assert [r["amount_cents"] for r in theirs] == [99999]
    assert selectors.mrr(other_tenant.organization, months=1, today=TODAY)[0]["amount_cents"] is None
    assert selectors.churn(other_tenant.organization, months=6, today=TODAY) == []


def test_a_customer_paying_in_two_currencies_counts_in_both(organization):
    """docs/billing-semantics.md §6.9: analytics group by the subscription's (plan's) currency, not
    the customer's default; a customer paying in USD and EUR is in both rows, and churns in EUR
    alone when its EUR subscription stops."""
    from tests.factories.invoicing import make_plan
    from tests.factories.reporting import at, make_subscription

    both = CustomerFactory(organization=organization, external_id="both", currency="USD")
    usd = make_plan(organization, amount_cents=1000, currency="USD")
    eur = make_plan(organization, amount_cents=3000, currency="EUR")
    make_subscription(both, usd, at(2024, 1, 1))
    make_subscription(both, eur, at(2024, 1, 1), status="terminated", terminated_at=at(2024, 4, 20))
    make_invoice(both, date(2024, 2, 1), 1000, currency="USD")
    make_invoice(both, date(2024, 2, 1), 3600, currency="EUR")

    revenue = by_key(selectors.gross_revenue(organization, months=6, today=TODAY), "month", "currency")
    assert revenue[(MONTHS[1], "USD")]["amount_cents"] == 1000
    assert revenue[(MONTHS[1], "EUR")]["amount_cents"] == 3600
    mrr = by_key(selectors.mrr(organization, months=6, today=TODAY), "month", "currency")
    assert (mrr[(MONTHS[2], "USD")]["amount_cents"], mrr[(MONTHS[2], "EUR")]["amount_cents"]) == (1000, 3000)
    assert (mrr[(MONTHS[3], "USD")]["amount_cents"], mrr[(MONTHS[3], "EUR")]["amount_cents"]) == (1000, 0)

    churn = by_key(selectors.churn(organization, months=6, today=TODAY), "month", "currency")
    april_usd, april_eur = churn[(MONTHS[3], "USD")], churn[(MONTHS[3], "EUR")]
    assert (april_usd["customers_at_start"], april_usd["churned_customers"]) == (1, 0)
    assert (april_eur["customers_at_start"], april_eur["churned_customers"], april_eur["churn_rate"]) == (
        1,
        1,
        "1.0000",
    )
    nrr = by_key(selectors.net_revenue_retention(organization, months=6, today=TODAY), "month", "currency")
    assert nrr[(MONTHS[3], "USD")]["net_revenue_retention"] == "1.0000"
    assert (nrr[(MONTHS[3], "EUR")]["starting_mrr_cents"], nrr[(MONTHS[3], "EUR")]["retained_mrr_cents"]) == (3000, 0)
    ltv = {row["currency"]: row for row in selectors.customer_lifetime_value(organization, months=6, today=TODAY)}
    assert ltv["USD"]["paying_customers"] == 1 and "EUR" not in ltv  # nobody pays in EUR in June
