"""Every `plan_overrides` field is acted on, on creation and on a later update (an update used to
drop taxes, thresholds, commitment, metadata and charge filters/taxes, and both dropped a charge's
`min_amount_cents`)."""

from __future__ import annotations

import pytest

from catalog.models import Charge, Plan
from tests.factories.catalog import BillableMetricFilterFactory
from tests.factories.invoicing import make_metric

pytestmark = pytest.mark.django_db


@pytest.fixture
def plan(api, organization):
    metric = make_metric(organization, "calls")
    BillableMetricFilterFactory(billable_metric=metric, key="region", values=["eu", "us"])
    for code, rate in (("vat", "20"), ("gst", "5")):
        api.post("/api/v1/taxes", {"tax": {"name": code, "code": code, "rate": rate}}, format="json")
    body = {
        "name": "P", "code": "p", "interval": "monthly", "amount_cents": 1000, "amount_currency": "USD",
        "tax_codes": ["vat"],
        "charges": [{"billable_metric_id": str(metric.id), "code": "c", "charge_model": "standard",
                     "properties": {"amount": "1"}, "min_amount_cents": 0}],
    }  # fmt: skip
    assert api.post("/api/v1/plans", {"plan": body}, format="json").status_code == 200
    return Plan.objects.get(code="p", parent__isnull=True)


def _subscribe(api, **overrides):
    body = {"external_customer_id": "c1", "plan_code": "p", "external_id": "s1", "plan_overrides": overrides}
    response = api.post("/api/v1/subscriptions", {"subscription": body}, format="json")
    assert response.status_code == 200, response.content
    return response.json()["subscription"]["plan"]


def _update(api, **overrides):
    response = api.put("/api/v1/subscriptions/s1", {"subscription": {"plan_overrides": overrides}}, format="json")
    assert response.status_code == 200, response.content
    return response.json()["subscription"]["plan"]


def _charge_id(plan):
    return str(Charge.objects.get(plan=plan, code="c").id)


def test_charge_minimum_is_overridden_on_creation(api, plan):
    shown = _subscribe(api, charges=[{"id": _charge_id(plan), "min_amount_cents": 500}])
    assert shown["charges"][0]["min_amount_cents"] == 500
    assert Charge.objects.get(plan__parent=plan, code="c").min_amount_cents == 500
    assert Charge.objects.get(plan=plan, code="c").min_amount_cents == 0


def test_a_later_update_applies_every_overridable_field(api, plan):
    _subscribe(api, amount_cents=900)
    charge_id = _charge_id(plan)
    shown = _update(
        api,
        tax_codes=["gst"],
        minimum_commitment={"amount_cents": 5000, "invoice_display_name": "Floor"},
        usage_thresholds=[{"amount_cents": 10000, "threshold_display_name": "T"}],
        metadata={"tier": "gold"},
        charges=[{
            "id": charge_id,
            "min_amount_cents": 300,
            "tax_codes": ["vat", "gst"],
            "filters": [{"values": {"region": ["eu"]}, "properties": {"amount": "3"}, "invoice_display_name": "EU"}],
        }],
    )  # fmt: skip
    assert shown["amount_cents"] == 900  # earlier overrides stay
    assert [t["code"] for t in shown["taxes"]] == ["gst"]
    assert (shown["minimum_commitment"]["amount_cents"], shown["minimum_commitment"]["invoice_display_name"]) == (
        5000,
        "Floor",
    )
    assert [t["amount_cents"] for t in shown["usage_thresholds"]] == [10000]
    assert shown["metadata"] == {"tier": "gold"}
    [charge] = shown["charges"]
    assert charge["min_amount_cents"] == 300
    assert sorted(t["code"] for t in charge["taxes"]) == ["gst", "vat"]
    assert [(f["values"], f["properties"], f["invoice_display_name"]) for f in charge["filters"]] == [
        ({"region": ["eu"]}, {"amount": "3"}, "EU")
    ]
    parent = api.get("/api/v1/plans/p").json()["plan"]  # the plan itself is untouched
    assert [t["code"] for t in parent["taxes"]] == ["vat"] and "minimum_commitment" not in parent
    assert parent["charges"][0]["filters"] == [] and parent["charges"][0]["min_amount_cents"] == 0


def test_a_later_update_refuses_bad_values_with_their_field(api, plan):
    _subscribe(api, amount_cents=900)
    charge_id = _charge_id(plan)
    response = api.put(
        "/api/v1/subscriptions/s1",
        {"subscription": {"plan_overrides": {"charges": [{"id": charge_id, "min_amount_cents": -1}]}}},
        format="json",
    )
    assert response.status_code == 422
    assert response.json()["error_details"] == {"plan_overrides.charges.0.min_amount_cents": ["value_is_invalid"]}
    response = api.put(
        "/api/v1/subscriptions/s1",
        {"subscription": {"plan_overrides": {"tax_codes": ["nope"]}}},
        format="json",
    )
    assert response.status_code == 404 and response.json()["code"] == "tax_not_found"
    unknown = {"charges": [{"id": "00000000-0000-0000-0000-000000000000", "min_amount_cents": 1}]}
    response = api.put("/api/v1/subscriptions/s1", {"subscription": {"plan_overrides": unknown}}, format="json")
    assert response.status_code == 404 and response.json()["code"] == "charge_not_found"
    assert api.get("/api/v1/subscriptions/s1").json()["subscription"]["plan"]["charges"][0]["min_amount_cents"] == 0
