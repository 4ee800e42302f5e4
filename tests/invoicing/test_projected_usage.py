"""`GET /customers/{external_id}/projected_usage`: the current period's usage projected to its end
(docs/billing-semantics.md §15), per charge, filter and group; errors, tenants, Lago's client."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from catalog.models import BillableMetricFilter, Charge, ChargeFilter
from invoicing.billing.pricing import ChargeBucket
from invoicing.projection import Progress, progress, project_bucket
from subscriptions.periods import Window
from tests.factories.invoicing import add_events, make_charge, make_customer, make_metric, make_plan, subscribe

pytestmark = pytest.mark.django_db


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


APRIL = Window(at(2024, 4, 1), at(2024, 5, 1))


@pytest.mark.parametrize(
    ("instant", "tz_name", "expected"),
    [
        (at(2024, 3, 31, 23), "UTC", Progress(0, 30)),  # before the period: nothing to project
        (at(2024, 4, 1), "UTC", Progress(1, 30)),  # the current day counts
        (at(2024, 4, 10, 12), "UTC", Progress(10, 30)),
        (at(2024, 4, 30, 23, 59), "UTC", Progress(30, 30)),
        (at(2024, 5, 2), "UTC", Progress(30, 30)),  # over: the usage is final
        # A customer in New York: the period is April in New York, and at 02:00 UTC on the 10th
        # it is still the 9th there.
        (at(2024, 4, 10, 2), "America/New_York", Progress(9, 30)),
    ],
)
def test_progress_counts_local_days(instant, tz_name, expected):
    window = APRIL if tz_name == "UTC" else Window(at(2024, 4, 1, 4), at(2024, 5, 1, 4))
    assert progress(window, instant, tz_name) == expected


def _bucket(model: str, properties: dict, units: str, amount: str) -> ChargeBucket:
    charge = Charge(charge_model=model, properties=properties)
    return ChargeBucket(
        charge=charge,
        charge_filter=None,
        filter_values=None,
        grouped_by={},
        units=Decimal(units),
        total_aggregated_units=Decimal(units),
        events_count=1,
        amount=Decimal(amount),
        amount_cents=int(Decimal(amount) * 100),
        unit_amount=Decimal(0),
    )


@pytest.mark.parametrize(
    ("model", "properties", "units", "amount", "expected_units", "expected_cents"),
    [
        ("standard", {"amount": "0.1"}, "7", "0.7", "21.00", 210),
        # 10 × 1 + 5 × 0.5: the model prices the projected units
        (
            "graduated",
            {
                "graduated_ranges": [
                    {"from_value": 0, "to_value": 10, "per_unit_amount": "1", "flat_amount": "0"},
                    {"from_value": 11, "to_value": None, "per_unit_amount": "0.5", "flat_amount": "0"},
                ]
            },
            "5",
            "5",
            "15.00",
            1250,
        ),
        ("package", {"amount": "10", "package_size": 10, "free_units": 0}, "4", "10", "12.00", 2000),
        # models priced on amounts: the amount divided by the ratio
        ("percentage", {"rate": "10"}, "1000", "1", "3000.00", 300),
        # units rounded to 2 decimals
        ("standard", {"amount": "1"}, "1", "1", "3.00", 300),
    ],
)
def test_project_bucket(model, properties, units, amount, expected_units, expected_cents):
    projected = project_bucket(
        _bucket(model, properties, units, amount), recurring=False, at=Progress(10, 30), currency="USD"
    )
    assert (projected.units, projected.amount_cents) == (Decimal(expected_units), expected_cents)
    recurring = project_bucket(
        _bucket(model, properties, units, amount), recurring=True, at=Progress(10, 30), currency="USD"
    )
    assert (recurring.units, recurring.amount_cents) == (Decimal(units), int(Decimal(amount) * 100))
    third = project_bucket(
        _bucket("standard", {"amount": "1"}, "1", "1"), recurring=False, at=Progress(7, 30), currency="USD"
    )
    assert third.units == Decimal("4.29")  # 1 × 30 / 7, rounded to 2 decimals
    assert (
        project_bucket(
            _bucket(model, properties, units, amount), recurring=False, at=Progress(0, 30), currency="USD"
        ).amount_cents
        == 0
    )


@pytest.fixture
def usage(organization, monkeypatch):
    monkeypatch.setattr("invoicing.selectors.timezone.now", lambda: at(2024, 4, 10, 12))  # day 10 of 30
    customer = make_customer(organization, external_id="cus_p", currency="USD")
    plan = make_plan(organization, amount_cents=1000)
    api = make_metric(organization, "api")
    BillableMetricFilter.objects.create(billable_metric=api, key="region", values=["eu", "us"])
    charge = make_charge(plan, api, properties={"amount": "1"})
    ChargeFilter.objects.create(
        organization=organization, charge=charge, values={"region": ["eu"]}, properties={"amount": "2"}
    )
    ranges = [
        {"from_value": 0, "to_value": 10, "per_unit_amount": "1", "flat_amount": "0"},
        {"from_value": 11, "to_value": None, "per_unit_amount": "0.5", "flat_amount": "0"},
    ]
    make_charge(plan, make_metric(organization, "calls"), model="graduated", properties={"graduated_ranges": ranges})
    make_charge(plan, make_metric(organization, "seats"), properties={"amount": "5"}, pricing_group_keys=["team"])
    storage = make_metric(organization, "storage", aggregation_type="sum_agg", field_name="gb", recurring=True)
    make_charge(plan, storage, properties={"amount": "1"})
    sub = subscribe(customer, plan, at(2024, 4, 1), external_id="sub_p")
    add_events(sub, "api", [at(2024, 4, 2)] * 2, region="eu")
    add_events(sub, "api", [at(2024, 4, 3)] * 4, region="us")
    add_events(sub, "calls", [at(2024, 4, 3)] * 5)
    add_events(sub, "seats", [at(2024, 4, 3)], team="a")
    add_events(sub, "storage", [at(2024, 4, 4)], gb=3)
    return customer


@pytest.mark.parametrize("prefix", ["/api/v1", "/v1"])
def test_projected_usage_per_charge_filter_and_group(api, usage, prefix):
    response = api.get(f"{prefix}/customers/cus_p/projected_usage", {"external_subscription_id": "sub_p"})
    assert response.status_code == 200, response.content
    body = response.json()["customer_projected_usage"]
    current = api.get(f"{prefix}/customers/cus_p/current_usage", {"external_subscription_id": "sub_p"}).json()
    assert body["amount_cents"] == current["customer_usage"]["amount_cents"] == 400 + 400 + 500 + 500 + 300
    charges = {c["billable_metric"]["code"]: c for c in body["charges_usage"]}
    # api: eu 2 × 2.00 → 6 units, 12.00; the default bucket (us) projects too but, as in Lago, the
    # charge's projection is its filters'.
    api_usage = charges["api"]
    assert (api_usage["projected_units"], api_usage["projected_amount_cents"]) == ("6.0", 1200)
    filters = {tuple(f["values"]["region"]) if f["values"] else None: f for f in api_usage["filters"]}
    assert (filters[("eu",)]["projected_units"], filters[("eu",)]["projected_amount_cents"]) == ("6.0", 1200)
    assert (filters[None]["projected_units"], filters[None]["projected_amount_cents"]) == ("12.0", 1200)
    # calls: 5 → 15 units through the graduated ranges: 10 × 1 + 5 × 0.5
    assert (charges["calls"]["projected_units"], charges["calls"]["projected_amount_cents"]) == ("15.0", 1250)
    # seats, grouped by team: 1 → 3 units at 5.00
    [group] = charges["seats"]["grouped_usage"]
    assert (group["grouped_by"], group["projected_units"], group["projected_amount_cents"]) == (
        {"team": "a"},
        "3.0",
        1500,
    )
    assert charges["seats"]["projected_amount_cents"] == 1500
    # storage is a recurring metric: its usage does not grow with time
    assert (charges["storage"]["projected_units"], charges["storage"]["projected_amount_cents"]) == ("3.0", 300)
    assert body["projected_amount_cents"] == 1200 + 1250 + 1500 + 300
    assert all(c["projected_presentation_breakdowns"] == [] for c in body["charges_usage"])


def test_projected_usage_errors_and_tenants(api, usage, other_tenant):
    base = "/api/v1/customers/cus_p/projected_usage"
    missing = api.get(base)
    assert (missing.status_code, missing.json()["error_details"]) == (
        422,
        {"external_subscription_id": ["value_is_invalid"]},
    )
    assert api.get(base, {"external_subscription_id": "sub_p", "apply_taxes": "maybe"}).status_code == 422
    assert api.get(base, {"external_subscription_id": "nope"}).json()["code"] == "subscription_not_found"
    assert api.get("/api/v1/customers/nobody/projected_usage", {"external_subscription_id": "sub_p"}).json()[
        "code"
    ] == ("customer_not_found")
    theirs = other_tenant.client.get(base, {"external_subscription_id": "sub_p"})
    assert (theirs.status_code, theirs.json()["code"]) == (404, "customer_not_found")


@pytest.mark.django_db(transaction=True)
def test_lago_client_projected_usage(lago, monkeypatch):
    monkeypatch.setattr("invoicing.selectors.timezone.now", lambda: at(2024, 4, 10, 12))
    organization = lago.organization
    customer = make_customer(organization, external_id="cus_l", currency="USD")
    plan = make_plan(organization, amount_cents=1000)
    make_charge(plan, make_metric(organization, "api"), properties={"amount": "1"})
    sub = subscribe(customer, plan, at(2024, 4, 1), external_id="sub_l")
    add_events(sub, "api", [at(2024, 4, 2)] * 2)
    projected = lago.client.customers.projected_usage("cus_l", "sub_l", apply_taxes="false")
    [charge] = projected.charges_usage
    assert (charge.units, charge.projected_units, charge.projected_amount_cents) == ("2.0", "6.0", 600)
    assert (projected.amount_cents, projected.projected_amount_cents) == (200, 600)
