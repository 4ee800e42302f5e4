"""One subscription's usage charges (`/subscriptions/{external_id}/charges[/{code}[/filters]]`): read,
override, filters; the plan others share never changes; bad input stores nothing; another tenant
sees nothing; billing and current usage price the override (docs/subscriptions.md, "Charge overrides")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from catalog.models import Charge, ChargeFilter, Plan
from customers.models import ApiKey
from invoicing.billing.run import customer_bill
from subscriptions.models import Subscription, SubscriptionTransition
from tests.factories.catalog import BillableMetricFilterFactory
from tests.factories.invoicing import add_events, make_customer, make_metric, subscribe

pytestmark = pytest.mark.django_db

BASE = "/api/v1/subscriptions"


@pytest.fixture
def plan(api, organization):
    """Plan `p`: `units` (sum of `total`) at 0.01 a unit, 0.02 for region eu."""
    metric = make_metric(organization, "units", "sum_agg", field_name="total")
    BillableMetricFilterFactory(billable_metric=metric, key="region", values=["eu", "us", "apac"])
    api.post("/api/v1/taxes", {"tax": {"name": "vat", "code": "vat", "rate": "20"}}, format="json")
    body = {
        "name": "P", "code": "p", "interval": "monthly", "amount_cents": 0, "amount_currency": "USD",
        "charges": [{"billable_metric_id": str(metric.id), "code": "units", "charge_model": "standard",
                     "properties": {"amount": "0.01"},
                     "filters": [{"values": {"region": ["eu"]}, "properties": {"amount": "0.02"},
                                  "invoice_display_name": "EU"}]}],
    }  # fmt: skip
    response = api.post("/api/v1/plans", {"plan": body}, format="json")
    assert response.status_code == 200, response.content
    return Plan.objects.get(code="p", parent__isnull=True)


@pytest.fixture
def sub(api, plan):
    body = {"external_customer_id": "c1", "plan_code": "p", "external_id": "s1"}
    response = api.post(BASE, {"subscription": body}, format="json")
    assert response.status_code == 200, response.content
    return Subscription.objects.get(external_id="s1")


def _parent_charge(plan):
    return Charge.objects.get(plan=plan, code="units")


def _override(api, external_id="s1", **fields):
    return api.put(f"{BASE}/{external_id}/charges/units", {"charge": fields}, format="json")


def _stored():
    """What the routes may write: plans, charges, filters, the subscriptions' plans."""
    return (
        Plan.objects.count(),
        sorted((str(c.plan_id), c.code, str(c.properties), c.invoice_display_name) for c in Charge.objects.all()),
        sorted(
            (str(f.charge_id), str(f.values), str(f.properties), str(f.deleted_at)) for f in ChargeFilter.objects.all()
        ),
        sorted(str(s.plan_id) for s in Subscription.objects.all()),
    )


# --- reading ---------------------------------------------------------------------------------------


def test_charges_of_a_subscription_on_the_plan_itself(api, plan, sub):
    listing = api.get(f"{BASE}/s1/charges").json()
    assert [c["code"] for c in listing["charges"]] == ["units"]
    assert listing["meta"]["total_count"] == 1
    [shown] = listing["charges"]
    assert shown["lago_id"] == str(_parent_charge(plan).id) and shown["lago_parent_id"] is None
    one = api.get(f"{BASE}/s1/charges/units").json()["charge"]
    assert one["properties"] == {"amount": "0.01"}
    assert [f["values"] for f in one["filters"]] == [{"region": ["eu"]}]
    filters = api.get(f"{BASE}/s1/charges/units/filters").json()
    assert [f["invoice_display_name"] for f in filters["filters"]] == ["EU"]
    assert filters["meta"]["total_count"] == 1
    filter_id = filters["filters"][0]["lago_id"]
    assert api.get(f"{BASE}/s1/charges/units/filters/{filter_id}").json()["filter"]["properties"] == {"amount": "0.02"}


def test_unknown_names_are_404_with_lago_codes(api, plan, sub):
    assert api.get(f"{BASE}/nope/charges").json()["code"] == "subscription_not_found"
    assert api.get(f"{BASE}/s1/charges/nope").json()["code"] == "charge_not_found"
    assert api.get(f"{BASE}/s1/charges/nope/filters").json()["code"] == "charge_not_found"
    missing = f"{BASE}/s1/charges/units/filters/00000000-0000-0000-0000-000000000000"
    assert api.get(missing).json()["code"] == "charge_filter_not_found"
    assert api.get(f"{BASE}/s1/charges/units/filters/not-a-uuid").status_code == 404
    before = _stored()
    assert _override(api, external_id="s1", invoice_display_name="x").status_code == 200  # control: it works
    after_one = _stored()
    assert before != after_one
    response = api.put(f"{BASE}/s1/charges/nope", {"charge": {"invoice_display_name": "x"}}, format="json")
    assert response.status_code == 404 and response.json()["code"] == "charge_not_found"
    response = api.put(missing, {"filter": {"properties": {"amount": "1"}}}, format="json")
    assert response.status_code == 404 and response.json()["code"] == "charge_filter_not_found"
    assert api.delete(missing).status_code == 404
    assert _stored() == after_one


