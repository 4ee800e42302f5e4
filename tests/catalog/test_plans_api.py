from __future__ import annotations

import pytest

from catalog import hooks, signals
from catalog.models import Charge, Plan
from tests.factories.catalog import (
    BillableMetricFactory,
    BillableMetricFilterFactory,
    ChargeFactory,
    ChargeFilterFactory,
    FixedPlanUsage,
    PlanFactory,
    TaxFactory,
)

pytestmark = pytest.mark.django_db

URL = "/api/v1/plans"


@pytest.fixture
def metrics(organization):
    calls = BillableMetricFactory(
        organization=organization, code="calls", aggregation_type="count_agg", field_name=None
    )
    BillableMetricFilterFactory(billable_metric=calls, key="region", values=["us", "eu"])
    BillableMetricFilterFactory(billable_metric=calls, key="tier", values=["free", "pro"])
    gb = BillableMetricFactory(organization=organization, code="gb", aggregation_type="sum_agg", field_name="gb")
    return {"calls": calls, "gb": gb}


def plan_payload(**overrides):
    data = {"name": "Startup", "code": "startup", "interval": "monthly", "amount_cents": 4900,
            "amount_currency": "USD"}  # fmt: skip
    data.update(overrides)
    return {"plan": data}


GRADUATED = {
    "graduated_ranges": [
        {"from_value": 0, "to_value": 100, "per_unit_amount": "0", "flat_amount": "0"},
        {"from_value": 101, "to_value": None, "per_unit_amount": "0.01", "flat_amount": "2"},
    ]
}


def test_create_full_plan(api, organization, metrics):
    TaxFactory(organization=organization, code="vat", rate="20")
    TaxFactory(organization=organization, code="local", rate="1")
    response = api.post(
        URL,
        plan_payload(
            description="For startups", invoice_display_name="Startup plan", pay_in_advance=True,
            trial_period=14.5, tax_codes=["vat"], metadata={"tier": "s", "empty": None},
            minimum_commitment={"amount_cents": 10000, "invoice_display_name": "Minimum", "tax_codes": ["local"]},
            usage_thresholds=[{"amount_cents": 20000, "threshold_display_name": "t1"},
                              {"amount_cents": 5000, "recurring": True}],
            charges=[
                {"billable_metric_id": str(metrics["gb"].id), "charge_model": "standard",
                 "properties": {"amount": "0.25", "unknown": "dropped"}, "tax_codes": ["local"],
                 "invoice_display_name": "Storage", "min_amount_cents": 100},
                {"billable_metric_id": str(metrics["calls"].id), "code": "api", "charge_model": "graduated",
                 "properties": GRADUATED,
                 "filters": [{"values": {"region": ["eu"]}, "invoice_display_name": "EU",
                              "properties": {"graduated_ranges": [
                                  {"from_value": 0, "to_value": None, "per_unit_amount": "0.02", "flat_amount": "0"}]}},
                             {"values": {"region": ["__ALL_FILTER_VALUES__"], "tier": ["pro"]},
                              "properties": GRADUATED}]},
                {"billable_metric_id": str(metrics["calls"].id), "charge_model": "package", "pay_in_advance": True,
                 "invoiceable": False, "regroup_paid_fees": "invoice",
                 "properties": {"amount": "5", "package_size": 100, "free_units": 10},
                 "pricing_group_keys": ["country"]},
            ],
        ),
        format="json",
    )  # fmt: skip
    assert response.status_code == 200, response.json()
    plan = response.json()["plan"]
    assert plan["code"] == "startup" and plan["interval"] == "monthly"
    assert plan["amount_cents"] == 4900 and plan["amount_currency"] == "USD"
    assert plan["trial_period"] == 14.5 and b'"trial_period":14.5,' in response.content
    assert plan["pay_in_advance"] is True
    assert plan["bill_charges_monthly"] is None
    assert plan["pending_deletion"] is False
    assert plan["metadata"] == {"tier": "s", "empty": None}
    assert [t["code"] for t in plan["taxes"]] == ["vat"]
    assert plan["minimum_commitment"]["amount_cents"] == 10000
    assert plan["minimum_commitment"]["interval"] == "monthly"
    assert [t["code"] for t in plan["minimum_commitment"]["taxes"]] == ["local"]
    assert [(t["amount_cents"], t["recurring"]) for t in plan["usage_thresholds"]] == [(5000, True), (20000, False)]

    storage, api_charge, package = plan["charges"]
    assert storage["code"] == "gb"  # generated from the metric's code
    assert storage["lago_billable_metric_id"] == str(metrics["gb"].id)
    assert storage["billable_metric_code"] == "gb"
    assert storage["properties"] == {"amount": "0.25"}
    assert storage["min_amount_cents"] == 100
    assert [t["code"] for t in storage["taxes"]] == ["local"]
    assert api_charge["code"] == "api"
    assert api_charge["properties"]["graduated_ranges"][1]["per_unit_amount"] == "0.01"
    assert [f["values"] for f in api_charge["filters"]] == [
        {"region": ["eu"]},
        {"region": ["__ALL_FILTER_VALUES__"], "tier": ["pro"]},
    ]
    assert api_charge["filters"][0]["invoice_display_name"] == "EU"
    assert api_charge["filters"][0]["charge_code"] == "api"
    assert package["code"] == "calls"
    assert package["pay_in_advance"] is True and package["invoiceable"] is False
    assert package["regroup_paid_fees"] == "invoice"
    assert package["properties"]["pricing_group_keys"] == ["country"]
    assert package["pricing_group_keys"] == ["country"]


