"""`POST /events/estimate_instant_fees` and `/events/batch_estimate_instant_fees` (one event priced on
its own, Lago's instant estimate), and the fee shape every estimate returns (docs/metering.md,
"Fee estimates")."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from catalog.models import ChargeTax
from metering.models import Event
from subscriptions.selectors import SubscriptionRef
from tests.factories.catalog import ChargeFactory, ChargeFilterFactory, PlanFactory, TaxFactory
from tests.factories.customers import CustomerFactory
from tests.factories.metering import make_metric

pytestmark = pytest.mark.django_db

INSTANT = "/api/v1/events/estimate_instant_fees"
BATCH = "/api/v1/events/batch_estimate_instant_fees"
ESTIMATE = "/api/v1/events/estimate_fees"


@dataclass(frozen=True)
class Shop:
    organization: Any
    plan: Any
    metric: Any
    standard: Any
    percentage: Any
    ref: SubscriptionRef


@pytest.fixture
def shop(tenant, known_subscriptions) -> Shop:
    """A plan with pay-in-advance charges on `tx` (sum of `amount`): standard $0.50/unit and
    percentage 1.5 % + $0.20, min $1, max $3; a subscription `sub_i` of customer `cus_i`."""
    organization = tenant.organization
    plan = PlanFactory(organization=organization)
    metric = make_metric(organization, "tx", "sum_agg", field_name="amount", filters={"region": ["eu", "us"]})
    standard = ChargeFactory(
        plan=plan, billable_metric=metric, pay_in_advance=True, charge_model="standard", properties={"amount": "0.5"}
    )
    percentage = ChargeFactory(
        plan=plan,
        billable_metric=metric,
        pay_in_advance=True,
        charge_model="percentage",
        properties={
            "rate": "1.5",
            "fixed_amount": "0.2",
            "per_transaction_min_amount": "1",
            "per_transaction_max_amount": "3",
            "free_units_per_events": 2,
        },
    )
    customer = CustomerFactory(organization=organization, external_id="cus_i")
    ref = SubscriptionRef(
        id=uuid.uuid4(),
        external_id="sub_i",
        customer_id=customer.id,
        plan_id=plan.id,
        started_at=datetime(2020, 1, 1, tzinfo=UTC),
        terminated_at=None,
    )
    known_subscriptions.refs[(organization.id, "sub_i")] = ref
    return Shop(organization, plan, metric, standard, percentage, ref)


def event(**extra):
    payload = {"external_subscription_id": "sub_i", "code": "tx", "properties": {"amount": "40"}}
    payload.update(extra)
    return payload


def test_estimate_instant_fees_prices_the_event_on_its_own(api, shop):
    """40 units: standard 40 × 0.50 = $20; percentage 40 × 1.5 % + 0.20 = 0.80 → min $1 (the two
    free events of the charge depend on the period's usage and are not applied)."""
    standard = shop.standard
    percentage = shop.percentage
    ref = shop.ref
    response = api.post(INSTANT, {"event": event(transaction_id="tr_1")}, format="json")
    assert response.status_code == 200, response.content
    fees = {f["lago_charge_id"]: f for f in response.json()["fees"]}
    assert set(fees) == {str(standard.id), str(percentage.id)}
    std, pct = fees[str(standard.id)], fees[str(percentage.id)]
    assert (std["amount_cents"], std["units"], std["precise_unit_amount"]) == (2000, "40", "0.5")
    assert (pct["amount_cents"], pct["precise_amount"], pct["precise_unit_amount"]) == (100, "1", "0.025")
    for fee in (std, pct):
        assert fee["event_transaction_id"] == "tr_1"
        assert fee["lago_subscription_id"] == str(ref.id)
        assert fee["external_customer_id"] == "cus_i"
        assert fee["payment_status"] == "pending"
        assert fee["events_count"] == 1
        assert fee["pay_in_advance"] is True
        assert fee["from_date"] is None and fee["lago_id"] is None
    assert not Event.objects.exists()

    # 300 units: 300 × 1.5 % + 0.20 = 4.70 → max $3
    big = api.post(INSTANT, {"event": event(properties={"amount": 300})}, format="json").json()["fees"]
    assert {f["amount_cents"] for f in big} == {15000, 300}


def test_instant_transaction_id_is_generated_when_absent(api, shop):
    fees = api.post(INSTANT, {"event": event()}, format="json").json()["fees"]
    generated = {f["event_transaction_id"] for f in fees}
    assert len(generated) == 1
    uuid.UUID(generated.pop())  # a UUID, the same for both charges of the event


def test_instant_units_per_aggregation_and_filters(api, shop, known_subscriptions):
    organization = shop.organization
    plan = shop.plan
    standard = shop.standard
    eu = ChargeFilterFactory(charge=standard, values={"region": ["eu"]}, properties={"amount": "2"})
    fees = api.post(INSTANT, {"event": event(properties={"amount": "3", "region": "eu"})}, format="json").json()
    by_charge = {f["lago_charge_id"]: f for f in fees["fees"]}
    assert by_charge[str(standard.id)]["lago_charge_filter_id"] == str(eu.id)
    assert by_charge[str(standard.id)]["amount_cents"] == 600  # 3 × $2 (the eu filter's price)
    assert by_charge[str(standard.id)]["item"]["filters"] == {"region": ["eu"]}
    # no value: 0 units (standard $0; percentage 0 × rate + 0.20 → min $1)
    empty = api.post(INSTANT, {"event": event(properties={})}, format="json").json()["fees"]
    assert sorted(f["amount_cents"] for f in empty) == [0, 100]
    # a negative value prices nothing, not even the fixed fee
    negative = api.post(INSTANT, {"event": event(properties={"amount": "-5"})}, format="json").json()["fees"]
    assert [f["amount_cents"] for f in negative] == [0, 0]

    calls = make_metric(organization, "calls_i")
    ChargeFactory(plan=plan, billable_metric=calls, pay_in_advance=True, properties={"amount": "0.25"})
    seats = make_metric(organization, "seats_i", "unique_count_agg", field_name="user")
    ChargeFactory(plan=plan, billable_metric=seats, pay_in_advance=True, properties={"amount": "7"})
    one_call = api.post(INSTANT, {"event": event(code="calls_i", properties=None)}, format="json").json()
    assert [(f["units"], f["amount_cents"]) for f in one_call["fees"]] == [("1", 25)]
    added = api.post(INSTANT, {"event": event(code="seats_i", properties={"user": "a"})}, format="json").json()
    assert [f["amount_cents"] for f in added["fees"]] == [700]
    removed = api.post(
        INSTANT, {"event": event(code="seats_i", properties={"user": "a", "operation_type": "remove"})}, format="json"
    ).json()
    assert [f["amount_cents"] for f in removed["fees"]] == [0]


def test_instant_applies_the_fee_taxes(api, shop):
    organization = shop.organization
    standard = shop.standard
    ChargeTax.objects.create(charge=standard, tax=TaxFactory(organization=organization, code="vat20", rate="20"))
    fees = {f["lago_charge_id"]: f for f in api.post(INSTANT, {"event": event()}, format="json").json()["fees"]}
    std = fees[str(standard.id)]
    assert (std["amount_cents"], std["taxes_amount_cents"], std["total_amount_cents"]) == (2000, 400, 2400)
    assert std["taxes_rate"] == 20
    assert std["taxes_precise_amount"] == "4" and std["precise_total_amount"] == "24"
    assert std["applied_taxes"][0]["tax_code"] == "vat20"
    assert std["applied_taxes"][0]["created_at"] is None


def test_instant_refusals(api, shop, other_tenant, known_subscriptions):
    organization = shop.organization
    plan = shop.plan
    ref = shop.ref
    bad_value = api.post(INSTANT, {"event": event(properties={"amount": "many"})}, format="json")
    assert bad_value.status_code == 422
    assert bad_value.json()["error_details"] == {"properties.amount": ["value_is_invalid"]}
    unknown = api.post(INSTANT, {"event": event(external_subscription_id="ghost_9")}, format="json")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "subscription_not_found")
    no_charge = api.post(INSTANT, {"event": event(code="nothing")}, format="json")
    assert no_charge.status_code == 422
    assert no_charge.json()["error_details"] == {"code": ["does_not_match_an_instant_charge"]}
    assert api.post(INSTANT, {"event": event(code=None)}, format="json").status_code == 422
    assert api.post(INSTANT, {}, format="json").status_code == 400
    # another tenant does not see sub_i (its own lookup says every id but ghost* exists; it has
    # no charges on that plan): never this tenant's fees
    other = other_tenant.client.post(INSTANT, {"event": event()}, format="json")
    assert other.status_code in (404, 422) and "fees" not in other.json()
    ended = SubscriptionRef(
        id=uuid.uuid4(),
        external_id="sub_ended",
        customer_id=ref.customer_id,
        plan_id=plan.id,
        started_at=datetime(2020, 1, 1, tzinfo=UTC),
        terminated_at=datetime.now(UTC) - timedelta(days=1),
    )
    known_subscriptions.refs[(organization.id, "sub_ended")] = ended
    gone = api.post(INSTANT, {"event": event(external_subscription_id="sub_ended")}, format="json")
    assert (gone.status_code, gone.json()["code"]) == (404, "subscription_not_found")