def test_subscription_status_chooses_the_subscription(api, plan, sub):
    assert api.get(f"{BASE}/s1/charges?subscription_status=pending").json()["code"] == "subscription_not_found"
    assert api.get(f"{BASE}/s1/charges?status=active").status_code == 200
    api.delete(f"{BASE}/s1")
    assert api.get(f"{BASE}/s1/charges").status_code == 404  # active by default
    assert api.get(f"{BASE}/s1/charges?subscription_status=terminated").status_code == 200
    # A terminated subscription's charges are history: no change (Lago's 405 invalid_status).
    response = api.put(
        f"{BASE}/s1/charges/units?subscription_status=terminated",
        {"charge": {"properties": {"amount": "1"}}},
        format="json",
    )
    assert response.status_code == 405 and response.json()["code"] == "invalid_status"
    assert not Plan.objects.filter(parent=plan).exists()


# --- overriding the charge -----------------------------------------------------------------------------


def test_put_overrides_the_charge_for_this_subscription_only(api, tenant, plan, sub):
    parent = _parent_charge(plan)
    response = _override(api, properties={"amount": "0.015"}, invoice_display_name="Units (s1)", tax_codes=["vat"])
    assert response.status_code == 200, response.content
    shown = response.json()["charge"]
    assert shown["code"] == "units" and shown["lago_parent_id"] == str(parent.id)
    assert shown["lago_id"] != str(parent.id)
    assert shown["properties"] == {"amount": "0.015"}
    assert shown["invoice_display_name"] == "Units (s1)"
    assert [t["code"] for t in shown["taxes"]] == ["vat"]
    assert [f["values"] for f in shown["filters"]] == [{"region": ["eu"]}]  # copied with the charge

    sub.refresh_from_db()
    assert sub.plan.parent_id == plan.id and sub.plan.code == "p"
    parent.refresh_from_db()
    assert parent.properties == {"amount": "0.01"} and parent.invoice_display_name == ""
    assert api.get("/api/v1/plans/p").json()["plan"]["charges"][0]["properties"] == {"amount": "0.01"}

    # Reads now show the override; a second PUT edits the same copy, keeping what it did not send.
    assert api.get(f"{BASE}/s1/charges/units").json()["charge"]["lago_id"] == shown["lago_id"]
    again = _override(api, min_amount_cents=500).json()["charge"]
    assert again["lago_id"] == shown["lago_id"]
    assert (again["min_amount_cents"], again["properties"], again["invoice_display_name"]) == (
        500,
        {"amount": "0.015"},
        "Units (s1)",
    )
    assert Plan.objects.filter(parent=plan).count() == 1
    key = ApiKey.objects.get(organization=tenant.organization)
    actors = SubscriptionTransition.objects.filter(subscription=sub, event="charge_override")
    assert list(actors.values_list("actor", flat=True)) == [f"api_key:{key.prefix}"] * 2


def test_put_replaces_the_filters_when_sent(api, plan, sub):
    response = _override(
        api,
        filters=[
            {"values": {"region": ["eu"]}, "properties": {"amount": "0.03"}},
            {"values": {"region": ["us"]}, "properties": {"amount": "0.005"}, "invoice_display_name": "US"},
        ],
    )
    assert response.status_code == 200, response.content
    shown = response.json()["charge"]
    assert sorted((f["values"]["region"][0], f["properties"]["amount"]) for f in shown["filters"]) == [
        ("eu", "0.03"),
        ("us", "0.005"),
    ]
    assert ChargeFilter.live.filter(charge__plan=plan).count() == 1  # the plan's filter is untouched


