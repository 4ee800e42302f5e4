"""Lago's official Python client reads current usage: a unique count reports its distinct values
as `events_count` (docs/metering.md)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.factories.invoicing import add_events, make_charge, make_customer, make_metric, make_plan, subscribe

pytestmark = pytest.mark.django_db(transaction=True)


def test_current_usage_unique_count_events_count_with_lago_client(lago):
    organization = lago.organization
    customer = make_customer(organization, external_id="lc-seats-cus")
    plan = make_plan(organization, amount_cents=0)
    seats = make_metric(organization, "lc_seats", "unique_count_agg", field_name="user")
    make_charge(plan, seats, properties={"amount": "4"})
    calls = make_metric(organization, "lc_calls_n")
    make_charge(plan, calls, properties={"amount": "1"})
    sub = subscribe(customer, plan, datetime(2024, 1, 1, tzinfo=UTC), external_id="lc-seats-sub")
    now = datetime.now(UTC).replace(microsecond=0)
    add_events(sub, "lc_seats", [now, now, now], user="ann")
    add_events(sub, "lc_seats", [now], user="bob")
    add_events(sub, "lc_calls_n", [now] * 4)

    usage = lago.client.customers.current_usage("lc-seats-cus", "lc-seats-sub")
    by_code = {c.billable_metric.code: c for c in usage.charges_usage}
    assert by_code["lc_seats"].units == "2.0"
    assert by_code["lc_seats"].events_count == 2  # 4 events, 2 distinct users
    assert by_code["lc_seats"].amount_cents == 800
    assert by_code["lc_calls_n"].events_count == 4  # a count is still its events
    assert usage.amount_cents == 1200
