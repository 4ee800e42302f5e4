"""`POST /events/estimate_fees` prices over the subscription's real charges period
(`subscriptions.selectors.charges_period_of_ref`: anniversary billing, the customer's timezone)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.factories.invoicing import (
    add_events,
    make_charge,
    make_customer,
    make_metric,
    make_plan,
    make_tax,
    subscribe,
    tax_plan,
)

pytestmark = pytest.mark.django_db


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def _seats(organization, *, timezone: str, billing_time: str):
    """A unique-count seat at $12, paid in advance; anniversary subscription from 15 March 2024."""
    customer = make_customer(organization, external_id=f"cus_{billing_time}", timezone=timezone)
    plan = make_plan(organization, amount_cents=0)
    metric = make_metric(organization, "seats", "unique_count_agg", field_name="user")
    make_charge(plan, metric, properties={"amount": "12"}, pay_in_advance=True)
    return subscribe(customer, plan, at(2024, 3, 15, 10), external_id=f"sub_{billing_time}", billing_time=billing_time)


def _estimate(api, sub, user: str, moment: datetime) -> dict:
    payload = {
        "external_subscription_id": sub.external_id,
        "code": "seats",
        "timestamp": int(moment.timestamp()),
        "properties": {"user": user},
    }
    response = api.post("/api/v1/events/estimate_fees", {"event": payload}, format="json")
    assert response.status_code == 200, response.content
    [fee] = response.json()["fees"]
    return fee


def test_anniversary_period_decides_what_was_already_paid(api, organization):
    """Anniversary on the 15th: `u1` paid on 10 April belongs to 15 March – 15 April, so on 20 April
    (period 15 April – 15 May) `u1` is a new seat again: $12. The UTC calendar month (1 April –
    1 May) would have found it paid: $0."""
    sub = _seats(organization, timezone="UTC", billing_time="anniversary")
    add_events(sub, "seats", [at(2024, 4, 10)], user="u1")
    fee = _estimate(api, sub, "u1", at(2024, 4, 20, 12))
    assert fee["amount_cents"] == 1200
    assert (fee["from_date"], fee["to_date"]) == ("2024-04-15T00:00:00.000Z", "2024-05-15T00:00:00.000Z")
    # within the same period, the seat is paid: $0
    add_events(sub, "seats", [at(2024, 4, 16)], user="u2")
    assert _estimate(api, sub, "u2", at(2024, 4, 20, 12))["amount_cents"] == 0


def test_period_boundaries_are_the_customers_local_midnight(api, organization):
    """A Tokyo customer (UTC+9): 15 April 01:00 in Tokyo is 14 April 16:00 UTC and already the new
    period [14 April 15:00 UTC, 14 May 15:00 UTC); `u2` paid at 14 April 14:00 UTC (23:00 in Tokyo,
    the previous period) is due again: $12."""
    sub = _seats(organization, timezone="Asia/Tokyo", billing_time="anniversary")
    add_events(sub, "seats", [at(2024, 4, 14, 14)], user="u2")
    fee = _estimate(api, sub, "u2", at(2024, 4, 14, 16))
    assert fee["amount_cents"] == 1200
    assert (fee["from_date"], fee["to_date"]) == ("2024-04-14T15:00:00.000Z", "2024-05-14T15:00:00.000Z")


def test_first_calendar_period_starts_with_the_subscription(api, organization):
    sub = _seats(organization, timezone="UTC", billing_time="calendar")
    fee = _estimate(api, sub, "u1", at(2024, 3, 20))
    assert (fee["from_date"], fee["to_date"]) == ("2024-03-15T10:00:00.000Z", "2024-04-01T00:00:00.000Z")


def test_an_estimate_has_every_key_of_the_saved_fee_and_of_its_published_schema(api, organization):
    """The estimate of an event and the fee billed for the same event have the same keys (item and
    applied taxes included); the OpenAPI serializer publishes exactly those keys."""
    from invoicing.representation import fee_payload
    from invoicing.services.advance import pay_in_advance_fees
    from metering.api.serializers import EstimatedFeeOutput

    customer = make_customer(organization, external_id="cus_shape")
    plan = make_plan(organization, amount_cents=0)
    make_charge(plan, make_metric(organization, "calls_shape"), properties={"amount": "3"}, pay_in_advance=True)
    tax_plan(plan, make_tax(organization, "10"))
    sub = subscribe(customer, plan, at(2024, 3, 1), external_id="sub_shape")
    payload = {"external_subscription_id": "sub_shape", "code": "calls_shape", "timestamp": 1710892800}
    response = api.post("/api/v1/events/estimate_fees", {"event": payload}, format="json")
    [estimate] = response.json()["fees"]
    add_events(sub, "calls_shape", [at(2024, 3, 20)])
    [fee] = pay_in_advance_fees(organization, external_subscription_ids=[sub.external_id], now=at(2024, 3, 20, 1))
    saved = fee_payload(fee)
    assert set(estimate) == set(saved) | {"description"}
    assert set(estimate["item"]) == set(saved["item"])
    assert set(estimate["applied_taxes"][0]) == set(saved["applied_taxes"][0])
    assert (estimate["amount_cents"], estimate["taxes_amount_cents"]) == (fee.amount_cents, fee.taxes_amount_cents)
    assert (estimate["amount_cents"], estimate["taxes_amount_cents"]) == (300, 30)
    assert set(EstimatedFeeOutput().fields) == set(estimate)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("estimate_fees", {"event": {"external_subscription_id": "sub_anniversary", "code": "seats"}}),
        ("estimate_instant_fees", {"event": {"external_subscription_id": "sub_anniversary", "code": "seats"}}),
        (
            "batch_estimate_instant_fees",
            {"events": [{"external_subscription_id": "sub_anniversary", "code": "seats"}]},
        ),
    ],
)
def test_another_tenant_cannot_estimate_on_this_subscription(api, organization, other_tenant, path, body):
    _seats(organization, timezone="UTC", billing_time="anniversary")
    make_metric(other_tenant.organization, "seats", "unique_count_agg", field_name="user")
    mine = api.post(f"/api/v1/events/{path}", body, format="json")
    assert mine.status_code == 200, mine.content
    theirs = other_tenant.client.post(f"/api/v1/events/{path}", body, format="json")
    assert (theirs.status_code, theirs.json()["code"]) == (404, "subscription_not_found")