@pytest.mark.parametrize(
    ("fields", "details"),
    [
        ({"properties": {"amount": "abc"}}, {"properties": ["invalid_amount"]}),
        ({"min_amount_cents": -1}, {"min_amount_cents": ["value_is_invalid"]}),
        (
            {"filters": [{"values": {"region": ["mars"]}, "properties": {"amount": "1"}}]},
            {"filters": ["value_is_invalid"]},
        ),
        ({"properties": "flat"}, {"properties": ["value_is_invalid"]}),
    ],
)
def test_bad_override_is_422_and_stores_nothing(api, plan, sub, fields, details):
    before = _stored()
    response = _override(api, **fields)
    assert response.status_code == 422, response.content
    body = response.json()
    assert (body["status"], body["error"], body["code"]) == (422, "Unprocessable Entity", "validation_errors")
    assert body["error_details"] == details
    assert _stored() == before
    assert not SubscriptionTransition.objects.filter(event="charge_override").exists()


def test_refused_and_unknown_inputs_store_nothing(api, plan, sub):
    before = _stored()
    response = _override(api, applied_pricing_unit={"code": "credits", "conversion_rate": "0.5"})
    assert response.status_code == 422
    assert response.json()["error_details"] == {"applied_pricing_unit": ["value_is_not_supported"]}
    response = _override(api, tax_codes=["nope"])
    assert response.status_code == 404 and response.json()["code"] == "tax_not_found"
    response = api.put(f"{BASE}/s1/charges/units", {"nothing": {}}, format="json")
    assert response.status_code == 400
    assert _stored() == before


# --- filters -----------------------------------------------------------------------------------------


def test_filter_routes_work_on_the_subscriptions_copy(api, plan, sub):
    parent_filter = ChargeFilter.objects.get(charge__plan=plan)
    # Update by the plan's filter id: the subscription gets its copy, changed; the plan's is untouched.
    response = api.put(
        f"{BASE}/s1/charges/units/filters/{parent_filter.id}",
        {"filter": {"properties": {"amount": "0.03"}}},
        format="json",
    )
    assert response.status_code == 200, response.content
    copy = response.json()["filter"]
    assert copy["lago_id"] != str(parent_filter.id)
    assert (copy["values"], copy["properties"], copy["invoice_display_name"]) == (
        {"region": ["eu"]},
        {"amount": "0.03"},
        "EU",
    )
    parent_filter.refresh_from_db()
    assert parent_filter.properties == {"amount": "0.02"}

    created = api.post(
        f"{BASE}/s1/charges/units/filters",
        {"filter": {"values": {"region": ["us"]}, "properties": {"amount": "0.005"}}},
        format="json",
    )
    assert created.status_code == 200, created.content
    us_id = created.json()["filter"]["lago_id"]
    listing = api.get(f"{BASE}/s1/charges/units/filters").json()
    assert sorted(f["lago_id"] for f in listing["filters"]) == sorted([copy["lago_id"], us_id])
    assert api.get(f"{BASE}/s1/charges/units/filters/{us_id}").json()["filter"]["values"] == {"region": ["us"]}

    duplicate = api.post(
        f"{BASE}/s1/charges/units/filters",
        {"filter": {"values": {"region": ["us"]}, "properties": {"amount": "1"}}},
        format="json",
    )
    assert duplicate.status_code == 422
    assert duplicate.json()["error_details"] == {"values": ["value_already_exists"]}

    deleted = api.delete(f"{BASE}/s1/charges/units/filters/{us_id}")
    assert deleted.status_code == 200 and deleted.json()["filter"]["lago_id"] == us_id
    assert [f["lago_id"] for f in api.get(f"{BASE}/s1/charges/units/filters").json()["filters"]] == [copy["lago_id"]]
    assert Plan.objects.filter(parent=plan).count() == 1
    assert ChargeFilter.live.filter(charge__plan=plan).count() == 1


def test_deleting_a_plan_filter_for_one_subscription(api, plan, sub):
    parent_filter = ChargeFilter.objects.get(charge__plan=plan)
    response = api.delete(f"{BASE}/s1/charges/units/filters/{parent_filter.id}")
    assert response.status_code == 200
    assert api.get(f"{BASE}/s1/charges/units/filters").json()["filters"] == []
    assert ChargeFilter.live.filter(pk=parent_filter.pk).exists()


def test_bad_filter_input_is_422_and_stores_nothing(api, plan, sub):
    parent_filter = ChargeFilter.objects.get(charge__plan=plan)
    before = _stored()
    for body in (
        {"filter": {"properties": {"amount": "1"}}},  # values are mandatory
        {"filter": {"values": {"region": ["mars"]}, "properties": {"amount": "1"}}},
        {"filter": {"values": {"region": ["us"]}, "properties": {"amount": "-1"}}},
        {"filter": {"values": {"region": ["eu"]}, "properties": {"amount": "1"}}},  # the plan's eu filter exists
    ):
        response = api.post(f"{BASE}/s1/charges/units/filters", body, format="json")
        assert response.status_code == 422, (body, response.content)
        assert response.json()["code"] == "validation_errors"
    response = api.put(
        f"{BASE}/s1/charges/units/filters/{parent_filter.id}",
        {"filter": {"properties": {"amount": "abc"}}},
        format="json",
    )
    assert response.status_code == 422
    assert _stored() == before


