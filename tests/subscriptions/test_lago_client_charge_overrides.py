"""Lago's Python client overrides one subscription's charge and its filters against a live server
(`subscription_charges` and the `subscriptions.*_charge_filter` methods)."""

from __future__ import annotations

import pytest
from lago_python_client.exceptions import LagoApiError
from lago_python_client.models import Subscription
from lago_python_client.models.charge import Charge, ChargeFilter

from catalog.models import Plan
from tests.factories.catalog import BillableMetricFilterFactory
from tests.factories.invoicing import make_charge, make_metric, make_plan

pytestmark = pytest.mark.django_db(transaction=True)


def test_subscription_charge_overrides_with_lago_client(lago):
    client = lago.client
    organization = lago.organization
    metric = make_metric(organization, "units", "sum_agg", field_name="total")
    BillableMetricFilterFactory(billable_metric=metric, key="region", values=["eu", "us"])
    plan = make_plan(organization, code="p", amount_cents=0)
    make_charge(plan, metric, code="units", properties={"amount": "0.01"})
    client.subscriptions.create(Subscription(external_customer_id="c1", plan_code="p", external_id="s1"))

    found = client.subscription_charges.find("s1", "units")
    assert (found.code, found.properties) == ("units", {"amount": "0.01"})

    updated = client.subscription_charges.update(
        "s1", "units", Charge(properties={"amount": "0.015"}, invoice_display_name="Units for s1")
    )
    assert updated.properties == {"amount": "0.015"} and updated.invoice_display_name == "Units for s1"
    assert updated.lago_id != found.lago_id
    assert client.subscription_charges.find("s1", "units").lago_id == updated.lago_id
    assert Plan.objects.get(pk=plan.pk).charges.get().properties == {"amount": "0.01"}

    created = client.subscriptions.create_charge_filter(
        "s1", "units", ChargeFilter(values={"region": ["eu"]}, properties={"amount": "0.03"}, invoice_display_name="EU")
    )
    assert created.values == {"region": ["eu"]} and created.properties == {"amount": "0.03"}
    listing = client.subscriptions.find_all_charge_filters("s1", "units")
    assert [f.lago_id for f in listing["filters"]] == [created.lago_id]
    assert listing["meta"]["total_count"] == 1
    assert client.subscriptions.find_charge_filter("s1", "units", created.lago_id).invoice_display_name == "EU"
    changed = client.subscriptions.update_charge_filter(
        "s1", "units", created.lago_id, ChargeFilter(properties={"amount": "0.04"}), subscription_status="active"
    )
    assert changed.properties == {"amount": "0.04"} and changed.lago_id == created.lago_id
    removed = client.subscriptions.destroy_charge_filter("s1", "units", created.lago_id)
    assert removed.lago_id == created.lago_id
    assert client.subscriptions.find_all_charge_filters("s1", "units")["filters"] == []

    with pytest.raises(LagoApiError) as missing:
        client.subscription_charges.find("s1", "nope")
    assert missing.value.status_code == 404
    with pytest.raises(LagoApiError) as invalid:
        client.subscription_charges.update("s1", "units", Charge(properties={"amount": "abc"}))
    assert invalid.value.status_code == 422
    # The client's `subscription_charges.find_all` sends no API key (its child-list mixin builds no
    # headers): 401 here as from Lago (docs/lago-compatibility.md §1.2).
    with pytest.raises(LagoApiError) as unauthenticated:
        client.subscription_charges.find_all("s1")
    assert unauthenticated.value.status_code == 401