def test_yearly_plan_bills_charges_monthly(api):
    body = api.post(URL, plan_payload(interval="yearly", bill_charges_monthly=True), format="json").json()["plan"]
    assert body["bill_charges_monthly"] is True
    body = api.post(URL, plan_payload(code="w", interval="weekly", bill_charges_monthly=True), format="json").json()
    assert body["plan"]["bill_charges_monthly"] is None


@pytest.mark.parametrize(
    ("overrides", "errors"),
    [
        ({"name": ""}, {"name": ["value_is_mandatory"]}),
        ({"code": None}, {"code": ["value_is_mandatory"]}),
        ({"interval": None}, {"interval": ["value_is_mandatory"]}),
        ({"interval": "daily"}, {"interval": ["value_is_invalid"]}),
        ({"amount_cents": None}, {"amount_cents": ["value_is_mandatory"]}),
        ({"amount_cents": -5}, {"amount_cents": ["value_is_invalid"]}),
        ({"amount_currency": "usd1"}, {"amount_currency": ["value_is_invalid"]}),
        ({"trial_period": "-1"}, {"trial_period": ["value_is_invalid"]}),
        ({"trial_period": "1.000001"}, {"trial_period": ["value_is_invalid"]}),
    ],
)
def test_plan_validation(api, overrides, errors):
    response = api.post(URL, plan_payload(**overrides), format="json")
    assert response.status_code == 422, response.json()
    assert response.json()["error_details"] == errors
    assert not Plan.objects.exists()