# --- tenants ---------------------------------------------------------------------------------------------


def test_another_organization_gets_404_on_every_route(api, other_tenant, plan, sub):
    parent_filter = ChargeFilter.objects.get(charge__plan=plan)
    other = other_tenant.client
    item = f"{BASE}/s1/charges/units/filters/{parent_filter.id}"
    before = _stored()
    calls = [
        other.get(f"{BASE}/s1/charges"),
        other.get(f"{BASE}/s1/charges/units"),
        other.put(f"{BASE}/s1/charges/units", {"charge": {"properties": {"amount": "9"}}}, format="json"),
        other.get(f"{BASE}/s1/charges/units/filters"),
        other.post(
            f"{BASE}/s1/charges/units/filters",
            {"filter": {"values": {"region": ["us"]}, "properties": {"amount": "9"}}},
            format="json",
        ),
        other.get(item),
        other.put(item, {"filter": {"properties": {"amount": "9"}}}, format="json"),
        other.delete(item),
    ]
    assert [c.status_code for c in calls] == [404] * 8
    assert {c.json()["code"] for c in calls} == {"subscription_not_found"}
    assert _stored() == before


# --- billing and current usage -------------------------------------------------------------------------


def _events(sub, at):
    add_events(sub, "units", [at], total=100, region="eu")
    add_events(sub, "units", [at], total=200, region="us")
    add_events(sub, "units", [at], total=300)


def _override_everything(api, external_id):
    """Charge 0.015 a unit (was 0.01), eu 0.03 (was 0.02), a new us filter at 0.005."""
    assert _override(api, external_id=external_id, properties={"amount": "0.015"}).status_code == 200
    eu = ChargeFilter.live.get(charge__plan__subscriptions__external_id=external_id, values__region=["eu"])
    path = f"{BASE}/{external_id}/charges/units/filters"
    assert api.put(f"{path}/{eu.id}", {"filter": {"properties": {"amount": "0.03"}}}, format="json").status_code == 200
    body = {"filter": {"values": {"region": ["us"]}, "properties": {"amount": "0.005"}}}
    assert api.post(path, body, format="json").status_code == 200


def _usage_cents(invoice):
    return sum(invoice.fees.filter(fee_type="charge").values_list("amount_cents", flat=True))


def test_the_billing_run_prices_the_override(api, organization, plan):
    """March 2024: eu 100, us 200, no region 300 units.
    The plan: 100 × 0.02 + 200 × 0.01 + 300 × 0.01 = 2.00 + 2.00 + 3.00 = 700 cents.
    The override: 100 × 0.03 + 200 × 0.005 + 300 × 0.015 = 3.00 + 1.00 + 4.50 = 850 cents."""
    start = datetime(2024, 3, 1, tzinfo=UTC)
    overridden = subscribe(make_customer(organization, external_id="ov"), plan, start, external_id="ov-sub")
    plain = subscribe(make_customer(organization, external_id="pl"), plan, start, external_id="pl-sub")
    for sub in (overridden, plain):
        _events(sub, datetime(2024, 3, 10, 12, tzinfo=UTC))
    _override_everything(api, "ov-sub")

    [invoice] = customer_bill(overridden.customer_id, at=datetime(2024, 4, 1, 1, tzinfo=UTC))
    assert _usage_cents(invoice) == 850
    assert sorted(invoice.fees.filter(fee_type="charge").values_list("amount_cents", flat=True)) == [100, 300, 450]
    [untouched] = customer_bill(plain.customer_id, at=datetime(2024, 4, 1, 1, tzinfo=UTC))
    assert _usage_cents(untouched) == 700


def test_current_usage_shows_the_override(api, organization, plan):
    now = timezone.now()
    sub = subscribe(make_customer(organization, external_id="cu"), plan, now - timedelta(hours=1), external_id="cu-sub")
    _events(sub, now - timedelta(minutes=1))

    def usage():
        response = api.get("/api/v1/customers/cu/current_usage?external_subscription_id=cu-sub&apply_taxes=false")
        assert response.status_code == 200, response.content
        return response.json()["customer_usage"]["amount_cents"]

    assert usage() == 700
    _override_everything(api, "cu-sub")
    assert usage() == 850
