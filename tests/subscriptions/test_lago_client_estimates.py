"""Lago's official Python client estimates fees against a live server: `estimate_fees` (with and
without a transaction id) over the subscription's real period, and the instant estimates, whose
answers the client's own fee model reads."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from lago_python_client.models import Event
from lago_python_client.models.fee import FeeResponse
from lago_python_client.services.request import make_headers, make_url, send_post_request
from lago_python_client.services.response import get_response_data, prepare_object_list_response

from catalog.models import ChargeTax
from tests.factories.invoicing import make_charge, make_customer, make_metric, make_plan, make_tax, subscribe

pytestmark = pytest.mark.django_db(transaction=True)


def _post(lago, path: str, body: dict) -> list[FeeResponse]:
    """POST with the client's own request and response code; fees parsed into its FeeResponse."""
    client = lago.client
    response = send_post_request(
        url=make_url(origin=client.base_api_url, path_parts=("events", path)),
        content=json.dumps(body),
        headers=make_headers(api_key=client.api_key),
    )
    return list(
        prepare_object_list_response(
            api_resource="fees", response_model=FeeResponse, data=get_response_data(response=response, key="fees")
        )["fees"]
    )


def test_estimates_with_lago_client(lago):
    organization = lago.organization
    customer = make_customer(organization, external_id="lc-est-cus", timezone="Asia/Tokyo")
    plan = make_plan(organization, amount_cents=0)
    metric = make_metric(organization, "lc_tx", "sum_agg", field_name="amount")
    charge = make_charge(plan, metric, properties={"amount": "0.5"}, pay_in_advance=True)
    ChargeTax.objects.create(charge=charge, tax=make_tax(organization, "20", code="lc_vat"))
    sub = subscribe(
        customer, plan, datetime(2024, 1, 15, 10, tzinfo=UTC), external_id="lc-est-sub", billing_time="anniversary"
    )
    now = datetime.now(UTC)

    [fee] = lago.client.events.estimate_fees(
        Event(transaction_id="lc-e1", external_subscription_id="lc-est-sub", code="lc_tx", properties={"amount": 8})
    )["fees"]
    assert (fee.amount_cents, fee.taxes_amount_cents, fee.total_amount_cents) == (400, 80, 480)
    assert fee.units == "8" and fee.total_aggregated_units == "8"
    assert fee.precise_unit_amount == "0.5"
    assert fee.payment_status == "pending"
    assert fee.sub_total_excluding_taxes_amount_cents == 400
    assert fee.sub_total_excluding_taxes_precise_amount_cents == "400"
    assert fee.event_transaction_id == "lc-e1"
    assert fee.lago_customer_id == str(customer.id) and fee.external_customer_id == "lc-est-cus"
    assert fee.applied_taxes.__root__[0].created_at is None
    assert fee.applied_taxes.__root__[0].tax_code == "lc_vat"
    # the period: anniversary on the 15th at midnight in Tokyo (15:00 UTC the day before)
    start = datetime.fromisoformat(fee.from_date.replace("Z", "+00:00"))
    assert (start.day, start.hour) == (14, 15) and start <= now

    [generated] = _post(lago, "estimate_fees", {"event": {"external_subscription_id": "lc-est-sub", "code": "lc_tx"}})
    assert generated.event_transaction_id and generated.amount_cents == 0  # no amount: 0 units

    fees = _post(
        lago,
        "estimate_instant_fees",
        {"event": {"external_subscription_id": sub.external_id, "code": "lc_tx", "properties": {"amount": "3"}}},
    )
    assert [(f.amount_cents, f.taxes_amount_cents, f.units, f.from_date) for f in fees] == [(150, 30, "3", None)]

    batch = _post(
        lago,
        "batch_estimate_instant_fees",
        {
            "events": [
                {"transaction_id": f"lc-b{i}", "external_subscription_id": "lc-est-sub", "code": "lc_tx",
                 "properties": {"amount": str(i)}}
                for i in (1, 2)
            ]
        },
    )  # fmt: skip
    assert [(f.event_transaction_id, f.amount_cents) for f in batch] == [("lc-b1", 50), ("lc-b2", 100)]
