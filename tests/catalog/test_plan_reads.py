"""A plan object read in the plan's own statement (PostgreSQL: its relations as JSON,
`catalog.selectors.plan_read_annotations`) answers byte for byte what the prefetching read answers
(the other databases' way), for a plan with every relation; and the statements it costs."""

from __future__ import annotations

import pytest
from django.db import connection

from billing_project.core import json_rows
from tests.core.statements import get_counted
from tests.factories.catalog import AddOnFactory, BillableMetricFactory, BillableMetricFilterFactory, TaxFactory

pytestmark = pytest.mark.django_db

GRADUATED = {
    "graduated_ranges": [
        {"from_value": 0, "to_value": 100, "per_unit_amount": "0", "flat_amount": "0"},
        {"from_value": 101, "to_value": None, "per_unit_amount": "0.01", "flat_amount": "2"},
    ]
}


def _full_plan(api, organization, code="startup"):
    calls = BillableMetricFactory(organization=organization, code=f"calls_{code}", aggregation_type="count_agg",
                                  field_name=None)  # fmt: skip
    BillableMetricFilterFactory(billable_metric=calls, key="region", values=["us", "eu"])
    BillableMetricFilterFactory(billable_metric=calls, key="tier", values=["free", "pro"])
    gb = BillableMetricFactory(organization=organization, code=f"gb_{code}", aggregation_type="sum_agg",
                               field_name="gb")  # fmt: skip
    seats = AddOnFactory(organization=organization, code=f"seats_{code}", name="Seats")
    payload = {
        "name": "Startup", "code": code, "interval": "monthly", "amount_cents": 4900, "amount_currency": "USD",
        "description": "For startups", "invoice_display_name": "Startup plan", "pay_in_advance": True,
        "trial_period": 14.5, "tax_codes": ["vat", "local"], "metadata": {"tier": "s", "empty": None},
        "minimum_commitment": {"amount_cents": 10000, "invoice_display_name": "Minimum", "tax_codes": ["local"]},
        "usage_thresholds": [{"amount_cents": 20000, "threshold_display_name": "t1"},
                             {"amount_cents": 5000, "recurring": True}],
        "charges": [
            {"billable_metric_id": str(gb.id), "charge_model": "standard",
             "properties": {"amount": "0.25"}, "tax_codes": ["local", "vat"],
             "invoice_display_name": "Storage", "min_amount_cents": 100},
            {"billable_metric_id": str(calls.id), "code": "api", "charge_model": "graduated",
             "properties": GRADUATED,
             "filters": [{"values": {"region": ["eu"]}, "invoice_display_name": "EU",
                          "properties": {"graduated_ranges": [
                              {"from_value": 0, "to_value": None, "per_unit_amount": "0.02", "flat_amount": "0"}]}},
                         {"values": {"region": ["__ALL_FILTER_VALUES__"], "tier": ["pro"]},
                          "properties": GRADUATED}]},
            {"billable_metric_id": str(calls.id), "charge_model": "package", "pay_in_advance": True,
             "invoiceable": False, "regroup_paid_fees": "invoice",
             "properties": {"amount": "5", "package_size": 100, "free_units": 10},
             "pricing_group_keys": ["country"]},
        ],
        "fixed_charges": [
            {"add_on_id": str(seats.id), "charge_model": "standard", "units": "10.125", "pay_in_advance": True,
             "prorated": True, "properties": {"amount": "12.5"}, "tax_codes": ["vat"],
             "invoice_display_name": "Seats"},
            {"add_on_code": seats.code, "code": "support", "charge_model": "standard", "units": 3,
             "properties": {"amount": "1"}},
        ],
    }  # fmt: skip
    response = api.post("/api/v1/plans", {"plan": payload}, format="json")
    assert response.status_code == 200, response.json()
    return response.json()["plan"]


@pytest.fixture
def full(tenant, other_tenant):
    from catalog.models import Plan
    from tests.factories.subscriptions import SubscriptionFactory

    for owner in (tenant, other_tenant):
        TaxFactory(organization=owner.organization, code="vat", rate="20")
        TaxFactory(organization=owner.organization, code="local", rate="1.375")
        _full_plan(owner.client, owner.organization)
    _full_plan(tenant.client, tenant.organization, code="second")
    plan = Plan.objects.get(organization=tenant.organization, code="startup")
    first = SubscriptionFactory(organization=tenant.organization, external_id="s1", plan=plan)
    SubscriptionFactory(organization=tenant.organization, external_id="s2", plan=plan, customer=first.customer)
    SubscriptionFactory(organization=tenant.organization, external_id="s3", plan=plan)
    other = Plan.objects.get(organization=other_tenant.organization, code="startup")
    SubscriptionFactory(organization=other_tenant.organization, external_id="s9", plan=other)
    tenant.client.get("/api/v1/plans")  # the key's first use
    return tenant