@pytest.mark.parametrize(
    ("charge", "errors"),
    [
        ({"charge_model": "standard", "properties": {"amount": "abc"}}, {"properties": ["invalid_amount"]}),
        ({"charge_model": "standard", "properties": {}}, {"properties": ["invalid_amount"]}),
        ({"charge_model": "graduated", "properties": {"graduated_ranges": [
            {"from_value": 5, "to_value": None, "per_unit_amount": "1", "flat_amount": "0"}]}},
         {"properties": ["invalid_graduated_ranges"]}),
        ({"charge_model": "volume", "properties": {"volume_ranges": [
            {"from_value": 0, "to_value": 10, "per_unit_amount": "1", "flat_amount": "0"}]}},
         {"properties": ["invalid_volume_ranges"]}),
        ({"charge_model": "package", "properties": {"amount": "1", "package_size": 0, "free_units": 0}},
         {"properties": ["invalid_package_size"]}),
        ({"charge_model": "percentage", "properties": {"rate": "x"}}, {"properties": ["invalid_rate"]}),
        ({"charge_model": "magic", "properties": {}}, {"charge_model": ["value_is_invalid"]}),
        ({"charge_model": "volume", "pay_in_advance": True, "properties": {"volume_ranges": [
            {"from_value": 0, "to_value": None, "per_unit_amount": "1", "flat_amount": "0"}]}},
         {"pay_in_advance": ["invalid_aggregation_type_or_charge_model"]}),
        ({"charge_model": "dynamic", "billable_metric": "calls", "properties": {}},
         {"charge_model": ["invalid_aggregation_type_or_charge_model"]}),
        ({"charge_model": "standard", "invoiceable": False, "properties": {"amount": "1"}},
         {"invoiceable": ["must_be_true_unless_pay_in_advance"]}),
        ({"charge_model": "standard", "pay_in_advance": True, "min_amount_cents": 10, "properties": {"amount": "1"}},
         {"min_amount_cents": ["not_compatible_with_pay_in_advance"]}),
        ({"charge_model": "standard", "billable_metric": "calls", "properties": {"amount": "1"},
          "filters": [{"values": {"cloud": ["aws"]}, "properties": {"amount": "1"}}]},
         {"filters": ["value_is_invalid"]}),
        ({"charge_model": "standard", "billable_metric": "calls", "properties": {"amount": "1"},
          "filters": [{"values": {"region": ["asia"]}, "properties": {"amount": "1"}}]},
         {"filters": ["value_is_invalid"]}),
        ({"charge_model": "standard", "billable_metric": "calls", "properties": {"amount": "1"},
          "filters": [{"values": {"region": ["us"]}, "properties": {"amount": "-1"}}]},
         {"properties": ["invalid_amount"]}),
    ],
)  # fmt: skip
def test_charge_validation_uses_lago_codes(api, metrics, charge, errors):
    metric = metrics[charge.pop("billable_metric", "gb")]
    charge["billable_metric_id"] = str(metric.id)
    response = api.post(URL, plan_payload(charges=[charge]), format="json")
    assert response.status_code == 422, response.json()
    assert response.json()["error_details"] == errors
    assert not Plan.objects.exists()


def test_unknown_metric_or_tax_is_404(api, metrics, other_tenant):
    foreign = BillableMetricFactory(organization=other_tenant.organization)
    for metric_id in ("not-a-uuid", str(foreign.id)):
        response = api.post(
            URL, plan_payload(charges=[{"billable_metric_id": metric_id, "charge_model": "standard",
                                        "properties": {"amount": "1"}}]), format="json",
        )  # fmt: skip
        assert response.status_code == 404 and response.json()["code"] == "billable_metric_not_found"
    response = api.post(URL, plan_payload(tax_codes=["nope"]), format="json")
    assert response.status_code == 404 and response.json()["code"] == "tax_not_found"
    assert not Plan.objects.filter(organization=metrics["gb"].organization).exists()


def test_duplicate_plan_code(api):
    api.post(URL, plan_payload(), format="json")
    response = api.post(URL, plan_payload(), format="json")
    assert response.json()["error_details"] == {"code": ["value_already_exist"]}


def _create_with_two_charges(api, metrics):
    return api.post(
        URL,
        plan_payload(charges=[
            {"billable_metric_id": str(metrics["gb"].id), "charge_model": "standard", "properties": {"amount": "1"}},
            {"billable_metric_id": str(metrics["calls"].id), "charge_model": "standard", "properties": {"amount": "2"}},
        ]),
        format="json",
    ).json()["plan"]  # fmt: skip


def test_update_with_charges_replaces_the_set_and_keeps_ids(api, metrics):
    plan = _create_with_two_charges(api, metrics)
    gb, calls = plan["charges"]
    response = api.put(
        f"{URL}/startup",
        {"plan": {"name": "Renamed", "charges": [
            {"id": gb["lago_id"], "billable_metric_id": str(metrics["gb"].id), "charge_model": "standard",
             "properties": {"amount": "3"}},
            {"billable_metric_id": str(metrics["gb"].id), "code": "gb_extra", "charge_model": "standard",
             "properties": {"amount": "4"}},
        ]}},
        format="json",
    )  # fmt: skip
    assert response.status_code == 200, response.json()
    body = response.json()["plan"]
    assert body["name"] == "Renamed" and body["amount_cents"] == 4900
    assert [(c["lago_id"] == gb["lago_id"], c["code"], c["properties"]["amount"]) for c in body["charges"]] == [
        (True, "gb", "3"),
        (False, "gb_extra", "4"),
    ]
    assert Charge.objects.get(pk=calls["lago_id"]).deleted_at is not None


