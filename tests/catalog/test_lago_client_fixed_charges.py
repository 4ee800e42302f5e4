"""Lago's official Python client drives fixed charges end to end against a live server: plans'
`fixed_charges`, `plan_fixed_charges`, `subscription_fixed_charges`, plan overrides, and the fee."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from django.utils import timezone
from lago_python_client.exceptions import LagoApiError
from lago_python_client.models import AddOn, Customer, FixedCharge, FixedCharges, Plan, Subscription
from lago_python_client.models.fixed_charge import FixedChargeOverrides, FixedChargeProperties, FixedChargesOverrides
from lago_python_client.models.plan import PlanOverrides

from invoicing.billing.run import customer_bill
from subscriptions.models import Subscription as SubscriptionRow

pytestmark = pytest.mark.django_db(transaction=True)


def test_fixed_charges_with_lago_client(lago):
    client = lago.client
    seats = client.add_ons.create(AddOn(name="Seats", code="seats", amount_cents=0, amount_currency="USD"))
    client.add_ons.create(AddOn(name="Support", code="support", amount_cents=0, amount_currency="USD"))
    plan = client.plans.create(
        Plan(
            name="Team",
            code="team",
            interval="monthly",
            amount_cents=0,
            amount_currency="USD",
            fixed_charges=FixedCharges(
                __root__=[
                    FixedCharge(
                        add_on_id=seats.lago_id,
                        charge_model="standard",
                        units=10,
                        prorated=True,
                        properties=FixedChargeProperties(amount="10"),
                    )
                ]
            ),
        )
    )
    [fixed] = plan.fixed_charges.__root__
    assert (fixed.add_on_code, fixed.code, fixed.units, fixed.prorated) == ("seats", "seats", 10.0, True)

    plan_fixed = client.plan_fixed_charges
    created = plan_fixed.create(
        "team",
        FixedCharge(
            add_on_code="support", charge_model="standard", units=1, properties=FixedChargeProperties(amount="50")
        ),
    )
    assert created.code == "support" and created.properties.amount == "50"
    with pytest.raises(LagoApiError) as unauthenticated:
        plan_fixed.find_all("team")  # the client's child lists send no Authorization header
    assert unauthenticated.value.status_code == 401
    assert sorted(f.code for f in client.plans.find("team").fixed_charges.__root__) == ["seats", "support"]
    assert plan_fixed.find("team", "support").lago_id == created.lago_id
    updated = plan_fixed.update("team", "support", FixedCharge(units=2.5))
    assert updated.units == 2.5
    assert plan_fixed.destroy("team", "support").code == "support"
    with pytest.raises(LagoApiError) as missing:
        plan_fixed.find("team", "support")
    assert missing.value.status_code == 404

    client.customers.create(Customer(external_id="c1", name="Acme", currency="USD"))
    client.subscriptions.create(
        Subscription(
            external_customer_id="c1",
            plan_code="team",
            external_id="s1",
        )
    )
    sub_fixed = client.subscription_fixed_charges
    listed = httpx.get(
        f"{lago.base_url}/api/v1/subscriptions/s1/fixed_charges", headers={"Authorization": f"Bearer {lago.raw_key}"}
    ).json()
    assert [(f["code"], f["units"]) for f in listed["fixed_charges"]] == [("seats", 10)]
    changed = sub_fixed.update("s1", "seats", FixedCharge(units=25, apply_units_immediately=True))
    assert changed.units == 25.0
    assert sub_fixed.find("s1", "seats").units == 25.0

    # overridden at creation for another customer
    client.customers.create(Customer(external_id="c2", name="Beta", currency="USD"))
    client.subscriptions.create(
        Subscription(
            external_customer_id="c2",
            plan_code="team",
            external_id="s2",
            plan_overrides=PlanOverrides(
                fixed_charges=FixedChargesOverrides(
                    __root__=[
                        FixedChargeOverrides(id=fixed.lago_id, units=3, properties=FixedChargeProperties(amount="7"))
                    ]
                )
            ),
        )
    )
    own = sub_fixed.find("s2", "seats")
    assert (own.units, own.properties.amount, own.lago_parent_id) == (3.0, "7", fixed.lago_id)

    # the fee, as the client reads it from the invoice
    row = SubscriptionRow.objects.get(external_id="s1")
    invoices = customer_bill(row.customer_id, at=timezone.now() + timedelta(days=40), subscription_ids=[row.id])
    fees = [f for invoice in invoices for f in client.invoices.find(str(invoice.id)).fees.__root__]
    fixed_fees = [f for f in fees if f.lago_fixed_charge_id]
    assert fixed_fees and {(f.item.type, f.item.code, f.lago_fixed_charge_id) for f in fixed_fees} == {
        ("fixed_charge", "seats", fixed.lago_id)
    }