PATHS = [
    "/api/v1/plans/startup",
    "/api/v1/plans",
    "/api/v1/plans?per_page=1",
    "/api/v1/plans?page=2&per_page=1",
    "/api/v1/subscriptions/s1",
]


@pytest.mark.parametrize("path", PATHS)
def test_the_plan_read_in_one_statement_answers_what_the_prefetching_read_answers(full, path, monkeypatch):
    one = full.client.get(path)
    monkeypatch.setattr(json_rows, "supported", lambda alias: False)
    prefetched = full.client.get(path)
    assert one.status_code == prefetched.status_code == 200
    assert one.content == prefetched.content
    body = one.json()
    plans = body.get("plans") or [body["plan"] if "plan" in body else body["subscription"]["plan"]]
    assert all(plan["charges"] and plan["fixed_charges"] and plan["taxes"] for plan in plans)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the plan's relations ride on its row on PostgreSQL")
def test_a_plan_and_a_page_of_plans_are_one_statement(full):
    body, sql = get_counted(full.client, "/api/v1/plans/startup")
    assert len(sql) == 1, sql
    plan = body["plan"]
    assert (plan["active_subscriptions_count"], plan["customers_count"]) == (3, 2)
    assert [c["code"] for c in plan["charges"]] == ["gb_startup", "api", "calls_startup"]
    assert [f["invoice_display_name"] for f in plan["charges"][1]["filters"]] == ["EU", None]
    assert plan["fixed_charges"][0]["units"] == 10.125 and [t["code"] for t in plan["fixed_charges"][0]["taxes"]]
    assert plan["minimum_commitment"]["taxes"][0]["rate"] == 1.375
    body, sql = get_counted(full.client, "/api/v1/plans?per_page=1")
    assert len(sql) == 1, sql
    assert body["meta"]["total_count"] == 2
    body, sql = get_counted(full.client, "/api/v1/plans")
    assert len(sql) == 1, sql


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the plan's relations ride on the row on PostgreSQL")
def test_a_subscription_with_its_plan_is_one_statement(full):
    body, sql = get_counted(full.client, "/api/v1/subscriptions/s1")
    assert len(sql) == 1, sql  # the subscription with its plan's relations and its next subscriptions
    plan = body["subscription"]["plan"]
    assert (plan["active_subscriptions_count"], plan["customers_count"]) == (3, 2)
    assert len(plan["charges"]) == 3 and len(plan["fixed_charges"]) == 2


METRIC_PATHS = [
    "/api/v1/billable_metrics/calls_startup",
    "/api/v1/billable_metrics",
    "/api/v1/billable_metrics?per_page=1",
]


@pytest.mark.parametrize("path", METRIC_PATHS)
def test_a_metric_read_in_one_statement_answers_what_the_prefetching_read_answers(full, path, monkeypatch):
    one = full.client.get(path)
    monkeypatch.setattr(json_rows, "supported", lambda alias: False)
    prefetched = full.client.get(path)
    assert one.status_code == prefetched.status_code == 200
    assert one.content == prefetched.content


def test_a_metric_counts_the_live_plans_whose_live_charges_use_it(full):
    from catalog.models import Charge, Plan

    def plans_count() -> int:
        return full.client.get("/api/v1/billable_metrics/calls_startup").json()["billable_metric"]["plans_count"]

    assert plans_count() == 1  # two charges of one plan
    second = Plan.objects.get(organization=full.organization, code="second")
    calls = Charge.objects.get(plan__code="startup", plan__organization=full.organization, code="calls_startup")
    Charge.objects.filter(pk=calls.pk).update(plan=second)  # now on both plans
    assert plans_count() == 2
    Charge.objects.filter(pk=calls.pk).update(deleted_at="2026-01-01T00:00:00Z")
    assert plans_count() == 1
    body = full.client.get("/api/v1/billable_metrics?per_page=5").json()
    assert {m["code"]: m["plans_count"] for m in body["billable_metrics"]}["gb_second"] == 1
    assert [
        f["key"] for f in full.client.get("/api/v1/billable_metrics/calls_startup").json()["billable_metric"]["filters"]
    ] == ["region", "tier"]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the filters ride on the metric's row on PostgreSQL")
def test_a_metric_and_a_page_of_metrics_are_one_statement(full):
    body, sql = get_counted(full.client, "/api/v1/billable_metrics/calls_startup")
    assert len(sql) == 1, sql
    assert body["billable_metric"]["filters"] == [
        {"key": "region", "values": ["us", "eu"]},
        {"key": "tier", "values": ["free", "pro"]},
    ]
    body, sql = get_counted(full.client, "/api/v1/billable_metrics?per_page=3")
    assert len(sql) == 1, sql
    assert body["meta"]["total_count"] == 4
