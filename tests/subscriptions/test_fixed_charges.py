"""A subscription's fixed charges (docs/billing-semantics.md §5.9): units and price overridden per
subscription, changes at once or from the next period, increases paid in advance billed at once."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from catalog.inputs import FixedChargeFields
from catalog.services.fixed_charges import plan_fixed_charge_update
from invoicing.billing.run import customer_bill
from invoicing.models import Fee, Invoice
from subscriptions.models import FixedChargeUnits
from subscriptions.services.fixed_charges import subscription_fixed_charge_update, subscription_fixed_charges
from tests.factories.catalog import AddOnFactory, FixedChargeFactory
from tests.factories.invoicing import make_customer, make_plan, subscribe

pytestmark = pytest.mark.django_db


def at(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


@pytest.fixture
def api(api):
    api.default_format = "json"
    return api


def _seats(plan, **extra):
    add_on = AddOnFactory(organization=plan.organization, code="seats", name="Seats")
    return FixedChargeFactory(
        plan=plan, add_on=add_on, code="seats", units=Decimal(10), properties={"amount": "10"}, **extra
    )


def _fixed_fees(invoice):
    return sorted(invoice.fees.filter(fee_type="fixed_charge").values_list("amount_cents", flat=True))


def test_units_changed_on_the_12th_in_arrears_prorated(organization):
    customer = make_customer(organization)
    plan = make_plan(organization, amount_cents=0)
    _seats(plan, prorated=True)
    sub = subscribe(customer, plan, at(2025, 1, 1), external_id="s1")
    subscription_fixed_charge_update(
        organization, external_id="s1", code="seats",
        data=FixedChargeFields(units="25", apply_units_immediately=True), at=at(2025, 1, 12, 9),
    )  # fmt: skip
    assert [u for _, u in subscription_fixed_charges(sub, at(2025, 1, 13))] == [Decimal(25)]
    assert [u for _, u in subscription_fixed_charges(sub, at(2025, 1, 11))] == [Decimal(10)]
    [invoice] = customer_bill(customer.id, at=at(2025, 2, 1, 1))
    assert _fixed_fees(invoice) == [19_677]


def test_units_changed_from_the_next_period(organization):
    customer = make_customer(organization)
    plan = make_plan(organization, amount_cents=0)
    _seats(plan, prorated=True)
    sub = subscribe(customer, plan, at(2025, 1, 1), external_id="s1")
    subscription_fixed_charge_update(
        organization, external_id="s1", code="seats", data=FixedChargeFields(units=25), at=at(2025, 1, 12)
    )
    timestamps = (
        FixedChargeUnits.objects.filter(subscription=sub).order_by("timestamp").values_list("timestamp", flat=True)
    )
    assert list(timestamps) == [at(2025, 1, 1), at(2025, 2, 1)]
    january, february = customer_bill(customer.id, at=at(2025, 3, 1, 1))
    assert _fixed_fees(january) == [10_000]
    assert _fixed_fees(february) == [25_000]


def test_in_advance_increase_billed_at_once_decrease_not_credited(organization, django_capture_on_commit_callbacks):
    """10 seats at 10.00 paid in advance, prorated, from 1 January (10,000 at once); 25 on the 12th →
    15 × 20/31 → 9,677 at once; 20 on the 20th → nothing; 30 on the 25th → 30 − 25 billed = 5 × 7/31
    → 1,129; February opens with 30 → 30,000."""
    customer = make_customer(organization)
    plan = make_plan(organization, amount_cents=0)
    _seats(plan, prorated=True, pay_in_advance=True)
    subscribe(customer, plan, at(2025, 1, 1), external_id="s1")
    [starting] = customer_bill(customer.id, at=at(2025, 1, 1, 1))
    assert _fixed_fees(starting) == [10_000]
    for units, when in ((25, at(2025, 1, 12, 8)), (20, at(2025, 1, 20, 8)), (30, at(2025, 1, 25, 8))):
        with django_capture_on_commit_callbacks(execute=True):
            subscription_fixed_charge_update(
                organization, external_id="s1", code="seats",
                data=FixedChargeFields(units=units, apply_units_immediately=True), at=when,
            )  # fmt: skip
    increases = Fee.objects.filter(fee_type="fixed_charge", properties__has_key="timestamp").order_by("created_at")
    assert [(f.amount_cents, f.units) for f in increases] == [(9677, Decimal(15)), (1129, Decimal(5))]
    assert {f.invoice.status for f in increases if f.invoice is not None} == {"finalized"}
    # billing the same change twice bills nothing more
    from invoicing.services.fixed_charges import fixed_charge_increase_bill

    sub_id, fixed_id = increases[0].subscription_id, increases[0].fixed_charge_id
    assert fixed_charge_increase_bill(sub_id, fixed_id, at=at(2025, 1, 25, 8)) is None
    [february] = customer_bill(customer.id, at=at(2025, 2, 1, 1))
    assert _fixed_fees(february) == [30_000]
    assert Invoice.objects.filter(customer=customer).count() == 4


def test_price_override_moves_the_subscription_to_its_own_plan(organization):
    customer = make_customer(organization)
    plan = make_plan(organization, amount_cents=0)
    fixed = _seats(plan)
    sub = subscribe(customer, plan, at(2025, 1, 1), external_id="s1")
    subscription_fixed_charge_update(
        organization, external_id="s1", code="seats",
        data=FixedChargeFields(units=12, apply_units_immediately=True, properties={"amount": "8"}), at=at(2025, 1, 5),
    )  # fmt: skip
    sub.refresh_from_db()
    assert sub.plan.parent_id == plan.id
    [(own, units)] = subscription_fixed_charges(sub, at(2025, 1, 6))
    assert (own.parent_id, own.properties, units) == (fixed.id, {"amount": "8"}, Decimal(12))
    fixed.refresh_from_db()
    assert fixed.properties == {"amount": "10"}  # the plan keeps its price
    [invoice] = customer_bill(customer.id, at=at(2025, 2, 1, 1))
    assert _fixed_fees(invoice) == [9600]  # 12 × 8.00 (held at the end, not prorated)


def test_plan_units_change_reaches_its_subscriptions(organization, django_capture_on_commit_callbacks):
    customer = make_customer(organization)
    plan = make_plan(organization, amount_cents=0, code="team")
    _seats(plan, prorated=True)
    subscribe(customer, plan, at(2025, 1, 1), external_id="s1")
    with django_capture_on_commit_callbacks(execute=True):
        plan_fixed_charge_update(
            organization, plan_code="team", code="seats", data=FixedChargeFields(units=20, apply_units_immediately=True)
        )
    rows = list(FixedChargeUnits.objects.order_by("timestamp").values_list("units", flat=True))
    assert rows == [Decimal(10), Decimal(20)]  # what was held until now is kept


def test_subscription_routes(api, organization):
    customer = make_customer(organization)
    plan = make_plan(organization, amount_cents=0)
    _seats(plan)
    subscribe(customer, plan, at(2025, 1, 1), external_id="s1")
    listed = api.get("/api/v1/subscriptions/s1/fixed_charges").json()
    assert [(i["code"], i["units"]) for i in listed["fixed_charges"]] == [("seats", 10)]
    updated = api.put(
        "/api/v1/subscriptions/s1/fixed_charges/seats", {"fixed_charge": {"units": 25, "apply_units_immediately": True}}
    )
    assert updated.status_code == 200, updated.json()
    assert updated.json()["fixed_charge"]["units"] == 25
    assert api.get("/api/v1/subscriptions/s1/fixed_charges/seats").json()["fixed_charge"]["units"] == 25
    bad = api.put("/api/v1/subscriptions/s1/fixed_charges/seats", {"fixed_charge": {"units": -1}})
    assert bad.status_code == 422
    assert bad.json()["error_details"] == {"units": ["value_is_invalid"]}
    assert api.get("/api/v1/subscriptions/s1/fixed_charges/nope").json()["code"] == "fixed_charge_not_found"


def test_other_tenant_gets_404(api, other_tenant, organization):
    customer = make_customer(organization)
    plan = make_plan(organization, amount_cents=0)
    _seats(plan)
    subscribe(customer, plan, at(2025, 1, 1), external_id="s1")
    other = other_tenant.client
    other.default_format = "json"
    assert other.get("/api/v1/subscriptions/s1/fixed_charges").status_code == 404
    assert other.get("/api/v1/subscriptions/s1/fixed_charges/seats").status_code == 404
    assert other.put("/api/v1/subscriptions/s1/fixed_charges/seats", {"fixed_charge": {"units": 2}}).status_code == 404
    assert not FixedChargeUnits.objects.exists()


def test_plan_overrides_fixed_charges_at_creation(api, organization):
    make_customer(organization, external_id="c1")
    plan = make_plan(organization, amount_cents=0, code="team")
    fixed = _seats(plan)
    response = api.post(
        "/api/v1/subscriptions",
        {"subscription": {"external_customer_id": "c1", "plan_code": "team", "external_id": "s9",
                          "plan_overrides": {"fixed_charges": [{"id": str(fixed.id), "units": 3,
                                                                "properties": {"amount": "7"}}]}}},
    )  # fmt: skip
    assert response.status_code == 200, response.json()
    body = api.get("/api/v1/subscriptions/s9/fixed_charges/seats").json()["fixed_charge"]
    assert (body["units"], body["properties"], body["lago_parent_id"]) == (3, {"amount": "7"}, str(fixed.id))
    refused = api.post(
        "/api/v1/subscriptions",
        {"subscription": {"external_customer_id": "c1", "plan_code": "team", "external_id": "s10",
                          "plan_overrides": {"fixed_charges": [{"units": 3}]}}},
    )  # fmt: skip
    assert refused.status_code == 422
    assert "plan_overrides.fixed_charges.0.id" in refused.json()["error_details"]