def test_batch_estimate_instant_fees_groups_events_by_subscription(api, shop, known_subscriptions):
    organization = shop.organization
    metric = shop.metric
    standard = shop.standard
    percentage = shop.percentage
    ref = shop.ref
    other_plan = PlanFactory(organization=organization)
    other_charge = ChargeFactory(
        plan=other_plan, billable_metric=metric, pay_in_advance=True, properties={"amount": "0.1"}
    )
    known_subscriptions.refs[(organization.id, "sub_j")] = SubscriptionRef(
        id=uuid.uuid4(),
        external_id="sub_j",
        customer_id=ref.customer_id,
        plan_id=other_plan.id,
        started_at=datetime(2020, 1, 1, tzinfo=UTC),
        terminated_at=None,
    )
    body = {
        "events": [
            event(transaction_id="b1"),
            event(transaction_id="b2", external_subscription_id="sub_j", properties={"amount": "10"}),
            event(transaction_id="b3", code="unpriced"),  # no instant charge on this metric: no fee
            event(transaction_id="b4", properties={"amount": "2"}),
        ]
    }
    response = api.post(BATCH, body, format="json")
    assert response.status_code == 200, response.content
    fees = [(f["event_transaction_id"], f["lago_charge_id"], f["amount_cents"]) for f in response.json()["fees"]]
    assert fees == [
        ("b1", str(standard.id), 2000),
        ("b1", str(percentage.id), 100),
        ("b4", str(standard.id), 100),
        ("b4", str(percentage.id), 100),
        ("b2", str(other_charge.id), 100),
    ]


