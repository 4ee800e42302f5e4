"""Pay-in-advance fees and period-end usage of an organization whose events live in ClickHouse
(docs/metering.md, "ClickHouse as the store of record"). Needs CLICKHOUSE_URL (a real server)."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest
from django.test import override_settings

from customers.models import Organization
from invoicing.billing.run import customer_bill
from invoicing.services.advance import pay_in_advance_fees
from metering.models import Event, EventKey
from tests.factories.invoicing import add_events, make_charge, make_customer, make_metric, make_plan, subscribe

CLICKHOUSE_URL = os.environ.get("CLICKHOUSE_URL", "")

pytestmark = [
    pytest.mark.clickhouse,
    pytest.mark.skipif(not CLICKHOUSE_URL, reason="CLICKHOUSE_URL is not set"),
    pytest.mark.django_db,
]

NOW = datetime(2024, 5, 20, 12, tzinfo=UTC)


def at(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


@override_settings(CLICKHOUSE_URL=CLICKHOUSE_URL)
def test_in_advance_events_are_billed_once_and_usage_events_are_billed_from_clickhouse(organization):
    Organization.objects.filter(id=organization.id).update(events_store="clickhouse")
    organization.refresh_from_db()
    customer = make_customer(organization)
    plan = make_plan(organization, amount_cents=0)
    seats = make_metric(organization, "seats", "count_agg")
    calls = make_metric(organization, "calls", "sum_agg", field_name="n")
    make_charge(plan, seats, model="standard", properties={"amount": "10"}, pay_in_advance=True)
    usage = make_charge(plan, calls, model="standard", properties={"amount": "2"})
    sub = subscribe(customer, plan, at(2024, 5, 1))
    add_events(sub, "seats", [at(2024, 5, 2), at(2024, 5, 3)])
    add_events(sub, "calls", [at(2024, 5, 4), at(2024, 5, 5), at(2024, 5, 6)], n=5)
    # PostgreSQL keeps the in-advance metric's events (its path reads them), not the others.
    assert set(Event.objects.filter(organization=organization).values_list("code", flat=True)) == {"seats"}
    assert EventKey.objects.filter(organization_id=organization.id).count() == 5
    fees = pay_in_advance_fees(organization, external_subscription_ids=[sub.external_id], now=NOW)
    assert [f.amount_cents for f in fees] == [1000, 1000]
    assert pay_in_advance_fees(organization, external_subscription_ids=[sub.external_id], now=NOW) == []
    [invoice] = customer_bill(customer.id, at=at(2024, 6, 1, 1))
    [fee] = invoice.fees.filter(charge=usage)
    assert (fee.units, fee.amount_cents) == (15, 3000)
