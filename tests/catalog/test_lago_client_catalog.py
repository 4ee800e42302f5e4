"""Lago's official Python client drives the catalog API end to end against a live server."""

from __future__ import annotations

import httpx
import pytest
from lago_python_client.exceptions import LagoApiError
from lago_python_client.models import (
    AddOn,
    AppliedCoupon,
    BillableMetric,
    BillableMetricEvaluateExpression,
    BillableMetricEvaluateExpressionEvent,
    BillableMetricFilter,
    BillableMetricFilters,
    Charge,
    ChargeFilter,
    ChargeFilters,
    Charges,
    Coupon,
    Customer,
    LimitationConfiguration,
    Plan,
    Tax,
)
from lago_python_client.models.minimum_commitment import MinimumCommitment
from lago_python_client.models.usage_threshold import UsageThreshold, UsageThresholds

pytestmark = pytest.mark.django_db(transaction=True)


def test_billable_metrics(lago):
    client = lago.client
    created = client.billable_metrics.create(
        BillableMetric(
            name="Storage",
            code="storage",
            aggregation_type="sum_agg",
            field_name="gb",
            recurring=True,
            rounding_function="ceil",
            rounding_precision=2,
            expression="event.properties.mb / 1000",
            filters=BillableMetricFilters(__root__=[BillableMetricFilter(key="region", values=["us", "eu"])]),
        )
    )
    assert (created.code, created.aggregation_type, created.recurring) == ("storage", "sum_agg", True)
    assert created.filters.__root__[0].values == ["us", "eu"]
    assert created.expression == "event.properties.mb / 1000"

    assert client.billable_metrics.find("storage").lago_id == created.lago_id
    updated = client.billable_metrics.update(BillableMetric(name="Disk"), "storage")
    assert updated.name == "Disk"
    listing = client.billable_metrics.find_all({"per_page": 5})
    assert [m.code for m in listing["billable_metrics"]] == ["storage"]

    with pytest.raises(LagoApiError) as invalid:
        client.billable_metrics.create(BillableMetric(name="x", code="x", aggregation_type="max_agg", recurring=True,
                                                      field_name="v"))  # fmt: skip
    assert invalid.value.status_code == 422
    assert invalid.value.response["error_details"] == {"recurring": ["not_compatible_with_aggregation_type"]}

    # The client sends no body with evaluate_expression (its bug): we answer 422 as Lago does...
    with pytest.raises(LagoApiError) as no_body:
        client.billable_metrics.evaluate_expression(
            BillableMetricEvaluateExpression(
                expression="round(event.properties.a * 2, 1)",
                event=BillableMetricEvaluateExpressionEvent(code="storage", properties={"a": "1.25"}),
            )
        )
    assert no_body.value.status_code == 422
    # ...and the endpoint answers when the body is sent.
    response = httpx.post(
        f"{lago.base_url}/api/v1/billable_metrics/evaluate_expression",
        headers={"Authorization": f"Bearer {lago.raw_key}"},
        json={"expression": "round(event.properties.a * 2, 1)", "event": {"code": "storage",
                                                                          "properties": {"a": "1.25"}}},
    )  # fmt: skip
    assert response.status_code == 200
    assert response.json() == {"expression_result": {"value": "2.5"}}

    deleted = client.billable_metrics.destroy("storage")
    assert deleted.code == "storage"
    with pytest.raises(LagoApiError) as gone:
        client.billable_metrics.find("storage")
    assert gone.value.status_code == 404


def test_taxes_and_add_ons(lago):
    client = lago.client
    tax = client.taxes.create(Tax(name="VAT", code="vat", rate=20.0, applied_to_organization=False))
    assert (tax.code, tax.rate) == ("vat", 20.0)
    assert client.taxes.update(Tax(rate=8.875), "vat").rate == 8.875
    assert [t.code for t in client.taxes.find_all()["taxes"]] == ["vat"]

    add_on = client.add_ons.create(
        AddOn(name="Setup", code="setup", amount_cents=50000, amount_currency="EUR", tax_codes=["vat"])
    )
    assert (add_on.amount_cents, add_on.amount_currency) == (50000, "EUR")
    assert [t.code for t in add_on.taxes.__root__] == ["vat"]
    assert client.add_ons.update(AddOn(amount_cents=100), "setup").amount_cents == 100
    assert client.add_ons.find("setup").name == "Setup"
    assert client.add_ons.find_all()["meta"]["total_count"] == 1
    assert client.add_ons.destroy("setup").code == "setup"

    customer = client.customers.create(Customer(external_id="taxed", tax_codes=["vat"]))
    assert [t.code for t in customer.taxes.__root__] == ["vat"]

    assert client.taxes.destroy("vat").code == "vat"
    with pytest.raises(LagoApiError) as gone:
        client.taxes.find("vat")
    assert gone.value.response["code"] == "tax_not_found"


