"""A weighted sum divides by the whole charges period (days × 86,400 s), as Lago does, also when the
window is only part of it: a first period starting mid-period, a terminated last period, in
current usage, invoices and previews (docs/metering.md, "Weighted sums")."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from invoicing.api.preview import preview_input
from invoicing.billing.run import customer_bill
from invoicing.services.preview import invoice_preview
from subscriptions.models import SubscriptionStatus
from tests.factories.invoicing import add_events, make_charge, make_customer, make_metric, make_plan, subscribe

pytestmark = pytest.mark.django_db


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def _storage_plan(organization, *, recurring: bool):
    plan = make_plan(organization, amount_cents=0)
    metric = make_metric(
        organization,
        "storage",
        "weighted_sum_agg",
        field_name="gb",
        recurring=recurring,
        weighted_interval="seconds",
    )
    make_charge(plan, metric, properties={"amount": "1"})
    return plan


def _usage(api, customer_id: str, sub_id: str) -> dict:
    response = api.get(f"/api/v1/customers/{customer_id}/current_usage?external_subscription_id={sub_id}")
    assert response.status_code == 200, response.json()
    return response.json()["customer_usage"]


def test_lagos_example_first_period_from_5_march_then_april(api, organization, monkeypatch):
    """Lago's weighted-sum scenario: created 5 March 2023, 2,500 GB on 5 March at $1 →
    2500 × 27/31 = 2,177.419… → 217,742 cents (not 250,000); April carries 2,500, −2,000 on the
    4th, −200 on the 6th → 2500×3/30 + 500×2/30 + 300×25/30 = 533.33… → 53,333 cents."""
    customer = make_customer(organization, external_id="cus_ws")
    sub = subscribe(customer, _storage_plan(organization, recurring=True), at(2023, 3, 5), external_id="sub_ws")
    add_events(sub, "storage", [at(2023, 3, 5)], gb=2500)

    monkeypatch.setattr("invoicing.selectors.timezone.now", lambda: at(2023, 3, 5, 12))
    march = _usage(api, "cus_ws", "sub_ws")
    assert march["from_datetime"] == "2023-03-05T00:00:00Z"
    assert march["amount_cents"] == 217_742
    assert march["charges_usage"][0]["units"].startswith("2177.41935483870967741935")

    assert march["charges_usage"][0]["total_aggregated_units"] == "2500.0"  # the level held

    [invoice] = customer_bill(customer.id, at=at(2023, 4, 1, 1))
    fee = invoice.fees.get(fee_type="charge")
    assert fee.amount_cents == 217_742
    assert round(fee.units, 5) == Decimal("2177.41935")
    assert fee.total_aggregated_units == 2500  # Lago: the level at the period's end

    add_events(sub, "storage", [at(2023, 4, 4)], gb=-2000)
    add_events(sub, "storage", [at(2023, 4, 6)], gb=-200)
    monkeypatch.setattr("invoicing.selectors.timezone.now", lambda: at(2023, 4, 6, 12))
    april = _usage(api, "cus_ws", "sub_ws")
    assert april["amount_cents"] == 53_333
    assert april["charges_usage"][0]["units"].startswith("533.3333333")
    assert april["charges_usage"][0]["total_aggregated_units"] == "300.0"
    [second] = customer_bill(customer.id, at=at(2023, 5, 1, 1))
    april_fee = second.fees.get(fee_type="charge")
    assert (april_fee.amount_cents, april_fee.total_aggregated_units) == (53_333, 300)


def test_terminated_last_period_divides_by_the_whole_month(organization):
    """100 GB held from 1 March 2024, terminated 11 March: 100 × 10/31 = 32.258… → 3,226 cents
    (the 10 days of the window alone would say 100 → 10,000)."""
    customer = make_customer(organization, external_id="cus_wt")
    sub = subscribe(customer, _storage_plan(organization, recurring=False), at(2024, 3, 1), external_id="sub_wt")
    add_events(sub, "storage", [at(2024, 3, 1)], gb=100)

    preview = invoice_preview(
        organization,
        preview_input(
            {
                "customer": {"external_id": "cus_wt"},
                "subscriptions": {"external_ids": ["sub_wt"], "terminated_at": "2024-03-11T00:00:00Z"},
            }
        ),
        now=at(2024, 3, 8),
    )
    [previewed] = [f for f in preview["fees"] if f["item"]["type"] == "charge"]
    assert previewed["amount_cents"] == 3226

    sub.status = SubscriptionStatus.TERMINATED
    sub.terminated_at = at(2024, 3, 11)
    sub.save()
    [invoice] = customer_bill(customer.id, at=at(2024, 3, 11, 1))
    fee = invoice.fees.get(fee_type="charge")
    assert fee.amount_cents == 3226
    assert round(fee.units, 6) == Decimal("32.258065")


def test_preview_of_a_first_period_started_mid_month(organization):
    """The preview of the running period bills what the run will: 2,500 × 27/31 → 217,742."""
    customer = make_customer(organization, external_id="cus_wp")
    sub = subscribe(customer, _storage_plan(organization, recurring=False), at(2023, 3, 5), external_id="sub_wp")
    add_events(sub, "storage", [at(2023, 3, 5)], gb=2500)
    preview = invoice_preview(
        organization,
        preview_input({"customer": {"external_id": "cus_wp"}, "subscriptions": {"external_ids": ["sub_wp"]}}),
        now=at(2023, 3, 20),
    )
    [previewed] = [f for f in preview["fees"] if f["item"]["type"] == "charge"]
    assert previewed["amount_cents"] == 217_742


def test_anniversary_period_in_the_customers_timezone(api, organization, monkeypatch):
    """Anniversary billing from 15 Jan 2023 10:00 UTC (19:00 in Tokyo): the charges period is
    15 Jan – 15 Feb in Tokyo, 31 days; 310 GB held from the start to the period's end (14 Feb
    15:00 UTC), 725 hours → 310 × 725/744 = 302.083… → 30,208 cents."""
    customer = make_customer(organization, external_id="cus_wa", timezone="Asia/Tokyo")
    sub = subscribe(
        customer,
        _storage_plan(organization, recurring=False),
        at(2023, 1, 15, 10),
        external_id="sub_wa",
        billing_time="anniversary",
    )
    add_events(sub, "storage", [at(2023, 1, 15, 10)], gb=310)

    monkeypatch.setattr("invoicing.selectors.timezone.now", lambda: at(2023, 2, 1))
    usage = _usage(api, "cus_wa", "sub_wa")
    assert usage["to_datetime"] == "2023-02-14T14:59:59Z"
    assert usage["amount_cents"] == 30_208

    [invoice] = customer_bill(customer.id, at=at(2023, 2, 14, 16))
    assert invoice.fees.get(fee_type="charge").amount_cents == 30_208


def test_window_covering_the_whole_period_is_unchanged(organization):
    """Lago's docs example, a full calendar month: 20 GB for 1 day + 30 GB for 15 days of 31 →
    (20 + 450)/31 = 15.16… → 1,516 cents."""
    customer = make_customer(organization)
    sub = subscribe(customer, _storage_plan(organization, recurring=False), at(2024, 2, 1))
    add_events(sub, "storage", [at(2024, 3, 1)], gb=20)
    add_events(sub, "storage", [at(2024, 3, 2)], gb=10)
    add_events(sub, "storage", [at(2024, 3, 17)], gb=-30)
    invoices = customer_bill(customer.id, at=at(2024, 4, 1, 1))
    march = [i for i in invoices if i.fees.filter(fee_type="charge", amount_cents__gt=0).exists()]
    assert [i.fees.get(fee_type="charge").amount_cents for i in march] == [1516]