def test_batch_refusals(api, shop):
    too_many = api.post(BATCH, {"events": [event() for _ in range(101)]}, format="json")
    assert too_many.status_code == 422
    assert too_many.json()["error_details"] == {"events": ["too_many_events"]}
    bad = api.post(BATCH, {"events": [event(), event(code=None)]}, format="json")
    assert bad.status_code == 422
    assert "events.1.code" in bad.json()["error_details"]
    assert api.post(BATCH, {"events": "nope"}, format="json").status_code == 422
    assert api.post(BATCH, {}, format="json").status_code == 400
    unknown = api.post(BATCH, {"events": [event(external_subscription_id="ghost_2")]}, format="json")
    assert unknown.status_code == 404


def test_estimate_fees_transaction_id_is_optional_and_the_fee_has_every_field(api, shop):
    """estimate_fees without transaction_id (Lago generates one); the unsaved fee carries every key
    of a saved fee, with Lago's values for an estimate."""
    standard = shop.standard
    percentage = shop.percentage
    ref = shop.ref
    payload = {"external_subscription_id": "sub_i", "code": "tx", "properties": {"amount": "40"}}
    response = api.post(ESTIMATE, {"event": payload}, format="json")
    assert response.status_code == 200, response.content
    fees = {f["lago_charge_id"]: f for f in response.json()["fees"]}
    std = fees[str(standard.id)]
    uuid.UUID(std["event_transaction_id"])
    assert std["units"] == "40" and std["total_aggregated_units"] == "40"
    assert std["precise_unit_amount"] == "0.5"
    assert std["unit_amount_cents"] == 50
    assert std["payment_status"] == "pending"
    assert std["sub_total_excluding_taxes_amount_cents"] == 2000
    assert std["sub_total_excluding_taxes_precise_amount_cents"] == "2000"
    assert std["precise_coupons_amount_cents"] == "0.0"
    assert std["lago_subscription_id"] == str(ref.id) and std["lago_customer_id"] == str(ref.customer_id)
    assert std["created_at"] is None and std["lago_invoice_id"] is None
    # the percentage charge: its 2 free events cover this first event of the period
    assert fees[str(percentage.id)]["amount_cents"] == 0
