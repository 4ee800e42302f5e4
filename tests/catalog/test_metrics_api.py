from __future__ import annotations

import pytest

from catalog import signals
from catalog.models import BillableMetric, Charge, ChargeFilter
from tests.factories.catalog import BillableMetricFactory, ChargeFactory, ChargeFilterFactory, PlanFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/billable_metrics"


def metric_payload(**overrides):
    data = {"name": "Storage", "code": "storage", "aggregation_type": "sum_agg", "field_name": "gb"}
    data.update(overrides)
    return {"billable_metric": data}


def test_create_returns_lago_shape(api):
    response = api.post(
        URL,
        metric_payload(filters=[{"key": "region", "values": ["us", "eu"]}], rounding_function="round",
                       rounding_precision=2, description="GB stored"),
        format="json",
    )  # fmt: skip
    assert response.status_code == 200, response.json()
    body = response.json()["billable_metric"]
    assert body["code"] == "storage"
    assert body["aggregation_type"] == "sum_agg"
    assert body["field_name"] == "gb"
    assert body["recurring"] is False
    assert body["rounding_function"] == "round"
    assert body["rounding_precision"] == 2
    assert body["filters"] == [{"key": "region", "values": ["us", "eu"]}]
    assert body["lago_id"] and body["created_at"]
    assert body["plans_count"] == 0


def test_also_served_under_v1(api):
    assert api.post("/v1/billable_metrics", metric_payload(), format="json").status_code == 200
    assert api.get("/v1/billable_metrics/storage").status_code == 200


@pytest.mark.parametrize(
    ("overrides", "errors"),
    [
        ({"name": None}, {"name": ["value_is_mandatory"]}),
        ({"code": ""}, {"code": ["value_is_mandatory"]}),
        ({"aggregation_type": "median_agg"}, {"aggregation_type": ["value_is_invalid"]}),
        ({"aggregation_type": None}, {"aggregation_type": ["value_is_mandatory"]}),
        ({"field_name": None}, {"field_name": ["value_is_mandatory"]}),
        ({"aggregation_type": "max_agg", "recurring": True}, {"recurring": ["not_compatible_with_aggregation_type"]}),
        ({"aggregation_type": "count_agg", "recurring": True}, {"recurring": ["not_compatible_with_aggregation_type"]}),
        ({"aggregation_type": "latest_agg", "recurring": True},
         {"recurring": ["not_compatible_with_aggregation_type"]}),
        ({"aggregation_type": "weighted_sum_agg"}, {"weighted_interval": ["value_is_invalid"]}),
        ({"rounding_function": "truncate"}, {"rounding_function": ["value_is_invalid"]}),
        ({"expression": "event.properties.a *"}, {"expression": ["invalid_expression"]}),
        ({"filters": [{"key": "region", "values": []}]}, {"filters.0.values": ["value_is_invalid"]}),
    ],
)  # fmt: skip
def test_create_validation_errors(api, overrides, errors):
    response = api.post(URL, metric_payload(**overrides), format="json")
    assert response.status_code == 422, response.json()
    body = response.json()
    assert body["code"] == "validation_errors"
    assert body["error_details"] == errors


def test_recurring_allowed_on_sum_and_unique_count(api):
    assert api.post(URL, metric_payload(recurring=True), format="json").status_code == 200
    response = api.post(
        URL, metric_payload(code="seats", aggregation_type="unique_count_agg", field_name="user", recurring=True),
        format="json",
    )  # fmt: skip
    assert response.status_code == 200


def test_count_agg_ignores_field_name_requirement(api):
    response = api.post(URL, metric_payload(aggregation_type="count_agg", field_name=None), format="json")
    assert response.status_code == 200
    assert response.json()["billable_metric"]["field_name"] is None


def test_weighted_sum_with_interval(api):
    response = api.post(
        URL, metric_payload(aggregation_type="weighted_sum_agg", weighted_interval="seconds"), format="json"
    )
    assert response.status_code == 200
    assert response.json()["billable_metric"]["weighted_interval"] == "seconds"


def test_duplicate_code_is_value_already_exist(api):
    api.post(URL, metric_payload(), format="json")
    response = api.post(URL, metric_payload(), format="json")
    assert response.status_code == 422
    assert response.json()["error_details"] == {"code": ["value_already_exist"]}


def test_missing_root_key_is_400(api):
    response = api.post(URL, {"metric": {}}, format="json")
    assert response.status_code == 400
    assert response.json()["status"] == 400


def test_find_list_update_delete(api, organization):
    api.post(URL, metric_payload(), format="json")
    api.post(URL, metric_payload(code="calls", aggregation_type="count_agg"), format="json")
    assert api.get(f"{URL}/storage").json()["billable_metric"]["code"] == "storage"
    listing = api.get(URL, {"per_page": 1}).json()
    assert [m["code"] for m in listing["billable_metrics"]] == ["calls"]
    assert listing["meta"]["total_count"] == 2 and listing["meta"]["next_page"] == 2

    updated = api.put(f"{URL}/storage", {"billable_metric": {"name": "Disk", "code": "disk"}}, format="json")
    assert updated.status_code == 200
    assert updated.json()["billable_metric"]["name"] == "Disk"
    assert updated.json()["billable_metric"]["code"] == "disk"

    deleted = api.delete(f"{URL}/disk")
    assert deleted.status_code == 200
    assert deleted.json()["billable_metric"]["code"] == "disk"
    assert api.get(f"{URL}/disk").status_code == 404
    assert BillableMetric.objects.get(code="disk").deleted_at is not None
    # the code is free again
    assert api.post(URL, metric_payload(code="disk"), format="json").status_code == 200