def test_update_without_charges_keeps_them(api, metrics):
    plan = _create_with_two_charges(api, metrics)
    body = api.put(f"{URL}/startup", {"plan": {"amount_cents": 100, "description": "x"}}, format="json").json()["plan"]
    assert [c["lago_id"] for c in body["charges"]] == [c["lago_id"] for c in plan["charges"]]
    assert body["amount_cents"] == 100


def test_update_charge_by_code_without_id(api, metrics):
    plan = _create_with_two_charges(api, metrics)
    body = api.put(
        f"{URL}/startup",
        {"plan": {"charges": [{"code": "calls", "billable_metric_id": str(metrics["calls"].id),
                               "charge_model": "volume", "properties": {"volume_ranges": [
                                   {"from_value": 0, "to_value": None, "per_unit_amount": "1", "flat_amount": "0"}]}}]}},
        format="json",
    ).json()["plan"]  # fmt: skip
    assert [(c["lago_id"], c["charge_model"]) for c in body["charges"]] == [(plan["charges"][1]["lago_id"], "volume")]


def test_failed_update_changes_nothing(api, metrics):
    plan = _create_with_two_charges(api, metrics)
    response = api.put(
        f"{URL}/startup",
        {"plan": {"name": "New", "charges": [{"billable_metric_id": str(metrics["gb"].id), "charge_model": "standard",
                                              "properties": {"amount": "bad"}}]}},
        format="json",
    )  # fmt: skip
    assert response.status_code == 422
    after = api.get(f"{URL}/startup").json()["plan"]
    assert after["name"] == "Startup"
    assert [c["lago_id"] for c in after["charges"]] == [c["lago_id"] for c in plan["charges"]]


def test_plan_in_use_freezes_interval_and_charge_models(api, metrics, monkeypatch, django_capture_on_commit_callbacks):
    _create_with_two_charges(api, metrics)
    monkeypatch.setattr(hooks.plan_usage, "_impl", FixedPlanUsage(in_use=True))
    sent = []

    def receiver(sender, plan, organization, old_amount_cents, **kwargs):
        sent.append((old_amount_cents, plan.amount_cents))

    signals.plan_updated.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            body = api.put(
                f"{URL}/startup",
                {"plan": {"interval": "yearly", "amount_cents": 5900, "amount_currency": "EUR", "code": "other",
                          "charges": [{"code": "gb", "charge_model": "package", "min_amount_cents": 5,
                                       "billable_metric_id": str(metrics["gb"].id), "properties": {"amount": "7"}}]}},
                format="json",
            ).json()  # fmt: skip
    finally:
        signals.plan_updated.disconnect(receiver)
    assert sent == [(4900, 5900)]
    plan = body["plan"]
    assert (plan["interval"], plan["code"]) == ("monthly", "startup")
    assert (plan["amount_cents"], plan["amount_currency"]) == (5900, "USD")
    assert [(c["charge_model"], c["properties"], c["min_amount_cents"]) for c in plan["charges"]] == [
        ("standard", {"amount": "7"}, 0)
    ]


def test_thresholds_and_commitment_update(api):
    api.post(URL, plan_payload(usage_thresholds=[{"amount_cents": 100}], minimum_commitment={"amount_cents": 5}),
             format="json")  # fmt: skip
    body = api.put(
        f"{URL}/startup", {"plan": {"usage_thresholds": [{"amount_cents": 200}], "minimum_commitment": {}}},
        format="json",
    ).json()["plan"]  # fmt: skip
    assert [t["amount_cents"] for t in body["usage_thresholds"]] == [200]
    assert "minimum_commitment" not in body
    response = api.put(f"{URL}/startup", {"plan": {"usage_thresholds": [{"amount_cents": 0}]}}, format="json")
    assert response.status_code == 422