def test_plans_with_charges_and_filters(lago):
    client = lago.client
    client.taxes.create(Tax(name="VAT", code="vat", rate=20.0))
    calls = client.billable_metrics.create(
        BillableMetric(
            name="Calls", code="calls", aggregation_type="count_agg",
            filters=BillableMetricFilters(__root__=[BillableMetricFilter(key="region", values=["us", "eu"])]),
        )
    )  # fmt: skip
    gb = client.billable_metrics.create(
        BillableMetric(name="GB", code="gb", aggregation_type="sum_agg", field_name="gb")
    )

    plan = client.plans.create(
        Plan(
            name="Startup", code="startup", interval="monthly", amount_cents=4900, amount_currency="USD",
            pay_in_advance=True, trial_period=7.0, tax_codes=["vat"],
            minimum_commitment=MinimumCommitment(amount_cents=10000, invoice_display_name="Minimum"),
            usage_thresholds=UsageThresholds(__root__=[UsageThreshold(amount_cents=20000, recurring=False)]),
            charges=Charges(__root__=[
                Charge(billable_metric_id=gb.lago_id, charge_model="standard", properties={"amount": "0.25"}),
                Charge(
                    billable_metric_id=calls.lago_id, code="api", charge_model="graduated",
                    properties={"graduated_ranges": [
                        {"from_value": 0, "to_value": 100, "per_unit_amount": "0", "flat_amount": "0"},
                        {"from_value": 101, "to_value": None, "per_unit_amount": "0.01", "flat_amount": "2"},
                    ]},
                    filters=ChargeFilters(__root__=[ChargeFilter(
                        values={"region": ["eu"]}, invoice_display_name="EU",
                        properties={"graduated_ranges": [
                            {"from_value": 0, "to_value": None, "per_unit_amount": "0.02", "flat_amount": "0"}]},
                    )]),
                ),
            ]),
            metadata={"segment": "smb"},
        )
    )  # fmt: skip
    assert (plan.code, plan.amount_cents, plan.trial_period) == ("startup", 4900, 7.0)
    assert plan.minimum_commitment.amount_cents == 10000 and plan.minimum_commitment.interval == "monthly"
    assert [t.amount_cents for t in plan.usage_thresholds.__root__] == [20000]
    assert [t.code for t in plan.taxes.__root__] == ["vat"]
    assert plan.metadata == {"segment": "smb"}
    charges = plan.charges.__root__
    assert [(c.code, c.charge_model) for c in charges] == [("gb", "standard"), ("api", "graduated")]
    assert charges[1].filters.__root__[0].values == {"region": ["eu"]}
    assert charges[1].properties["graduated_ranges"][1]["flat_amount"] == "2"

    api_filter = client.plans.create_charge_filter(
        "startup", "api", ChargeFilter(values={"region": ["us"]}, invoice_display_name="US", properties={
            "graduated_ranges": [{"from_value": 0, "to_value": None, "per_unit_amount": "0.03", "flat_amount": "0"}]})
    )  # fmt: skip
    assert api_filter.values == {"region": ["us"]}
    filters = client.plans.find_all_charge_filters("startup", "api")
    assert sorted(f.invoice_display_name for f in filters["filters"]) == ["EU", "US"]
    assert client.plans.find_charge_filter("startup", "api", api_filter.lago_id).lago_id == api_filter.lago_id
    renamed = client.plans.update_charge_filter(
        "startup", "api", api_filter.lago_id, ChargeFilter(invoice_display_name="United States")
    )
    assert renamed.invoice_display_name == "United States"
    assert client.plans.destroy_charge_filter("startup", "api", api_filter.lago_id).lago_id == api_filter.lago_id

    assert client.plans.replace_metadata("startup", {"a": "1"}) == {"a": "1"}
    assert client.plans.merge_metadata("startup", {"b": None}) == {"a": "1", "b": None}
    assert client.plans.delete_metadata_key("startup", "a") == {"b": None}
    assert client.plans.delete_all_metadata("startup") == {}

    updated = client.plans.update(
        Plan(name="Startup v2", charges=Charges(__root__=[
            Charge(id=charges[0].lago_id, billable_metric_id=gb.lago_id, charge_model="standard",
                   properties={"amount": "0.30"}),
        ])),
        "startup",
    )  # fmt: skip
    assert updated.name == "Startup v2"
    assert [(c.lago_id, c.properties["amount"]) for c in updated.charges.__root__] == [(charges[0].lago_id, "0.30")]

    added = client.plan_charges.create(
        "startup", Charge(billable_metric_id=calls.lago_id, code="calls_pkg", charge_model="package",
                          properties={"amount": "5", "package_size": 1000, "free_units": 0})
    )  # fmt: skip
    assert added.code == "calls_pkg"
    assert client.plan_charges.find("startup", "calls_pkg").charge_model == "package"
    changed = client.plan_charges.update("startup", "calls_pkg", Charge(properties={"amount": "6", "package_size": 1000,
                                                                                   "free_units": 0}))  # fmt: skip
    assert changed.properties["amount"] == "6"
    assert client.plan_charges.destroy("startup", "calls_pkg").code == "calls_pkg"

    with pytest.raises(LagoApiError) as invalid:
        client.plans.create(
            Plan(name="Bad", code="bad", interval="monthly", amount_cents=0, amount_currency="USD",
                 charges=Charges(__root__=[Charge(billable_metric_id=gb.lago_id, charge_model="volume",
                                                  properties={"volume_ranges": []})]))
        )  # fmt: skip
    assert invalid.value.status_code == 422
    assert invalid.value.response["error_details"] == {"properties": ["missing_volume_ranges"]}

    assert client.plans.find_all()["meta"]["total_count"] == 1
    deleted = client.plans.destroy("startup")
    assert deleted.code == "startup"
    with pytest.raises(LagoApiError) as gone:
        client.plans.find("startup")
    assert gone.value.response["code"] == "plan_not_found"


