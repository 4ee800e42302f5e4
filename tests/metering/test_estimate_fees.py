"""POST /events/estimate_fees: Lago's pay-in-advance examples (docs/billing-semantics.md §5.3), nothing stored."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from metering import services
from metering.models import Event, UsageRollup
from tests.factories.catalog import ChargeFactory, ChargeFilterFactory, PlanFactory
from tests.factories.metering import event_payload, make_metric

pytestmark = pytest.mark.django_db

NOW = int(datetime.now(UTC).timestamp())


def setup_charge(organization, known_subscriptions, metric, *, properties, **charge):
    plan = PlanFactory(organization=organization)
    charge.setdefault("charge_model", "standard")
    created = ChargeFactory(plan=plan, billable_metric=metric, pay_in_advance=True, properties=properties, **charge)
    known_subscriptions.add(organization, "sub_adv", datetime(2020, 1, 1, tzinfo=UTC), plan_id=plan.id)
    return created


def estimate(api, **event):
    payload = {"transaction_id": "est", "external_subscription_id": "sub_adv", "timestamp": NOW, "properties": None}
    payload.update(event)
    return api.post("/api/v1/events/estimate_fees", {"event": payload}, format="json")


def test_count_standard_ten_dollars(tenant, api, known_subscriptions):
    metric = make_metric(tenant.organization, "calls")
    charge = setup_charge(tenant.organization, known_subscriptions, metric, properties={"amount": "10"})
    response = estimate(api, code="calls")
    assert response.status_code == 200, response.content
    (fee,) = response.json()["fees"]
    assert fee["lago_id"] is None
    assert fee["lago_charge_id"] == str(charge.id)
    assert fee["amount_cents"] == 1000
    assert fee["amount_currency"] == "USD"
    assert fee["units"] == "1"
    assert fee["event_transaction_id"] == "est"
    assert fee["item"]["code"] == "calls"
    assert not Event.objects.exists()
    assert not UsageRollup.objects.exists()


def test_unique_count_twelve_dollars_already_paid_value_is_free(tenant, api, known_subscriptions):
    metric = make_metric(tenant.organization, "seats", "unique_count_agg", field_name="id")
    setup_charge(tenant.organization, known_subscriptions, metric, properties={"amount": "12"})
    assert estimate(api, code="seats", properties={"id": "id_1"}).json()["fees"][0]["amount_cents"] == 1200
    services.events_ingest(
        tenant.organization,
        [event_payload("a", code="seats", sub="sub_adv", timestamp=NOW - 10, properties={"id": "id_1"})],
    )
    assert estimate(api, code="seats", properties={"id": "id_1"}).json()["fees"][0]["amount_cents"] == 0
    assert estimate(api, code="seats", properties={"id": "id_2"}).json()["fees"][0]["amount_cents"] == 1200
    assert Event.objects.count() == 1


def test_filter_bucket_prices_the_event(tenant, api, known_subscriptions):
    metric = make_metric(tenant.organization, "api", filters={"region": ["eu", "us"]})
    charge = setup_charge(tenant.organization, known_subscriptions, metric, properties={"amount": "1"})
    eu = ChargeFilterFactory(charge=charge, values={"region": ["eu"]}, properties={"amount": "2"})
    fee = estimate(api, code="api", properties={"region": "eu"}).json()["fees"][0]
    assert (fee["amount_cents"], fee["lago_charge_filter_id"]) == (200, str(eu.id))
    fee = estimate(api, code="api", properties={"region": "us"}).json()["fees"][0]
    assert (fee["amount_cents"], fee["lago_charge_filter_id"]) == (100, None)


def test_no_pay_in_advance_charge_is_422(tenant, api, known_subscriptions):
    metric = make_metric(tenant.organization, "calls")
    plan = PlanFactory(organization=tenant.organization)
    ChargeFactory(plan=plan, billable_metric=metric, pay_in_advance=False)
    known_subscriptions.add(tenant.organization, "sub_adv", datetime(2020, 1, 1, tzinfo=UTC), plan_id=plan.id)
    response = estimate(api, code="calls")
    assert response.status_code == 422
    assert response.json()["error_details"] == {"code": ["does_not_match_an_instant_charge"]}


def test_unknown_subscription_or_metric_is_404(tenant, api, known_subscriptions):
    make_metric(tenant.organization, "calls")
    response = estimate(api, code="calls", external_subscription_id="ghost_1")
    assert response.status_code == 404
    assert response.json()["code"] == "subscription_not_found"
    response = estimate(api, code="nope")
    assert response.status_code == 404
    assert response.json()["code"] == "billable_metric_not_found"
    assert estimate(api, code="calls", timestamp="bad").status_code == 422


def test_estimate_is_the_fee_billing_would_create_unique_count_peak(tenant, api, known_subscriptions):
    """$12 a value: id_1 added then removed; id_2 makes 1 value present, the peak is already 1 →
    0 (as the instant fee; the usage at the end alone would say 1,200)."""
    metric = make_metric(tenant.organization, "seats", "unique_count_agg", field_name="id")
    setup_charge(tenant.organization, known_subscriptions, metric, properties={"amount": "12"})
    services.events_ingest(
        tenant.organization,
        [
            event_payload("a", code="seats", sub="sub_adv", timestamp=NOW - 20, properties={"id": "id_1"}),
            event_payload(
                "b",
                code="seats",
                sub="sub_adv",
                timestamp=NOW - 10,
                properties={"id": "id_1", "operation_type": "remove"},
            ),
        ],
    )
    fee = estimate(api, code="seats", properties={"id": "id_2"}).json()["fees"][0]
    assert (fee["amount_cents"], fee["units"]) == (0, "1")


def test_estimate_prices_the_events_pricing_group(tenant, api, known_subscriptions):
    """Per workspace, the first event free then $3: with one event of workspace a, an event of b
    costs 0 and one of a 300; the estimate carries the group."""
    metric = make_metric(tenant.organization, "builds")
    ranges = [
        {"from_value": 0, "to_value": 1, "per_unit_amount": "0", "flat_amount": "0"},
        {"from_value": 2, "to_value": None, "per_unit_amount": "3", "flat_amount": "0"},
    ]
    setup_charge(
        tenant.organization, known_subscriptions, metric, properties={"graduated_ranges": ranges},
        charge_model="graduated", pricing_group_keys=["workspace"],
    )  # fmt: skip
    services.events_ingest(
        tenant.organization,
        [event_payload("a", code="builds", sub="sub_adv", timestamp=NOW - 10, properties={"workspace": "a"})],
    )
    fee_b = estimate(api, code="builds", properties={"workspace": "b"}).json()["fees"][0]
    fee_a = estimate(api, code="builds", properties={"workspace": "a"}).json()["fees"][0]
    assert (fee_b["amount_cents"], fee_b["item"]["grouped_by"]) == (0, {"workspace": "b"})
    assert (fee_a["amount_cents"], fee_a["item"]["grouped_by"]) == (300, {"workspace": "a"})