def test_delete_plan(api, metrics, organization, django_capture_on_commit_callbacks):
    _create_with_two_charges(api, metrics)
    sent = []

    def receiver(sender, plan, organization, **kwargs):
        sent.append((plan.code, plan.deleted_at is not None))

    signals.plan_deleted.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = api.delete(f"{URL}/startup")
    finally:
        signals.plan_deleted.disconnect(receiver)
    assert sent == [("startup", True)]
    assert response.status_code == 200
    assert response.json()["plan"]["pending_deletion"] is True
    assert api.get(f"{URL}/startup").json()["code"] == "plan_not_found"
    assert api.get(URL).json()["plans"] == []
    assert api.post(URL, plan_payload(), format="json").status_code == 200  # code reusable


def test_list_and_other_tenant(api, other_tenant, organization):
    PlanFactory(organization=organization, code="a")
    PlanFactory(organization=organization, code="b")
    listing = api.get(URL).json()
    assert {p["code"] for p in listing["plans"]} == {"a", "b"}
    assert listing["meta"]["total_count"] == 2
    assert other_tenant.client.get(f"{URL}/a").status_code == 404
    assert other_tenant.client.put(f"{URL}/a", {"plan": {"name": "x"}}, format="json").status_code == 404
    assert other_tenant.client.delete(f"{URL}/a").status_code == 404
    assert other_tenant.client.get(f"{URL}/a/charges").status_code == 404
    assert other_tenant.client.get(URL).json()["plans"] == []


# --- /plans/{code}/charges ----------------------------------------------------------------------


def test_plan_charge_routes(api, metrics):
    _create_with_two_charges(api, metrics)
    listing = api.get(f"{URL}/startup/charges").json()
    assert [c["code"] for c in listing["charges"]] == ["gb", "calls"]

    created = api.post(
        f"{URL}/startup/charges",
        {"charge": {"billable_metric_id": str(metrics["gb"].id), "code": "gb2", "charge_model": "percentage",
                    "properties": {"rate": "1.5", "fixed_amount": "0.1"}}},
        format="json",
    )  # fmt: skip
    assert created.status_code == 200, created.json()
    assert created.json()["charge"]["properties"] == {"rate": "1.5", "fixed_amount": "0.1"}

    assert api.get(f"{URL}/startup/charges/gb2").json()["charge"]["charge_model"] == "percentage"
    updated = api.put(
        f"{URL}/startup/charges/gb2", {"charge": {"properties": {"rate": "2"}, "invoice_display_name": "Fee"}},
        format="json",
    )  # fmt: skip
    assert updated.json()["charge"]["properties"] == {"rate": "2"}
    assert updated.json()["charge"]["invoice_display_name"] == "Fee"
    bad = api.put(f"{URL}/startup/charges/gb2", {"charge": {"properties": {"rate": "-2"}}}, format="json")
    assert bad.status_code == 422 and bad.json()["error_details"] == {"properties": ["invalid_rate"]}

    assert api.delete(f"{URL}/startup/charges/gb2").status_code == 200
    assert api.get(f"{URL}/startup/charges/gb2").json()["code"] == "charge_not_found"
    duplicate = api.post(
        f"{URL}/startup/charges",
        {"charge": {"billable_metric_id": str(metrics["gb"].id), "code": "gb", "charge_model": "standard",
                    "properties": {"amount": "1"}}},
        format="json",
    )  # fmt: skip
    assert duplicate.json()["error_details"] == {"code": ["value_already_exist"]}
    assert api.get(f"{URL}/nope/charges").json()["code"] == "plan_not_found"


# --- /plans/{code}/charges/{charge_code}/filters and /plans/{code}/metadata --------------------