def test_coupons_and_applied_coupons(lago):
    client = lago.client
    client.plans.create(Plan(name="P", code="p", interval="monthly", amount_cents=100, amount_currency="USD"))
    client.customers.create(Customer(external_id="acme", currency="USD"))
    coupon = client.coupons.create(
        Coupon(name="Ten", code="ten", coupon_type="fixed_amount", amount_cents=1000, amount_currency="USD",
               frequency="recurring", frequency_duration=3, expiration="no_expiration", reusable=True,
               applies_to=LimitationConfiguration(plan_codes=["p"]))
    )  # fmt: skip
    assert (coupon.code, coupon.expiration, coupon.limited_plans, coupon.plan_codes) == ("ten", "no_expiration", True,
                                                                                        ["p"])  # fmt: skip
    pct = client.coupons.create(
        Coupon(name="Pct", code="pct", coupon_type="percentage", percentage_rate=12.5, frequency="forever",
               expiration="no_expiration")
    )  # fmt: skip
    assert pct.percentage_rate == 12.5
    assert client.coupons.update(Coupon(name="Ten off"), "ten").name == "Ten off"
    assert client.coupons.find("ten").frequency_duration == 3
    assert client.coupons.find_all()["meta"]["total_count"] == 2

    applied = client.applied_coupons.create(
        AppliedCoupon(external_customer_id="acme", coupon_code="ten", amount_cents=500)
    )
    assert (applied.coupon_code, applied.amount_cents, applied.status) == ("ten", 500, "active")
    assert applied.frequency_duration_remaining == 3
    listing = client.applied_coupons.find_all({"external_customer_id": "acme"})
    assert [a.lago_id for a in listing["applied_coupons"]] == [applied.lago_id]
    removed = client.applied_coupons.destroy("acme", applied.lago_id)
    assert removed.status == "terminated"

    with pytest.raises(LagoApiError) as missing:
        client.applied_coupons.create(AppliedCoupon(external_customer_id="nobody", coupon_code="ten"))
    assert missing.value.response["code"] == "customer_not_found"
    assert client.coupons.destroy("pct").code == "pct"
