"""Lago's Python client: the first pay-in-advance charge of an organization bills the very next
events, a fee that cannot be computed never fails ingestion, and a filtered in-advance charge
bills each event with its filter (docs/invoicing.md §7)."""

from __future__ import annotations

import time

import pytest
from lago_python_client.models import BatchEvent, BillableMetric, Charge, Customer, Event, Plan, Subscription
from lago_python_client.models.billable_metric import BillableMetricFilter, BillableMetricFilters
from lago_python_client.models.charge import ChargeFilter, ChargeFilters, Charges

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def _event(tx: str, code: str, **properties) -> Event:
    return Event(transaction_id=tx, external_subscription_id="lc-adv-sub", code=code, timestamp=time.time(),
                 properties=properties)  # fmt: skip


def test_first_in_advance_charge_after_events_bills_each_next_event(lago):
    client = lago.client
    seats = client.billable_metrics.create(BillableMetric(name="Seats", code="lc_seats", aggregation_type="count_agg"))
    client.plans.create(Plan(name="Team", code="lc-team", interval="monthly", amount_cents=0, amount_currency="USD"))
    client.customers.create(Customer(external_id="lc-adv", currency="USD"))
    client.subscriptions.create(
        Subscription(external_customer_id="lc-adv", plan_code="lc-team", external_id="lc-adv-sub")
    )
    # Ingestion has run (and, before the fix, remembered "no pay-in-advance charge") for this organization.
    client.events.create(_event("lc-warm", "lc_seats"))

    client.plan_charges.create(
        "lc-team",
        Charge(billable_metric_id=seats.lago_id, code="lc_seat", charge_model="standard", pay_in_advance=True,
               invoiceable=True, properties={"amount": "2"}),
    )  # fmt: skip
    for i in range(3):
        client.events.create(_event(f"lc-seat-{i}", "lc_seats"))

    fees = client.fees.find_all({"external_subscription_id": "lc-adv-sub"})["fees"]
    assert sorted((f.event_transaction_id, f.amount_cents) for f in fees) == [
        ("lc-seat-0", 200),
        ("lc-seat-1", 200),
        ("lc-seat-2", 200),
    ]
    invoices = client.invoices.find_all({"external_customer_id": "lc-adv"})["invoices"]
    assert sorted(i.total_amount_cents for i in invoices) == [200, 200, 200]


def test_percentage_with_free_units_in_advance_through_a_batch(lago):
    """Lago's percentage example, sent as a batch: 200 OK and the 4th event costs $0.70."""
    client = lago.client
    volume = client.billable_metrics.create(
        BillableMetric(name="Volume", code="lc_volume", aggregation_type="sum_agg", field_name="amount")
    )
    client.plans.create(
        Plan(
            name="Pay", code="lc-pay", interval="monthly", amount_cents=0, amount_currency="USD",
            charges=Charges(__root__=[
                Charge(billable_metric_id=volume.lago_id, charge_model="percentage", pay_in_advance=True,
                       invoiceable=True, properties={"rate": "1.2", "fixed_amount": "0.10",
                                                     "free_units_per_events": 3,
                                                     "free_units_per_total_aggregation": "500"}),
            ]),
        )
    )  # fmt: skip
    client.customers.create(Customer(external_id="lc-pay", currency="USD"))
    client.subscriptions.create(
        Subscription(external_customer_id="lc-pay", plan_code="lc-pay", external_id="lc-adv-sub")
    )

    client.events.batch_create(
        BatchEvent(events=[_event(f"lc-pay-{i}", "lc_volume", amount=v) for i, v in enumerate((200, 100, 100, 50))])
    )

    fees = client.fees.find_all({"external_subscription_id": "lc-adv-sub"})["fees"]
    by_event = {f.event_transaction_id: f.amount_cents for f in fees}
    assert by_event == {"lc-pay-0": 0, "lc-pay-1": 0, "lc-pay-2": 0, "lc-pay-3": 70}


def test_filtered_in_advance_charge_bills_each_event_with_its_filter(lago):
    """Lago's scenario with a filter (sum, default $10, europe $20): 10 units in europe → 20,000
    cents with the filter's id; 10 units in africa (no filter matches) → 10,000 without one."""
    client = lago.client
    gb = client.billable_metrics.create(
        BillableMetric(
            name="GB", code="lc_gb", aggregation_type="sum_agg", field_name="amount",
            filters=BillableMetricFilters(__root__=[BillableMetricFilter(key="region", values=["europe", "africa"])]),
        )
    )  # fmt: skip
    client.plans.create(
        Plan(
            name="Filtered", code="lc-filtered", interval="monthly", amount_cents=0, amount_currency="USD",
            charges=Charges(__root__=[
                Charge(billable_metric_id=gb.lago_id, code="lc_gb", charge_model="standard", pay_in_advance=True,
                       invoiceable=True, properties={"amount": "10"},
                       filters=ChargeFilters(__root__=[ChargeFilter(
                           values={"region": ["europe"]}, invoice_display_name="Europe",
                           properties={"amount": "20"})])),
            ]),
        )
    )  # fmt: skip
    client.customers.create(Customer(external_id="lc-flt", currency="USD"))
    client.subscriptions.create(
        Subscription(external_customer_id="lc-flt", plan_code="lc-filtered", external_id="lc-adv-sub")
    )

    client.events.create(_event("lc-flt-eu", "lc_gb", amount="10", region="europe"))
    client.events.create(_event("lc-flt-af", "lc_gb", amount="10", region="africa"))

    fees = {f.event_transaction_id: f for f in client.fees.find_all({"external_subscription_id": "lc-adv-sub"})["fees"]}
    assert {tx: f.amount_cents for tx, f in fees.items()} == {"lc-flt-eu": 20000, "lc-flt-af": 10000}
    filters = client.plans.find_all_charge_filters("lc-filtered", "lc_gb")["filters"]
    assert fees["lc-flt-eu"].lago_charge_filter_id == filters[0].lago_id
    assert fees["lc-flt-af"].lago_charge_filter_id is None
    assert (fees["lc-flt-eu"].units, fees["lc-flt-eu"].item.filter_invoice_display_name) == ("10.0", "Europe")
    invoices = client.invoices.find_all({"external_customer_id": "lc-flt"})["invoices"]
    assert sorted(i.total_amount_cents for i in invoices) == [10000, 20000]