def test_charge_filter_routes(api, metrics):
    _create_with_two_charges(api, metrics)
    base = f"{URL}/startup/charges/calls/filters"
    created = api.post(
        base, {"filter": {"values": {"region": ["eu"]}, "properties": {"amount": "3"}, "invoice_display_name": "EU"}},
        format="json",
    )  # fmt: skip
    assert created.status_code == 200, created.json()
    body = created.json()["filter"]
    assert (body["values"], body["properties"], body["invoice_display_name"]) == (
        {"region": ["eu"]}, {"amount": "3"}, "EU",
    )  # fmt: skip
    duplicate = api.post(base, {"filter": {"values": {"region": ["eu"]}, "properties": {"amount": "1"}}}, format="json")
    assert duplicate.json()["error_details"] == {"values": ["value_already_exist"]}
    unknown = api.post(base, {"filter": {"values": {"region": ["mars"]}, "properties": {"amount": "1"}}}, format="json")
    assert unknown.status_code == 422

    listing = api.get(base).json()
    assert [f["lago_id"] for f in listing["filters"]] == [body["lago_id"]]
    assert listing["meta"]["total_count"] == 1
    assert api.get(f"{base}/{body['lago_id']}").json()["filter"]["values"] == {"region": ["eu"]}
    updated = api.put(f"{base}/{body['lago_id']}", {"filter": {"properties": {"amount": "4"}}}, format="json")
    assert updated.json()["filter"]["properties"] == {"amount": "4"}
    assert updated.json()["filter"]["values"] == {"region": ["eu"]}
    bad = api.put(f"{base}/{body['lago_id']}", {"filter": {"properties": {"amount": "x"}}}, format="json")
    assert bad.json()["error_details"] == {"properties": ["invalid_amount"]}
    assert api.delete(f"{base}/{body['lago_id']}").status_code == 200
    assert api.get(f"{base}/{body['lago_id']}").json()["code"] == "charge_filter_not_found"
    assert api.get(f"{base}/not-a-uuid").status_code == 404
    assert api.get(f"{URL}/startup/charges/nope/filters").json()["code"] == "charge_not_found"


def test_plan_metadata_routes(api, other_tenant):
    api.post(URL, plan_payload(metadata={"a": "1"}), format="json")
    assert api.post(f"{URL}/startup/metadata", {"metadata": {"b": "2"}}, format="json").json() == {
        "metadata": {"b": "2"}
    }
    merged = api.patch(f"{URL}/startup/metadata", {"metadata": {"c": None}}, format="json").json()
    assert merged == {"metadata": {"b": "2", "c": None}}
    assert api.delete(f"{URL}/startup/metadata/b").json() == {"metadata": {"c": None}}
    assert api.delete(f"{URL}/startup/metadata").json() == {"metadata": {}}
    assert api.post(f"{URL}/startup/metadata", {"metadata": {"x": 1}}, format="json").status_code == 422
    assert api.post(f"{URL}/startup/metadata", {}, format="json").status_code == 400
    assert other_tenant.client.delete(f"{URL}/startup/metadata").status_code == 404


def test_plan_list_query_count_does_not_grow_with_plans(api, organization, django_assert_max_num_queries, monkeypatch):
    """The catalog's own queries; the counts the subscriptions app answers are its to batch."""
    monkeypatch.setattr(hooks.plan_usage, "_impl", FixedPlanUsage())

    def make(n):
        for _ in range(n):
            plan = PlanFactory(organization=organization)
            plan.taxes.add(TaxFactory(organization=organization))
            for _ in range(3):
                charge = ChargeFactory(plan=plan)
                ChargeFilterFactory(charge=charge)

    make(2)
    with django_assert_max_num_queries(30) as small:
        api.get(URL)
    make(8)
    with django_assert_max_num_queries(len(small.captured_queries)) as large:
        assert len(api.get(URL).json()["plans"]) == 10
    assert len(large.captured_queries) <= len(small.captured_queries)


STANDARD = {"amount": "1"}
VOLUME = {"volume_ranges": [{"from_value": 0, "to_value": None, "per_unit_amount": "1", "flat_amount": "0"}]}