def test_unknown_metric_is_404(api):
    for response in (
        api.get(f"{URL}/nope"),
        api.put(f"{URL}/nope", {"billable_metric": {"name": "x"}}, format="json"),
        api.delete(f"{URL}/nope"),
    ):
        assert response.status_code == 404
        assert response.json()["code"] == "billable_metric_not_found"


def test_other_tenant_gets_404(api, other_tenant):
    api.post(URL, metric_payload(), format="json")
    assert other_tenant.client.get(f"{URL}/storage").status_code == 404
    assert other_tenant.client.delete(f"{URL}/storage").status_code == 404
    assert other_tenant.client.get(URL).json()["billable_metrics"] == []


def test_only_name_and_description_change_once_a_plan_uses_it(api, organization):
    metric = BillableMetricFactory(organization=organization, code="gb", aggregation_type="sum_agg")
    ChargeFactory(plan=PlanFactory(organization=organization), billable_metric=metric)
    response = api.put(
        f"{URL}/gb",
        {"billable_metric": {"name": "New", "description": "d", "code": "other", "aggregation_type": "max_agg"}},
        format="json",
    )
    body = response.json()["billable_metric"]
    assert response.status_code == 200
    assert (body["name"], body["description"], body["code"], body["aggregation_type"]) == ("New", "d", "gb", "sum_agg")
    assert body["plans_count"] == 1


def test_delete_cascades_to_charges_and_filters_as_lago(api, organization, django_capture_on_commit_callbacks):
    metric = BillableMetricFactory(organization=organization, code="gb")
    charge = ChargeFactory(plan=PlanFactory(organization=organization), billable_metric=metric)
    charge_filter = ChargeFilterFactory(charge=charge)
    sent = []

    def receiver(sender, billable_metric, organization, **kwargs):
        sent.append(billable_metric.code)

    signals.billable_metric_deleted.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            assert api.delete(f"{URL}/gb").status_code == 200
    finally:
        signals.billable_metric_deleted.disconnect(receiver)
    assert sent == ["gb"]
    assert Charge.objects.get(pk=charge.pk).deleted_at is not None
    assert ChargeFilter.objects.get(pk=charge_filter.pk).deleted_at is not None
    plan_body = api.get(f"/api/v1/plans/{charge.plan.code}").json()["plan"]
    assert plan_body["charges"] == []


def test_updating_filters_prunes_charge_filters(api, organization):
    api.post(URL, metric_payload(filters=[{"key": "region", "values": ["us", "eu"]},
                                          {"key": "cloud", "values": ["aws", "gcp"]}]), format="json")  # fmt: skip
    metric = BillableMetric.live.get(code="storage")
    charge = ChargeFactory(plan=PlanFactory(organization=organization), billable_metric=metric)
    keeps = ChargeFilterFactory(charge=charge, values={"region": ["us", "eu"]})
    loses_key = ChargeFilterFactory(charge=charge, values={"cloud": ["aws"]})
    loses_value = ChargeFilterFactory(charge=charge, values={"region": ["eu"]})
    response = api.put(
        f"{URL}/storage", {"billable_metric": {"filters": [{"key": "region", "values": ["us"]}]}}, format="json"
    )
    assert response.json()["billable_metric"]["filters"] == [{"key": "region", "values": ["us"]}]
    keeps.refresh_from_db()
    loses_key.refresh_from_db()
    loses_value.refresh_from_db()
    assert keeps.values == {"region": ["us"]} and keeps.deleted_at is None
    assert loses_key.deleted_at is not None
    assert loses_value.deleted_at is not None


def test_evaluate_expression(api):
    response = api.post(
        f"{URL}/evaluate_expression",
        {"expression": "round(event.properties.a * event.properties.b, 2)",
         "event": {"code": "x", "properties": {"a": "1.234", "b": 3}}},
        format="json",
    )  # fmt: skip
    assert response.status_code == 200, response.json()
    assert response.json() == {"expression_result": {"value": "3.70"}}


@pytest.mark.parametrize(
    ("payload", "errors"),
    [
        ({}, {"expression": ["value_is_mandatory"], "event": ["value_is_mandatory"]}),
        ({"expression": "1 +", "event": {"properties": {}}}, {"expression": ["invalid_expression"]}),
        ({"expression": "event.properties.missing * 2", "event": {"properties": {}}},
         {"expression": ["invalid_expression"]}),
    ],
)  # fmt: skip
def test_evaluate_expression_errors(api, payload, errors):
    response = api.post(f"{URL}/evaluate_expression", payload, format="json")
    assert response.status_code == 422
    assert response.json()["error_details"] == errors
