"""What current usage and invoices report for unique counts: `events_count` is the number of
distinct values counted (Lago sets the count to the aggregation), not the number of events."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from invoicing.billing.run import customer_bill
from tests.factories.invoicing import add_events, make_charge, make_customer, make_metric, make_plan, subscribe

pytestmark = pytest.mark.django_db


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def _seats_plan(organization, **metric_extra):
    plan = make_plan(organization, amount_cents=0)
    metric = make_metric(organization, "seats", "unique_count_agg", field_name="user", **metric_extra)
    make_charge(plan, metric, properties={"amount": "3"})
    return plan


def _five_events_two_seats(sub):
    """a, a, b, c, then c removed: 5 events, 2 distinct values present at the end."""
    add_events(sub, "seats", [at(2024, 4, 2), at(2024, 4, 3)], user="a")
    add_events(sub, "seats", [at(2024, 4, 4)], user="b")
    add_events(sub, "seats", [at(2024, 4, 5)], user="c")
    add_events(sub, "seats", [at(2024, 4, 6)], user="c", operation_type="remove")


def test_current_usage_unique_count_events_count_is_the_distinct_values(api, organization, monkeypatch):
    monkeypatch.setattr("invoicing.selectors.timezone.now", lambda: at(2024, 4, 20, 12))
    customer = make_customer(organization, external_id="cus_seats")
    sub = subscribe(customer, _seats_plan(organization), at(2024, 4, 1), external_id="sub_seats")
    _five_events_two_seats(sub)
    response = api.get("/api/v1/customers/cus_seats/current_usage?external_subscription_id=sub_seats")
    assert response.status_code == 200, response.json()
    [charge] = response.json()["customer_usage"]["charges_usage"]
    assert charge["units"] == "2.0"
    assert charge["events_count"] == 2  # distinct values, not the 5 events
    assert charge["amount_cents"] == 600


def test_unique_count_fee_events_count_matches_current_usage(organization):
    customer = make_customer(organization)
    sub = subscribe(customer, _seats_plan(organization), at(2024, 4, 1))
    _five_events_two_seats(sub)
    [invoice] = customer_bill(customer.id, at=at(2024, 5, 1, 1))
    fee = invoice.fees.get(fee_type="charge")
    assert (fee.units, fee.events_count, fee.amount_cents) == (2, 2, 600)


def test_unique_count_with_filters_and_groups_counts_distinct_values_per_bucket(api, organization, monkeypatch):
    monkeypatch.setattr("invoicing.selectors.timezone.now", lambda: at(2024, 4, 20, 12))
    customer = make_customer(organization, external_id="cus_g")
    plan = make_plan(organization, amount_cents=0)
    metric = make_metric(organization, "seats_g", "unique_count_agg", field_name="user")
    make_charge(plan, metric, properties={"amount": "1"}, pricing_group_keys=["team"])
    sub = subscribe(customer, plan, at(2024, 4, 1), external_id="sub_g")
    add_events(sub, "seats_g", [at(2024, 4, 2)] * 3, user="a", team="x")  # 3 events, 1 value
    add_events(sub, "seats_g", [at(2024, 4, 2)], user="b", team="x")
    add_events(sub, "seats_g", [at(2024, 4, 3)] * 2, user="a", team="y")  # 2 events, 1 value
    body = api.get("/api/v1/customers/cus_g/current_usage?external_subscription_id=sub_g").json()
    [charge] = body["customer_usage"]["charges_usage"]
    groups = {g["grouped_by"]["team"]: g for g in charge["grouped_usage"]}
    assert (groups["x"]["units"], groups["x"]["events_count"]) == ("2.0", 2)
    assert (groups["y"]["units"], groups["y"]["events_count"]) == ("1.0", 1)
    assert charge["events_count"] == 3


def test_recurring_unique_count_counts_the_carried_values(api, organization, monkeypatch):
    """A recurring unique count carries the values of earlier periods: May counts a and b (from
    April) and d (May), 1 May event → events_count 3."""
    monkeypatch.setattr("invoicing.selectors.timezone.now", lambda: at(2024, 5, 20, 12))
    customer = make_customer(organization, external_id="cus_r")
    sub = subscribe(customer, _seats_plan(organization, recurring=True), at(2024, 4, 1), external_id="sub_r")
    _five_events_two_seats(sub)
    add_events(sub, "seats", [at(2024, 5, 2)], user="d")
    body = api.get("/api/v1/customers/cus_r/current_usage?external_subscription_id=sub_r").json()
    [charge] = body["customer_usage"]["charges_usage"]
    assert (charge["units"], charge["events_count"], charge["amount_cents"]) == ("3.0", 3, 900)
