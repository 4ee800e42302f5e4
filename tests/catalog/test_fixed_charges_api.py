"""Plans' fixed charges through the API: `fixed_charges` in POST/PUT /plans and
/plans/{code}/fixed_charges[/{code}] (docs/catalog.md, docs/billing-semantics.md §5.9)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from catalog import hooks
from catalog.models import FixedCharge
from tests.factories.catalog import AddOnFactory, FixedChargeFactory, FixedPlanUsage, PlanFactory, TaxFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/plans"
GRADUATED = {
    "graduated_ranges": [
        {"from_value": 0, "to_value": 10, "per_unit_amount": "5", "flat_amount": "0"},
        {"from_value": 11, "to_value": None, "per_unit_amount": "4", "flat_amount": "1"},
    ]
}


@pytest.fixture
def api(api):
    api.default_format = "json"
    return api


@pytest.fixture
def seats(organization):
    return AddOnFactory(organization=organization, code="seats", name="Seats")


def _plan(**extra):
    data = {"name": "Team", "code": "team", "interval": "monthly", "amount_cents": 1000, "amount_currency": "USD"}
    data.update(extra)
    return {"plan": data}


def test_plan_created_with_fixed_charges(api, organization, seats):
    TaxFactory(organization=organization, code="vat", rate="20")
    response = api.post(
        URL,
        _plan(
            fixed_charges=[
                {
                    "add_on_id": str(seats.id),
                    "charge_model": "standard",
                    "units": "10",
                    "pay_in_advance": True,
                    "prorated": True,
                    "properties": {"amount": "12.5"},
                    "tax_codes": ["vat"],
                    "invoice_display_name": "Seats",
                },
                {
                    "add_on_code": "seats",
                    "code": "support",
                    "charge_model": "graduated",
                    "units": 3,
                    "properties": GRADUATED,
                },
            ]
        ),
    )
    assert response.status_code == 200, response.json()
    items = response.json()["plan"]["fixed_charges"]
    assert [i["code"] for i in items] == ["seats", "support"]
    first = items[0]
    assert first["lago_add_on_id"] == str(seats.id)
    assert first["add_on_code"] == "seats"
    assert first["units"] == 10
    assert first["pay_in_advance"] is True and first["prorated"] is True
    assert first["properties"] == {"amount": "12.5"}
    assert [t["code"] for t in first["taxes"]] == ["vat"]
    assert items[1]["charge_model"] == "graduated" and items[1]["units"] == 3
    assert FixedCharge.live.filter(plan__code="team").count() == 2


@pytest.mark.parametrize(
    ("item", "field", "code"),
    [
        ({"charge_model": "package", "units": 1, "properties": {"amount": "1"}}, "fixed_charges.charge_model",
         "value_is_invalid"),
        ({"charge_model": "standard", "units": -1, "properties": {"amount": "1"}}, "fixed_charges.units",
         "value_is_invalid"),
        ({"charge_model": "standard", "units": "abc", "properties": {"amount": "1"}}, "fixed_charges.units",
         "value_is_invalid"),
        ({"charge_model": "standard", "units": "1234567890.1234567", "properties": {"amount": "1"}},
         "fixed_charges.units", "value_is_invalid"),
        ({"charge_model": "standard", "units": 1, "properties": {}}, "fixed_charges.properties",
         "amount_is_missing"),
    ],
)  # fmt: skip
def test_plan_fixed_charge_refused_and_nothing_stored(api, seats, item, field, code):
    response = api.post(URL, _plan(fixed_charges=[{"add_on_id": str(seats.id), **item}]))
    assert response.status_code == 422, response.json()
    details = response.json()["error_details"]
    assert field in details, details
    assert code in details[field] or code == "amount_is_missing"
    assert not FixedCharge.objects.exists()


def test_unknown_add_on_is_404(api):
    response = api.post(URL, _plan(fixed_charges=[{"add_on_code": "nope", "charge_model": "standard",
                                                   "properties": {"amount": "1"}}]))  # fmt: skip
    assert response.status_code == 404
    assert response.json()["code"] == "add_on_not_found"


def test_put_plan_replaces_fixed_charges_keeping_ids(api, organization, seats):
    plan = PlanFactory(organization=organization, code="team")
    kept = FixedChargeFactory(plan=plan, add_on=seats, code="seats", units=Decimal(5))
    dropped = FixedChargeFactory(plan=plan, add_on=seats, code="old")
    response = api.put(
        f"{URL}/team",
        {"plan": {"fixed_charges": [{"id": str(kept.id), "units": 7, "properties": {"amount": "3"}},
                                    {"add_on_id": str(seats.id), "code": "new", "charge_model": "volume",
                                     "properties": {"volume_ranges": [
                                         {"from_value": 0, "to_value": None, "per_unit_amount": "2",
                                          "flat_amount": "0"}]}}]}},
    )  # fmt: skip
    assert response.status_code == 200, response.json()
    items = {i["code"]: i for i in response.json()["plan"]["fixed_charges"]}
    assert set(items) == {"seats", "new"}
    assert items["seats"]["lago_id"] == str(kept.id)
    assert items["seats"]["units"] == 7
    dropped.refresh_from_db()
    assert dropped.deleted_at is not None


def test_fixed_charge_routes(api, organization, seats):
    PlanFactory(organization=organization, code="team")
    created = api.post(
        f"{URL}/team/fixed_charges",
        {"fixed_charge": {"add_on_code": "seats", "charge_model": "standard", "units": "2.5",
                          "properties": {"amount": "4"}}},
    )  # fmt: skip
    assert created.status_code == 200, created.json()
    assert created.json()["fixed_charge"]["code"] == "seats"
    listed = api.get(f"{URL}/team/fixed_charges").json()
    assert [i["code"] for i in listed["fixed_charges"]] == ["seats"]
    assert listed["meta"]["total_count"] == 1
    updated = api.put(f"{URL}/team/fixed_charges/seats", {"fixed_charge": {"units": 4, "invoice_display_name": "S"}})
    assert updated.status_code == 200
    assert updated.json()["fixed_charge"]["units"] == 4
    assert updated.json()["fixed_charge"]["invoice_display_name"] == "S"
    assert api.get(f"{URL}/team/fixed_charges/seats").json()["fixed_charge"]["units"] == 4
    deleted = api.delete(f"{URL}/team/fixed_charges/seats")
    assert deleted.status_code == 200
    assert api.get(f"{URL}/team/fixed_charges/seats").status_code == 404
    assert api.get(f"{URL}/team/fixed_charges/seats").json()["code"] == "fixed_charge_not_found"


def test_duplicate_code_refused(api, organization, seats):
    plan = PlanFactory(organization=organization, code="team")
    FixedChargeFactory(plan=plan, add_on=seats, code="seats")
    response = api.post(
        f"{URL}/team/fixed_charges",
        {"fixed_charge": {"add_on_code": "seats", "code": "seats", "charge_model": "standard",
                          "properties": {"amount": "1"}}},
    )  # fmt: skip
    assert response.status_code == 422
    assert response.json()["error_details"] == {"code": ["value_already_exist"]}


def test_plan_in_use_keeps_model_and_flags(api, organization, seats, monkeypatch):
    plan = PlanFactory(organization=organization, code="team")
    FixedChargeFactory(plan=plan, add_on=seats, code="seats", pay_in_advance=False)
    monkeypatch.setattr(hooks.plan_usage, "_impl", FixedPlanUsage(in_use=True))
    response = api.put(
        f"{URL}/team/fixed_charges/seats",
        {"fixed_charge": {"pay_in_advance": True, "charge_model": "graduated", "properties": {"amount": "9"}}},
    )
    assert response.status_code == 200, response.json()
    body = response.json()["fixed_charge"]
    assert body["pay_in_advance"] is False and body["charge_model"] == "standard"
    assert body["properties"] == {"amount": "9"}


def test_cascade_updates_accepted(api, organization, seats):
    plan = PlanFactory(organization=organization, code="team")
    FixedChargeFactory(plan=plan, add_on=seats, code="seats")
    response = api.put(f"{URL}/team/fixed_charges/seats", {"fixed_charge": {"units": 2, "cascade_updates": True}})
    assert response.status_code == 200, response.json()
    assert response.json()["fixed_charge"]["units"] == 2  # what reaches the overrides: test_fixed_charge_cascade.py


def test_other_tenant_gets_404(api, other_tenant, organization, seats):
    plan = PlanFactory(organization=organization, code="team")
    FixedChargeFactory(plan=plan, add_on=seats, code="seats")
    other = other_tenant.client
    other.default_format = "json"
    assert other.get(f"{URL}/team/fixed_charges").status_code == 404
    assert other.get(f"{URL}/team/fixed_charges/seats").status_code == 404
    assert other.put(f"{URL}/team/fixed_charges/seats", {"fixed_charge": {"units": 2}}).status_code == 404
    assert other.delete(f"{URL}/team/fixed_charges/seats").status_code == 404
    body = {"fixed_charge": {"add_on_code": "seats", "charge_model": "standard", "properties": {"amount": "1"}}}
    assert other.post(f"{URL}/team/fixed_charges", body).status_code == 404
    # another organization's add-on cannot be used either
    own_plan = {"plan": {"name": "P", "code": "p", "interval": "monthly", "amount_cents": 0, "amount_currency": "USD",
                         "fixed_charges": [{"add_on_id": str(seats.id), "charge_model": "standard",
                                            "properties": {"amount": "1"}}]}}  # fmt: skip
    assert other.post(URL, own_plan).status_code == 404
