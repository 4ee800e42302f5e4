"""`cascade_updates` for fixed charges (docs/catalog.md, "Cascading a plan's changes"): a plan's fixed
charge change reaches the copies of the plans overridden for subscriptions, as Lago's cascade does."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from billing_project.core.actor import ACTOR_SYSTEM, Actor, acting_as
from catalog.inputs import FixedChargeFields
from catalog.models import FixedCharge, Plan
from catalog.services.fixed_charges import plan_fixed_charge_delete, plan_fixed_charge_update
from invoicing.billing.run import customer_bill
from subscriptions import services
from subscriptions.inputs import SubscriptionCreate
from subscriptions.models import FixedChargeUnits, Subscription
from tests.factories.catalog import AddOnFactory, FixedChargeFactory
from tests.factories.invoicing import make_customer, make_plan

pytestmark = pytest.mark.django_db


def at(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


@pytest.fixture
def api(api):
    api.default_format = "json"
    return api


def _subscribe(organization, customer, external_id, override):
    body = {"external_customer_id": customer.external_id, "plan_code": "team", "external_id": external_id,
            "plan_overrides": {"fixed_charges": [override]}}  # fmt: skip
    with acting_as(Actor(ACTOR_SYSTEM, label="test")):
        return services.subscription_create(organization, SubscriptionCreate.from_validated(body), now=at(2025, 1, 1))


@pytest.fixture
def team(organization):
    """Plan `team`: 10 seats × 10.00 in arrears. Subscription A overrides only the seats' display
    name (its copy is priced as the plan), B overrides their price (8.00)."""
    plan = make_plan(organization, amount_cents=5000, code="team")
    seats = FixedChargeFactory(
        plan=plan, add_on=AddOnFactory(organization=organization, code="seats"), code="seats",
        units=Decimal(10), properties={"amount": "10"},
    )  # fmt: skip
    a = _subscribe(organization, make_customer(organization, external_id="ca"), "sa",
                   {"id": str(seats.id), "invoice_display_name": "Team seats"})  # fmt: skip
    b = _subscribe(organization, make_customer(organization, external_id="cb"), "sb",
                   {"id": str(seats.id), "properties": {"amount": "8"}})  # fmt: skip
    return plan, seats, a, b


def _copy(subscription):
    return FixedCharge.live.get(plan_id=Subscription.objects.get(pk=subscription.pk).plan_id, code="seats")


def test_update_cascades_to_copies_priced_as_the_plan(organization, team, django_capture_on_commit_callbacks):
    """12.00 and 15 seats cascaded: A's copy takes both, B's keeps 8.00 and 10 seats. January, billed
    on 1 February (the units change from the next period): A 10 × 12.00 = 12,000, B 10 × 8.00 = 8,000."""
    _plan, _seats, a, b = team
    with django_capture_on_commit_callbacks(execute=True):
        plan_fixed_charge_update(
            organization, plan_code="team", code="seats",
            data=FixedChargeFields(units=15, properties={"amount": "12"}, cascade_updates=True),
        )  # fmt: skip
    copy_a, copy_b = _copy(a), _copy(b)
    assert (copy_a.units, copy_a.properties, copy_a.invoice_display_name) == (
        Decimal(15),
        {"amount": "12"},
        "Team seats",
    )
    assert (copy_b.units, copy_b.properties) == (Decimal(10), {"amount": "8"})
    assert FixedChargeUnits.objects.filter(subscription=a, units=Decimal(15)).exists()  # reached A's subscription
    assert not FixedChargeUnits.objects.filter(subscription=b).exists()
    [invoice_a] = customer_bill(a.customer_id, at=at(2025, 2, 1, 1))
    [invoice_b] = customer_bill(b.customer_id, at=at(2025, 2, 1, 1))
    assert invoice_a.fees.get(fee_type="fixed_charge").amount_cents == 12_000
    assert invoice_b.fees.get(fee_type="fixed_charge").amount_cents == 8000


def test_without_cascade_the_copies_keep_theirs(organization, team):
    _plan, _seats, a, _b = team
    plan_fixed_charge_update(
        organization, plan_code="team", code="seats", data=FixedChargeFields(units=15, properties={"amount": "12"})
    )
    assert (_copy(a).units, _copy(a).properties) == (Decimal(10), {"amount": "10"})


def test_a_copy_of_another_model_is_left_alone(organization, team):
    _plan, _seats, a, _b = team
    FixedCharge.objects.filter(pk=_copy(a).pk).update(charge_model="volume")
    plan_fixed_charge_update(
        organization, plan_code="team", code="seats", data=FixedChargeFields(units=15, cascade_updates=True)
    )
    assert _copy(a).units == Decimal(10)


def test_delete_cascades(api, organization, team):
    _plan, seats, _a, _b = team
    response = api.delete("/api/v1/plans/team/fixed_charges/seats", {"fixed_charge": {"cascade_updates": True}})
    assert response.status_code == 200, response.json()
    assert not FixedCharge.live.filter(parent=seats).exists()


def test_delete_without_cascade_keeps_the_copies(organization, team):
    _plan, seats, _a, _b = team
    plan_fixed_charge_delete(organization, plan_code="team", code="seats")
    assert FixedCharge.live.filter(parent=seats).count() == 2


def test_plan_update_cascades_new_fixed_charges_and_the_amount(api, organization, team):
    """PUT /plans/team with a new fixed charge and 60.00: both override plans get a copy of the
    support charge and the new amount (they were at the old 50.00)."""
    plan, seats, a, b = team
    AddOnFactory(organization=organization, code="support")
    body = {"plan": {"amount_cents": 6000, "cascade_updates": True, "fixed_charges": [
        {"id": str(seats.id), "units": 10, "properties": {"amount": "10"}},
        {"add_on_code": "support", "charge_model": "standard", "units": 1, "properties": {"amount": "99"}},
    ]}}  # fmt: skip
    response = api.put("/api/v1/plans/team", body)
    assert response.status_code == 200, response.json()
    for sub in (a, b):
        child = Plan.objects.get(pk=Subscription.objects.get(pk=sub.pk).plan_id)
        assert child.amount_cents == 6000
        support = FixedCharge.live.get(plan=child, code="support")
        assert (support.units, support.properties) == (Decimal(1), {"amount": "99"})
        assert FixedCharge.objects.filter(children=support, plan=plan).exists()
    removed = api.put("/api/v1/plans/team", {"plan": {"cascade_updates": True, "fixed_charges": [
        {"id": str(seats.id), "units": 10, "properties": {"amount": "10"}}]}})  # fmt: skip
    assert removed.status_code == 200
    assert not FixedCharge.live.filter(code="support").exclude(plan=plan).exists()


def test_plan_cascade_with_charges_refused(api, organization, team):
    response = api.put("/api/v1/plans/team", {"plan": {"name": "T", "cascade_updates": True, "charges": []}})
    assert response.status_code == 422
    assert response.json()["error_details"] == {"cascade_updates": ["value_is_not_supported"]}
    assert Plan.objects.get(pk=team[0].pk).name != "T"
