"""Lago's official Python client drives the subscriptions API end to end against a live server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from lago_python_client.exceptions import LagoApiError
from lago_python_client.models import Subscription
from lago_python_client.models.plan import PlanOverrides

from tests.factories.subscriptions import SubscriptionPlanFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_subscriptions_with_lago_client(lago):
    client = lago.client
    for code, amount in (("basic", 10000), ("premium", 20000), ("starter", 5000)):
        SubscriptionPlanFactory(organization=lago.organization, code=code, amount_cents=amount)

    created = client.subscriptions.create(
        Subscription(
            external_customer_id="lc-cust",
            plan_code="basic",
            external_id="lc-sub",
            name="Main",
            billing_time="anniversary",
        )
    )
    assert created.external_id == "lc-sub"
    assert created.status == "active"
    assert created.plan_code == "basic"
    assert created.plan_amount_cents == "10000"  # the client models it as a string
    assert created.billing_time == "anniversary"
    assert created.current_billing_period_ending_at.endswith("23:59:59Z")

    found = client.subscriptions.find("lc-sub")
    assert found.lago_id == created.lago_id

    listing = client.subscriptions.find_all({"external_customer_id": "lc-cust"})
    assert [s.external_id for s in listing["subscriptions"]] == ["lc-sub"]
    assert listing["meta"]["total_count"] == 1

    ending = (datetime.now(UTC) + timedelta(days=90)).replace(microsecond=0)
    updated = client.subscriptions.update(
        Subscription(name="Renamed", ending_at=ending.isoformat(), plan_overrides=PlanOverrides(amount_cents=9000)),
        "lc-sub",
    )
    assert updated.name == "Renamed"
    assert updated.ending_at is not None
    assert updated.plan_code == "basic" and updated.plan_amount_cents == "9000"

    # Upgrade: immediate, a new subscription with the same external id.
    upgraded = client.subscriptions.create(
        Subscription(external_customer_id="lc-cust", plan_code="premium", external_id="lc-sub")
    )
    assert upgraded.lago_id != created.lago_id
    assert upgraded.previous_plan_code == "basic"
    terminated = client.subscriptions.find("lc-sub", {"status": "terminated"})
    assert terminated.next_plan_code == "premium"

    # Downgrade: pending until the period end, cancellable.
    current = client.subscriptions.create(
        Subscription(external_customer_id="lc-cust", plan_code="starter", external_id="lc-sub")
    )
    assert current.lago_id == upgraded.lago_id
    assert current.next_plan_code == "starter"
    assert current.downgrade_plan_date is not None
    pending = client.subscriptions.find("lc-sub", {"status": "pending"})
    assert pending.plan_code == "starter"
    canceled = client.subscriptions.destroy("lc-sub", {"status": "pending"})
    assert canceled.status == "canceled"

    # A future start is pending.
    future = client.subscriptions.create(
        Subscription(
            external_customer_id="lc-cust",
            plan_code="basic",
            external_id="lc-future",
            subscription_at=(datetime.now(UTC) + timedelta(days=5)).isoformat(),
        )
    )
    assert future.status == "pending"
    statuses = client.subscriptions.find_all({"status[]": ["active", "pending"]})
    assert {s.external_id for s in statuses["subscriptions"]} == {"lc-sub", "lc-future"}

    deleted = client.subscriptions.destroy("lc-sub", {"on_termination_invoice": "skip"})
    assert deleted.status == "terminated"
    assert deleted.on_termination_invoice == "skip"

    with pytest.raises(LagoApiError) as not_found:
        client.subscriptions.find("lc-sub")
    assert not_found.value.status_code == 404
    assert not_found.value.response["code"] == "subscription_not_found"

    with pytest.raises(LagoApiError) as refused:
        client.subscriptions.destroy("lc-sub", {"status": "terminated"})
    assert refused.value.status_code == 405
    assert refused.value.response["code"] == "invalid_status"

    with pytest.raises(LagoApiError) as invalid:
        client.subscriptions.create(
            Subscription(external_customer_id="lc-cust", plan_code="basic", external_id="x", billing_time="never")
        )
    assert invalid.value.status_code == 422
    assert invalid.value.response["error_details"] == {"billing_time": ["value_is_invalid"]}

    with pytest.raises(LagoApiError) as unknown_plan:
        client.subscriptions.create(Subscription(external_customer_id="lc-cust", plan_code="nope", external_id="y"))
    assert unknown_plan.value.status_code == 404
    assert unknown_plan.value.response["code"] == "plan_not_found"