@pytest.mark.parametrize(
    ("aggregation", "recurring", "charge", "errors"),
    [
        ("latest_agg", False, {"charge_model": "percentage", "properties": {"rate": "1"}},
         {"billable_metric": ["invalid_value"]}),
        ("max_agg", False, {"charge_model": "standard", "pay_in_advance": True, "properties": STANDARD},
         {"pay_in_advance": ["invalid_aggregation_type_or_charge_model"]}),
        ("weighted_sum_agg", True, {"charge_model": "standard", "prorated": True, "properties": STANDARD},
         {"prorated": ["invalid_billable_metric_or_charge_model"]}),
        ("sum_agg", False, {"charge_model": "standard", "prorated": True, "properties": STANDARD},
         {"prorated": ["invalid_billable_metric_or_charge_model"]}),
        ("sum_agg", True, {"charge_model": "volume", "pay_in_advance": False, "prorated": True, "properties": VOLUME},
         {}),
        ("sum_agg", True, {"charge_model": "standard", "pay_in_advance": True, "prorated": True,
                           "properties": STANDARD}, {}),
        ("sum_agg", False, {"charge_model": "standard", "regroup_paid_fees": "invoice", "properties": STANDARD},
         {"regroup_paid_fees": ["only_compatible_with_pay_in_advance_and_non_invoiceable"]}),
        ("sum_agg", False, {"charge_model": "standard", "pay_in_advance": True, "invoiceable": False,
                            "regroup_paid_fees": "invoice", "properties": STANDARD}, {}),
        ("sum_agg", False, {"charge_model": "dynamic", "properties": {}}, {}),
    ],
)  # fmt: skip
def test_lago_model_and_metric_rules(api, organization, aggregation, recurring, charge, errors):
    """docs/billing-semantics.md §2.12, through the API."""
    metric = BillableMetricFactory(
        organization=organization, aggregation_type=aggregation, recurring=recurring,
        weighted_interval="seconds" if aggregation == "weighted_sum_agg" else None,
    )  # fmt: skip
    response = api.post(URL, plan_payload(charges=[{**charge, "billable_metric_id": str(metric.id)}]), format="json")
    if errors:
        assert response.status_code == 422, response.json()
        assert response.json()["error_details"] == errors
    else:
        assert response.status_code == 200, response.json()


def test_lago_filters_and_grouping_spec_configuration(api, organization):
    """The charge of docs/billing-semantics.md §14 (filters_and_grouped_by_spec): $10 default, $12 for aws in any
    region, grouped by country. The catalog stores exactly what metering and invoicing price."""
    metric = BillableMetricFactory(organization=organization, code="usage", aggregation_type="sum_agg")
    BillableMetricFilterFactory(billable_metric=metric, key="cloud", values=["aws", "gcp"])
    BillableMetricFilterFactory(billable_metric=metric, key="region", values=["us", "europe", "asia"])
    response = api.post(
        URL,
        plan_payload(charges=[{
            "billable_metric_id": str(metric.id), "charge_model": "standard",
            "properties": {"amount": "10", "grouped_by": ["country"]},
            "filters": [{"values": {"cloud": ["aws"], "region": ["__ALL_FILTER_VALUES__"]},
                         "properties": {"amount": "12", "pricing_group_keys": ["country"]}}],
        }]),
        format="json",
    )  # fmt: skip
    assert response.status_code == 200, response.json()
    charge = response.json()["plan"]["charges"][0]
    assert charge["properties"] == {"amount": "10", "pricing_group_keys": ["country"]}
    assert charge["pricing_group_keys"] == ["country"]
    assert charge["filters"][0]["values"] == {"cloud": ["aws"], "region": ["__ALL_FILTER_VALUES__"]}
    assert charge["filters"][0]["properties"] == {"amount": "12", "pricing_group_keys": ["country"]}
    stored = Charge.live.get(pk=charge["lago_id"])
    assert stored.pricing_group_keys == ["country"]


def test_charge_metric_can_change_while_the_plan_is_unused(api, metrics, organization):
    plan = _create_with_two_charges(api, metrics)
    other = BillableMetricFactory(organization=organization, code="other", aggregation_type="sum_agg")
    calls = plan["charges"][1]
    api.post(
        f"{URL}/startup/charges/calls/filters", {"filter": {"values": {"region": ["us"]}, "properties": STANDARD}},
        format="json",
    )  # fmt: skip
    body = api.put(
        f"{URL}/startup/charges/calls", {"charge": {"billable_metric_id": str(other.id)}}, format="json"
    ).json()["charge"]
    assert (body["lago_id"], body["billable_metric_code"], body["filters"]) == (calls["lago_id"], "other", [])
    missing = api.put(f"{URL}/startup/charges/calls", {"charge": {"billable_metric_id": "nope"}}, format="json")
    assert missing.json()["code"] == "billable_metric_not_found"
