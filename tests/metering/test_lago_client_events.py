"""Lago's official Python client sends events, batches, finds them and estimates fees."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from lago_python_client.exceptions import LagoApiError
from lago_python_client.models import BatchEvent, Event

from metering.models import Event as StoredEvent
from tests.factories.catalog import ChargeFactory, PlanFactory
from tests.factories.metering import make_metric

pytestmark = pytest.mark.django_db(transaction=True)


def test_events_with_lago_client(lago, known_subscriptions):
    client = lago.client
    metric = make_metric(lago.organization, "calls", "sum_agg", field_name="n")
    plan = PlanFactory(organization=lago.organization)
    ChargeFactory(plan=plan, billable_metric=metric, pay_in_advance=True, properties={"amount": "0.5"})
    known_subscriptions.add(lago.organization, "sub_lc", datetime(2020, 1, 1, tzinfo=UTC), plan_id=plan.id)

    created = client.events.create(
        Event(
            transaction_id="lc-1",
            external_subscription_id="sub_lc",
            code="calls",
            timestamp=1700000000.5,
            properties={"n": 3},
        )
    )
    assert created is None or created.transaction_id == "lc-1"
    found = client.events.find("lc-1")
    assert found.timestamp == "2023-11-14T22:13:20.500Z"
    assert found.properties == {"n": 3}

    client.events.batch_create(
        BatchEvent(
            events=[
                Event(
                    transaction_id=f"lc-b{i}",
                    external_subscription_id="sub_lc",
                    code="calls",
                    timestamp=1700000001,
                    properties={"n": "2"},
                )
                for i in range(3)
            ]
        )
    )
    assert StoredEvent.objects.filter(organization=lago.organization).count() == 4

    with pytest.raises(LagoApiError) as duplicate:
        client.events.create(Event(transaction_id="lc-1", external_subscription_id="sub_lc", code="calls"))
    assert duplicate.value.status_code == 422

    fees = client.events.estimate_fees(
        Event(transaction_id="est", external_subscription_id="sub_lc", code="calls", properties={"n": 4})
    )
    (fee,) = fees["fees"]
    assert fee.amount_cents == 200
    assert fee.units == "4"
    assert StoredEvent.objects.filter(organization=lago.organization).count() == 4
