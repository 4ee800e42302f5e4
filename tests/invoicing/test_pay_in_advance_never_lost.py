"""No pay-in-advance fee is ever lost, and no event poisons the others (docs/invoicing.md §7).

* the "organization has no in-advance charges" answer is never cached: the first in-advance
  charge created after events were already ingested bills the very next events;
* the reconciliation sweep bills in-advance events that have no fee (a lost task, an outage, a
  late event in the previous window, a subscription terminated since);
* a fee that cannot be computed is recorded on its event (`pay_in_advance_fee_failed`, visible in
  `GET /events/{id}` and the admin), the request never fails and the later events are billed;
* Lago's percentage example with free units is billed in advance to the cent.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from billing_project.celery import BEAT_SCHEDULE
from catalog.models import Charge
from invoicing import tasks
from invoicing.models import Fee, Invoice
from invoicing.services.advance import (
    pay_in_advance_fees,
    pay_in_advance_reconcile_due,
    pay_in_advance_reconcile_run,
)
from metering.models import Event, EventError
from metering.services import events_ingest
from tests.factories.invoicing import add_events, make_charge, make_customer, make_metric, make_plan, subscribe

pytestmark = pytest.mark.django_db

FAILED = "pay_in_advance_fee_failed"


def _event(sub, code: str, at: datetime, **properties) -> dict:
    return {
        "transaction_id": f"tx_{uuid.uuid4().hex[:12]}",
        "code": code,
        "external_subscription_id": sub.external_id,
        "timestamp": str(int(at.timestamp())),
        "properties": properties,
    }


def _ingest(organization, events, capture) -> None:
    with capture(execute=True):
        events_ingest(organization, events)


def _fees(sub, charge=None) -> list[Fee]:
    qs = Fee.objects.filter(subscription=sub, pay_in_advance=True)
    if charge is not None:
        qs = qs.filter(charge=charge)
    return list(qs.order_by("properties__timestamp", "created_at"))


# --- item 4: the cache ----------------------------------------------------------------------


def test_first_in_advance_charge_after_events_were_ingested_bills_the_next_events_at_once(
    organization, django_capture_on_commit_callbacks
):
    """The reproduction: events ingested while the organization had no in-advance charge (the
    answer a per-process cache used to keep for 30 s), then the first one is created; the next 3
    events each get their fee at once."""
    customer = make_customer(organization)
    plan = make_plan(organization, amount_cents=0)
    metric = make_metric(organization, "seats")
    sub = subscribe(customer, plan, timezone.now() - timedelta(hours=1))
    now = timezone.now()
    _ingest(organization, [_event(sub, "seats", now)], django_capture_on_commit_callbacks)
    assert Fee.objects.count() == 0  # no in-advance charge yet

    charge = make_charge(plan, metric, properties={"amount": "2"}, pay_in_advance=True)
    for _ in range(3):
        _ingest(organization, [_event(sub, "seats", timezone.now())], django_capture_on_commit_callbacks)

    # Each of the 3 gets its fee; the event received before the charge existed was never due one
    # (as in Lago), now or by the reconciliation sweep.
    assert [f.amount_cents for f in _fees(sub, charge)] == [200, 200, 200]
    assert Invoice.objects.filter(customer=customer).count() == 3
    assert pay_in_advance_reconcile_due(timezone.now()) == {}


def test_first_in_advance_charge_bills_the_next_batch_the_batch_statement_answering_it(
    organization, django_capture_on_commit_callbacks
):
    """The same through batches: on PostgreSQL the batch's insert statement answers whether the
    organization has in-advance charges (no query of its own), read at every batch, never kept."""
    customer = make_customer(organization)
    plan = make_plan(organization, amount_cents=0)
    metric = make_metric(organization, "seats")
    sub = subscribe(customer, plan, timezone.now() - timedelta(hours=1))
    _ingest(organization, [_event(sub, "seats", timezone.now()) for _ in range(2)], django_capture_on_commit_callbacks)
    assert Fee.objects.count() == 0

    charge = make_charge(plan, metric, properties={"amount": "2"}, pay_in_advance=True)
    _ingest(organization, [_event(sub, "seats", timezone.now()) for _ in range(2)], django_capture_on_commit_callbacks)
    assert [f.amount_cents for f in _fees(sub, charge)] == [200, 200]
    Charge.objects.filter(pk=charge.pk).update(deleted_at=timezone.now())
    _ingest(organization, [_event(sub, "seats", timezone.now()) for _ in range(2)], django_capture_on_commit_callbacks)
    assert len(_fees(sub)) == 2  # a deleted charge bills nothing more


def test_organizations_without_in_advance_charges_enqueue_nothing(
    organization, django_capture_on_commit_callbacks, monkeypatch
):
    customer = make_customer(organization)
    plan = make_plan(organization, amount_cents=0)
    make_charge(plan, make_metric(organization, "calls"), properties={"amount": "1"})
    sub = subscribe(customer, plan, timezone.now() - timedelta(hours=1))
    sent: list = []
    monkeypatch.setattr(tasks.pay_in_advance_fees, "delay", lambda *a, **k: sent.append(a))
    _ingest(organization, [_event(sub, "calls", timezone.now())], django_capture_on_commit_callbacks)
    assert sent == []


# --- item 4: the reconciliation sweep -------------------------------------------------------------


def _in_advance(organization, *, external_id=None, started_at=None, model="standard", properties=None, **extra):
    customer = make_customer(organization)
    plan = make_plan(organization, amount_cents=0)
    metric = make_metric(organization, f"m_{uuid.uuid4().hex[:6]}", extra.pop("aggregation", "count_agg"), **extra)
    charge = make_charge(plan, metric, model=model, properties=properties or {"amount": "5"}, pay_in_advance=True)
    sub = subscribe(customer, plan, started_at or timezone.now() - timedelta(days=1), external_id=external_id)
    return sub, charge


def test_the_sweep_bills_events_whose_task_was_lost_then_finds_nothing(
    organization, django_capture_on_commit_callbacks, monkeypatch
):
    sub, charge = _in_advance(organization)
    monkeypatch.setattr(tasks.pay_in_advance_fees, "delay", lambda *a, **k: None)  # a lost task
    now = timezone.now()
    _ingest(
        organization,
        [_event(sub, charge.billable_metric.code, now) for _ in range(3)],
        django_capture_on_commit_callbacks,
    )
    assert _fees(sub) == []
    monkeypatch.undo()

    assert pay_in_advance_reconcile_due(timezone.now()) == {organization.id: [sub.external_id]}
    assert tasks.pay_in_advance_reconcile_sweep() == 1

    assert [f.amount_cents for f in _fees(sub)] == [500, 500, 500]
    assert pay_in_advance_reconcile_due(timezone.now()) == {}
    assert pay_in_advance_reconcile_run(timezone.now()) == {}
    assert len(_fees(sub)) == 3


def test_a_late_event_of_the_previous_window_is_billed_in_its_own_window(organization):
    """An event that reached nobody (or arrived after the period closed) is billed against the
    usage of its own window, not the current one."""
    now = datetime(2024, 6, 10, 12, tzinfo=UTC)
    ranges = [
        {"from_value": 0, "to_value": 1, "per_unit_amount": "0", "flat_amount": "0"},
        {"from_value": 2, "to_value": None, "per_unit_amount": "3", "flat_amount": "0"},
    ]
    sub, charge = _in_advance(
        organization, started_at=datetime(2024, 4, 1, tzinfo=UTC), model="graduated",
        properties={"graduated_ranges": ranges},
    )  # fmt: skip
    add_events(sub, charge.billable_metric.code, [datetime(2024, 5, 20, tzinfo=UTC)] * 2)
    add_events(sub, charge.billable_metric.code, [datetime(2024, 6, 2, tzinfo=UTC)])

    # After ingestion only the last day is looked at: the May events are not reached.
    assert [
        f.amount_cents for f in pay_in_advance_fees(organization, external_subscription_ids=[sub.external_id], now=now)
    ] == [0]
    due = pay_in_advance_reconcile_due(now)
    assert due == {organization.id: [sub.external_id]}
    pay_in_advance_reconcile_run(now)

    may = [f for f in _fees(sub) if f.properties["charges_from_datetime"].startswith("2024-05-01")]
    assert sorted(f.amount_cents for f in may) == [0, 300]  # the 2nd May event reaches tier 2
    assert pay_in_advance_reconcile_due(now) == {}


def test_the_sweep_bills_the_events_of_a_subscription_terminated_since(organization, monkeypatch):
    sub, charge = _in_advance(organization)
    monkeypatch.setattr(tasks.pay_in_advance_fees, "delay", lambda *a, **k: None)
    add_events(sub, charge.billable_metric.code, [timezone.now() - timedelta(minutes=5)] * 2)
    monkeypatch.undo()
    type(sub).objects.filter(id=sub.id).update(status="terminated", terminated_at=timezone.now())

    pay_in_advance_reconcile_run(timezone.now())

    assert [f.amount_cents for f in _fees(sub)] == [500, 500]


def test_reconcile_command_dry_run_then_bills(organization, monkeypatch, capsys):
    sub, charge = _in_advance(organization)
    monkeypatch.setattr(tasks.pay_in_advance_fees, "delay", lambda *a, **k: None)
    add_events(sub, charge.billable_metric.code, [timezone.now() - timedelta(minutes=5)])
    monkeypatch.undo()

    call_command("reconcile_pay_in_advance_fees", "--dry-run")
    assert "1 subscription(s) have events without a fee" in capsys.readouterr().out
    assert _fees(sub) == []
    call_command("reconcile_pay_in_advance_fees", "--organization", str(organization.id))
    assert "1 fee(s) created" in capsys.readouterr().out
    assert [f.amount_cents for f in _fees(sub)] == [500]


def test_beat_runs_the_reconciliation_every_ten_minutes():
    entry = BEAT_SCHEDULE["invoicing-pay-in-advance-reconcile"]
    assert entry["task"] == "invoicing.pay_in_advance_reconcile_sweep"
    assert entry["schedule"].minute == {0, 10, 20, 30, 40, 50}


# --- item 5: percentage with free units, and failures recorded on the event ---------------------


def test_lago_percentage_example_with_free_units_in_advance(organization, django_capture_on_commit_callbacks):
    """Lago's docs: first 3 events or $500 free, 1.2 % + $0.10; events 200, 100, 100, 50 → the 4th
    costs $0.70 (free value 400, 3 free events: 50 × 1.2 % + 1 × 0.10)."""
    properties = {
        "rate": "1.2",
        "fixed_amount": "0.10",
        "free_units_per_events": 3,
        "free_units_per_total_aggregation": "500",
    }
    sub, charge = _in_advance(
        organization, model="percentage", properties=properties, aggregation="sum_agg", field_name="amount"
    )
    start = timezone.now() - timedelta(minutes=10)
    events = [
        _event(sub, charge.billable_metric.code, start + timedelta(seconds=i), amount=v)
        for i, v in enumerate((200, 100, 100, 50))
    ]
    _ingest(organization, events, django_capture_on_commit_callbacks)

    assert [f.amount_cents for f in _fees(sub)] == [0, 0, 0, 70]
    assert not EventError.objects.filter(error_code=FAILED).exists()


@pytest.mark.django_db(transaction=True)
def test_batch_with_lago_percentage_example_answers_200_with_eager_tasks_and_real_commits(api, organization):
    """The defect as reported: POST /events/batch answered 500 (PricingError) after storing the
    events, and every later in-advance event of the subscription too."""
    properties = {
        "rate": "1.2",
        "fixed_amount": "0.10",
        "free_units_per_events": 3,
        "free_units_per_total_aggregation": "500",
    }
    sub, charge = _in_advance(
        organization, model="percentage", properties=properties, aggregation="sum_agg", field_name="amount"
    )
    start = timezone.now() - timedelta(minutes=10)
    code = charge.billable_metric.code
    batch = [_event(sub, code, start + timedelta(seconds=i), amount=v) for i, v in enumerate((200, 100, 100, 50))]

    response = api.post("/api/v1/events/batch", {"events": batch}, format="json")

    assert response.status_code == 200, response.content
    assert [f.amount_cents for f in _fees(sub)] == [0, 0, 0, 70]
    later = api.post("/api/v1/events", {"event": _event(sub, code, timezone.now(), amount=1000)}, format="json")
    assert later.status_code == 200
    assert _fees(sub)[-1].amount_cents == 1210  # 1,000 × 1.2 % + 0.10


def test_percentage_free_total_only_and_per_transaction_bounds_in_advance(organization):
    """Free amount 250 only (rate 1.3, fixed 2): events 50, 100, 250 → 0, 0, (400 − 250) × 1.3 % + 2
    = 3.95; with per-transaction min 1.75 / max 12 on events 10, 80, 10,000 (rate 2.99) →
    1.75, 2.392 → 2.39, 12 (Lago's min/max spec, 16.142 in total)."""
    now = timezone.now()
    sub, charge = _in_advance(
        organization, model="percentage", aggregation="sum_agg", field_name="amount",
        properties={"rate": "1.3", "fixed_amount": "2", "free_units_per_total_aggregation": "250"},
    )  # fmt: skip
    for i, value in enumerate((50, 100, 250)):
        add_events(sub, charge.billable_metric.code, [now - timedelta(minutes=10 - i)], amount=value)
    pay_in_advance_fees(organization, external_subscription_ids=[sub.external_id])
    assert [f.amount_cents for f in _fees(sub)] == [0, 0, 395]

    bounded, bounded_charge = _in_advance(
        organization, model="percentage", aggregation="sum_agg", field_name="amount",
        properties={"rate": "2.99", "per_transaction_min_amount": "1.75", "per_transaction_max_amount": "12"},
    )  # fmt: skip
    for i, value in enumerate((10, 80, 10_000)):
        add_events(bounded, bounded_charge.billable_metric.code, [now - timedelta(minutes=10 - i)], amount=value)
    pay_in_advance_fees(organization, external_subscription_ids=[bounded.external_id])
    assert [f.amount_cents for f in _fees(bounded)] == [175, 239, 1200]


def test_a_fee_that_cannot_be_computed_is_recorded_on_its_event_and_the_others_are_billed(
    organization, api, django_capture_on_commit_callbacks, monkeypatch
):
    sub, charge = _in_advance(organization, aggregation="sum_agg", field_name="n", model="standard")
    code = charge.billable_metric.code
    from catalog import pricing
    from invoicing.services import advance

    real = pricing.price_in_advance

    def poisoned(model, properties, *, before, after, currency=None):
        if after.units - before.units == 13:
            raise pricing.PricingError("cannot price 13 units")
        return real(model, properties, before=before, after=after, currency=currency)

    monkeypatch.setattr(advance, "price_in_advance", poisoned)
    start = timezone.now() - timedelta(minutes=10)
    batch = [_event(sub, code, start + timedelta(seconds=i), n=v) for i, v in enumerate((1, 13, 2))]
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/v1/events/batch", {"events": batch}, format="json")
    assert response.status_code == 200, response.content

    # The poisoned event has no fee; the one before and the one after are billed.
    assert [f.event_transaction_id for f in _fees(sub)] == [batch[0]["transaction_id"], batch[2]["transaction_id"]]
    detail = api.get(f"/api/v1/events/{batch[1]['transaction_id']}").json()["event"]
    [error] = detail["errors"]
    assert error["error_code"] == FAILED
    assert "PricingError: cannot price 13 units" in error["message"]
    assert api.get(f"/api/v1/events/{batch[0]['transaction_id']}").json()["event"]["errors"] == []
    listed = api.get("/api/v1/event_errors", {"error_code": FAILED}).json()["event_errors"]
    assert [e["transaction_id"] for e in listed] == [batch[1]["transaction_id"]]

    # Later events of the same subscription are unaffected; the failed one is not retried by them.
    later = [_event(sub, code, timezone.now(), n=4)]
    with django_capture_on_commit_callbacks(execute=True):
        assert api.post("/api/v1/events", {"event": later[0]}, format="json").status_code == 200
    assert len(_fees(sub)) == 3
    assert pay_in_advance_reconcile_due(timezone.now()) == {}  # a recorded failure is not re-priced

    # Fixed: the operator retries the failed events; the fee exists and the error is gone.
    monkeypatch.undo()
    call_command("reconcile_pay_in_advance_fees", "--retry-failed")
    assert {f.event_transaction_id for f in _fees(sub)} >= {batch[1]["transaction_id"]}
    assert not EventError.objects.filter(error_code=FAILED).exists()
    assert api.get(f"/api/v1/events/{batch[1]['transaction_id']}").json()["event"]["errors"] == []


def test_unsupported_in_advance_charges_are_recorded_as_failed_not_silently_skipped(
    organization, django_capture_on_commit_callbacks
):
    """The catalog refuses max, latest and weighted-sum metrics in advance; a row that has one
    anyway (written before that rule) is recorded as failed, never skipped silently."""
    sub, charge = _in_advance(organization, aggregation="max_agg", field_name="n")
    _ingest(
        organization,
        [_event(sub, charge.billable_metric.code, timezone.now(), n=3)],
        django_capture_on_commit_callbacks,
    )

    [error] = EventError.objects.filter(error_code=FAILED)
    assert "max_agg" in error.message
    assert _fees(sub) == []


def test_event_detail_of_another_tenant_is_404(organization, api, other_tenant):
    sub, charge = _in_advance(organization)
    add_events(sub, charge.billable_metric.code, [timezone.now()])
    [event] = Event.objects.filter(organization=organization)
    assert other_tenant.client.get(f"/api/v1/events/{event.transaction_id}").status_code == 404
    assert api.get(f"/api/v1/events/{event.transaction_id}").status_code == 200


def test_deleted_in_advance_charge_is_not_billed(organization, monkeypatch):
    sub, charge = _in_advance(organization)
    monkeypatch.setattr(tasks.pay_in_advance_fees, "delay", lambda *a, **k: None)
    add_events(sub, charge.billable_metric.code, [timezone.now() - timedelta(minutes=1)])
    Charge.objects.filter(id=charge.id).update(deleted_at=timezone.now())
    monkeypatch.undo()
    assert pay_in_advance_reconcile_due(timezone.now()) == {}
