"""Pay-in-advance fees of unique counts, charge filters and pricing group keys (docs/invoicing.md §7,
docs/billing-semantics.md §5.3): each event is priced against the usage of its own bucket.

Before this, every such event was recorded as `pay_in_advance_fee_failed` and billed nothing.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from catalog.models import BillableMetricFilter, ChargeFilter
from invoicing import tasks
from invoicing.models import Fee, Invoice
from invoicing.services.advance import pay_in_advance_fees, pay_in_advance_reconcile_due, pay_in_advance_reconcile_run
from metering.models import EventError
from metering.services import events_ingest
from tests.factories.invoicing import make_charge, make_customer, make_metric, make_plan, subscribe

pytestmark = pytest.mark.django_db

NOW = datetime(2024, 5, 20, 12, tzinfo=UTC)
FAILED = "pay_in_advance_fee_failed"
MAY_1 = datetime(2024, 5, 1, tzinfo=UTC)


def at(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def _send(sub, code: str, events: list[tuple[datetime, dict]]) -> list[str]:
    """Ingest events (timestamp, properties) in this order, one second apart at most; their ids."""
    payloads = [
        {
            "transaction_id": f"tx_{i:03d}_{uuid.uuid4().hex[:8]}",
            "code": code,
            "external_subscription_id": sub.external_id,
            "timestamp": str(int(ts.timestamp())),
            "properties": properties,
        }
        for i, (ts, properties) in enumerate(events)
    ]
    events_ingest(sub.organization, payloads)
    return [p["transaction_id"] for p in payloads]


def _bill(sub, now=NOW) -> list[Fee]:
    pay_in_advance_fees(sub.organization, external_subscription_ids=[sub.external_id], now=now)
    return list(Fee.objects.filter(subscription=sub, pay_in_advance=True).order_by("event_transaction_id"))


def _setup(organization, metric, *, model="standard", properties=None, started_at=MAY_1, **extra):
    customer = make_customer(organization)
    plan = make_plan(organization, amount_cents=0)
    charge = make_charge(
        plan, metric, model=model, properties=properties or {"amount": "10"}, pay_in_advance=True, **extra
    )
    charge.__class__.objects.filter(id=charge.id).update(created_at=at(2024, 1, 1))
    charge.refresh_from_db()
    return customer, subscribe(customer, plan, started_at), charge


def _graduated(free: int, per_unit: str) -> dict:
    return {
        "graduated_ranges": [
            {"from_value": 0, "to_value": free, "per_unit_amount": "0", "flat_amount": "0"},
            {"from_value": free + 1, "to_value": None, "per_unit_amount": per_unit, "flat_amount": "0"},
        ]
    }


# --- unique count ---------------------------------------------------------------------------


def test_unique_count_bills_each_new_value_once_and_repeats_and_removals_nothing(organization):
    """$10 a user: u1, u2 → 1,000 each; u1 again → 0; remove u1 → 0; u1 back (2 present, the peak
    is 2) → 0 with 1 unit applied; u3 (3 present, a new peak) → 1,000. Each is a fee and an invoice
    (Lago's zero fees included); an event without the field gets none and is not due."""
    metric = make_metric(organization, "users", "unique_count_agg", field_name="user")
    customer, sub, _ = _setup(organization, metric)
    d = at(2024, 5, 2)
    ids = _send(
        sub,
        "users",
        [
            (d, {"user": "u1"}),
            (d + timedelta(seconds=1), {"user": "u2"}),
            (d + timedelta(seconds=2), {"user": "u1"}),
            (d + timedelta(seconds=3), {"user": "u1", "operation_type": "remove"}),
            (d + timedelta(seconds=4), {"user": "u1"}),
            (d + timedelta(seconds=5), {"user": "u3"}),
            (d + timedelta(seconds=6), {"other": "x"}),
        ],
    )
    fees = _bill(sub)
    assert [f.event_transaction_id for f in fees] == ids[:6]
    assert [f.amount_cents for f in fees] == [1000, 1000, 0, 0, 0, 1000]
    assert [f.units for f in fees] == [1, 1, 0, 0, 1, 1]
    assert sorted(i.total_amount_cents for i in Invoice.objects.filter(customer=customer)) == [
        0,
        0,
        0,
        1000,
        1000,
        1000,
    ]
    assert not EventError.objects.filter(error_code=FAILED).exists()
    assert pay_in_advance_reconcile_due(NOW + timedelta(minutes=1)) == {}
    assert _bill(sub) == fees  # billed once


def test_lago_unique_count_scenario(organization):
    """Lago's pay-in-advance scenario (unique count, $12, not invoiceable), one event a day from 15
    February: id_1 → 1,200 (1 unit); remove id_1 → 0 (0); id_1 again → 0 (1 unit: paid this
    period); id_2 → 1,200 (1); id_2 again → 0 (0); id_3 → 1,200 (1); remove id_3 → 0 (0)."""
    metric = make_metric(organization, "ids", "unique_count_agg", field_name="unique_id")
    _, sub, _ = _setup(organization, metric, properties={"amount": "12"}, invoiceable=False, started_at=at(2023, 1, 24))
    steps = [("id_1", None), ("id_1", "remove"), ("id_1", None), ("id_2", None), ("id_2", None), ("id_3", None),
             ("id_3", "remove")]  # fmt: skip
    _send(
        sub,
        "ids",
        [
            (at(2023, 2, 15 + i), {"unique_id": u, **({"operation_type": op} if op else {})})
            for i, (u, op) in enumerate(steps)
        ],
    )
    fees = _bill(sub, now=at(2023, 2, 21, 12))
    assert [f.amount_cents for f in fees] == [1200, 0, 0, 1200, 0, 1200, 0]
    assert [f.units for f in fees] == [1, 0, 1, 1, 0, 1, 0]
    assert all(f.invoice_id is None and f.events_count == 1 for f in fees)


def test_unique_count_graduated_prices_the_new_peak(organization):
    """First 2 users free, then $5: u1, u2 → 0; u3 → 500; u3 again → 0; u4 → 500."""
    metric = make_metric(organization, "users", "unique_count_agg", field_name="user")
    _, sub, _ = _setup(organization, metric, model="graduated", properties=_graduated(2, "5"))
    d = at(2024, 5, 3)
    _send(sub, "users", [(d + timedelta(seconds=i), {"user": u}) for i, u in enumerate(["u1", "u2", "u3", "u3", "u4"])])
    assert [f.amount_cents for f in _bill(sub)] == [0, 0, 500, 0, 500]


def test_recurring_unique_count_counts_the_values_carried_in(organization):
    """Recurring: u1 and u2 sent in April are present in May. In May, u1 again → 0 (present); u3 →
    the 3rd user, past the 2 free → 500 (not 0 as if the period started empty)."""
    metric = make_metric(organization, "seats", "unique_count_agg", field_name="user", recurring=True)
    _, sub, _ = _setup(
        organization, metric, model="graduated", properties=_graduated(2, "5"), started_at=at(2024, 4, 1)
    )
    _send(sub, "seats", [(at(2024, 4, 3), {"user": "u1"}), (at(2024, 4, 4), {"user": "u2"})])
    _send(sub, "seats", [(at(2024, 5, 10), {"user": "u1"}), (at(2024, 5, 11), {"user": "u3"})])
    may = [f for f in _bill(sub) if f.properties["charges_from_datetime"].startswith("2024-05-01")]
    assert [f.amount_cents for f in may] == [0, 500]


def test_recurring_sum_prices_events_on_top_of_the_value_carried_in(organization):
    """Recurring sum, first 10 units free then $1: 8 units sent in April are carried into May; 5
    more in May → 13, 3 past the free tier → 300 (not 0 as if May started empty)."""
    metric = make_metric(organization, "storage", "sum_agg", field_name="gb", recurring=True)
    _, sub, _ = _setup(
        organization, metric, model="graduated", properties=_graduated(10, "1"), started_at=at(2024, 4, 1)
    )
    _send(sub, "storage", [(at(2024, 4, 3), {"gb": 8})])
    _send(sub, "storage", [(at(2024, 5, 10), {"gb": 5})])
    may = [f for f in _bill(sub) if f.properties["charges_from_datetime"].startswith("2024-05-01")]
    assert [(f.units, f.amount_cents) for f in may] == [(5, 300)]


def test_prorated_recurring_unique_count_bills_the_days_left(organization):
    """$31 a seat a month, prorated: a new seat on 20 May bills 12 of May's 31 days: units
    12/31 = 0.38710 (rounded up to 5 places) × 31 = 12.0001 → 1,200 cents; the fee shows 1 unit."""
    metric = make_metric(organization, "seats", "unique_count_agg", field_name="user", recurring=True)
    _, sub, _ = _setup(organization, metric, properties={"amount": "31"}, prorated=True)
    _send(sub, "seats", [(at(2024, 5, 20, 8), {"user": "u1"})])
    [fee] = _bill(sub)
    assert fee.amount_cents == 1200
    assert fee.units == 1


# --- charge filters -------------------------------------------------------------------------


def _filtered(organization, *, model="standard", default=None, eu=None, eu_aws=None, aggregation="sum_agg"):
    metric = make_metric(organization, "calls", aggregation, field_name="n" if aggregation == "sum_agg" else None)
    BillableMetricFilter.objects.create(billable_metric=metric, key="region", values=["eu", "us"])
    BillableMetricFilter.objects.create(billable_metric=metric, key="cloud", values=["aws", "gcp"])
    customer, sub, charge = _setup(organization, metric, model=model, properties=default or {"amount": "1"})
    made = {}
    for name, values, properties in (
        ("eu", {"region": ["eu"]}, eu),
        ("eu_aws", {"region": ["eu"], "cloud": ["aws"]}, eu_aws),
    ):
        if properties is not None:
            made[name] = ChargeFilter.objects.create(
                organization=organization, charge=charge, values=values, properties=properties,
                invoice_display_name=f"Calls {name}",
            )  # fmt: skip
    return customer, sub, charge, made


def test_filtered_event_is_priced_with_its_most_specific_filter_and_carries_it(organization):
    """Default $1, eu $2, eu+aws $3 (sum of n): eu/gcp 10 → 2,000 (eu); eu/aws 5 → 1,500 (eu+aws,
    the most specific); us 7 → 700 and no region 1 → 100 (default, no filter)."""
    _, sub, _, filters = _filtered(organization, eu={"amount": "2"}, eu_aws={"amount": "3"})
    d = at(2024, 5, 4)
    _send(
        sub,
        "calls",
        [
            (d, {"region": "eu", "cloud": "gcp", "n": 10}),
            (d + timedelta(seconds=1), {"region": "eu", "cloud": "aws", "n": 5}),
            (d + timedelta(seconds=2), {"region": "us", "n": 7}),
            (d + timedelta(seconds=3), {"n": 1}),
        ],
    )
    fees = _bill(sub)
    assert [f.amount_cents for f in fees] == [2000, 1500, 700, 100]
    assert [f.charge_filter_id for f in fees] == [filters["eu"].id, filters["eu_aws"].id, None, None]
    assert fees[0].invoice_display_name == "Calls eu"
    assert fees[1].properties["filter_values"] == {"region": ["eu"], "cloud": ["aws"]}
    assert fees[2].properties["filter_values"] is None
    assert not EventError.objects.filter(error_code=FAILED).exists()


def test_a_sum_event_without_its_value_is_due_no_fee(organization):
    """Lago creates no fee for an event without the metric's field: no fee, no zero invoice, no
    failure, and the sweep does not look for one."""
    customer, sub, _, _ = _filtered(organization, eu={"amount": "2"})
    _send(sub, "calls", [(at(2024, 5, 4), {"region": "eu"}), (at(2024, 5, 4, 1), {"region": "eu", "n": 2})])
    assert [f.amount_cents for f in _bill(sub)] == [400]
    assert Invoice.objects.filter(customer=customer).count() == 1
    assert not EventError.objects.filter(error_code=FAILED).exists()
    assert pay_in_advance_reconcile_due(NOW + timedelta(minutes=1)) == {}


def test_each_filter_has_its_own_usage(organization):
    """Graduated, counts: default first unit free then $1, eu first unit free then $4. eu, us, eu,
    us, eu → 0, 0, 400, 100, 400 (one shared usage would give 0, 100, 400, 100, 400)."""
    _, sub, _, _ = _filtered(
        organization, model="graduated", aggregation="count_agg", default=_graduated(1, "1"), eu=_graduated(1, "4")
    )
    d = at(2024, 5, 5)
    regions = ["eu", "us", "eu", "us", "eu"]
    _send(sub, "calls", [(d + timedelta(seconds=i), {"region": r}) for i, r in enumerate(regions)])
    assert [f.amount_cents for f in _bill(sub)] == [0, 0, 400, 100, 400]


# --- pricing group keys ---------------------------------------------------------------------


def test_grouped_events_are_priced_against_their_group_and_carry_it(organization):
    """Per workspace, first event free then $3: a, b, a, b, a → 0, 0, 300, 300, 300."""
    metric = make_metric(organization, "builds")
    _, sub, _ = _setup(
        organization, metric, model="graduated", properties=_graduated(1, "3"), pricing_group_keys=["workspace"]
    )
    d = at(2024, 5, 6)
    _send(sub, "builds", [(d + timedelta(seconds=i), {"workspace": w}) for i, w in enumerate("ababa")])
    fees = _bill(sub)
    assert [f.amount_cents for f in fees] == [0, 0, 300, 300, 300]
    assert [f.grouped_by for f in fees] == [{"workspace": w} for w in "ababa"]


def test_unique_count_with_filter_and_group(organization):
    """A filter (eu: $2 a user, default $1) and a group key (team): the peak is per filter and
    group. eu/t1 u1 → 200; eu/t2 u1 → 200 (another group); us/t1 u1 → 100; eu/t1 u1 again → 0."""
    metric = make_metric(organization, "users", "unique_count_agg", field_name="user")
    BillableMetricFilter.objects.create(billable_metric=metric, key="region", values=["eu", "us"])
    _, sub, charge = _setup(organization, metric, properties={"amount": "1"}, pricing_group_keys=["team"])
    eu = ChargeFilter.objects.create(
        organization=organization, charge=charge, values={"region": ["eu"]}, properties={"amount": "2"}
    )
    d = at(2024, 5, 7)
    rows = [("eu", "t1"), ("eu", "t2"), ("us", "t1"), ("eu", "t1")]
    _send(
        sub,
        "users",
        [(d + timedelta(seconds=i), {"region": r, "team": t, "user": "u1"}) for i, (r, t) in enumerate(rows)],
    )
    fees = _bill(sub)
    assert [f.amount_cents for f in fees] == [200, 200, 100, 0]
    assert [(f.charge_filter_id, f.grouped_by) for f in fees] == [
        (eu.id, {"team": "t1"}),
        (eu.id, {"team": "t2"}),
        (None, {"team": "t1"}),
        (eu.id, {"team": "t1"}),
    ]


# --- the guarantees hold for them too -------------------------------------------------------------


def test_the_sweep_bills_lost_filtered_and_unique_count_events(organization, monkeypatch):
    monkeypatch.setattr(tasks.pay_in_advance_fees, "delay", lambda *a, **k: None)  # lost tasks
    now = timezone.now()
    metric = make_metric(organization, "users", "unique_count_agg", field_name="user")
    _, users, _ = _setup(organization, metric, started_at=now - timedelta(days=1))
    _send(users, "users", [(now - timedelta(minutes=3), {"user": "u1"}), (now - timedelta(minutes=2), {"x": "1"})])
    _, calls, _, _ = _filtered(organization, eu={"amount": "2"})
    calls.started_at = now - timedelta(days=1)
    calls.save(update_fields=["started_at"])
    _send(calls, "calls", [(now - timedelta(minutes=1), {"region": "eu", "n": 3})])
    monkeypatch.undo()

    due = pay_in_advance_reconcile_due(timezone.now())
    assert due == {organization.id: sorted([users.external_id, calls.external_id])}
    pay_in_advance_reconcile_run(timezone.now())

    assert [f.amount_cents for f in Fee.objects.filter(subscription=users)] == [1000]
    assert [f.amount_cents for f in Fee.objects.filter(subscription=calls)] == [600]
    assert pay_in_advance_reconcile_due(timezone.now()) == {}


def test_a_filter_whose_pricing_fails_is_recorded_and_the_other_buckets_are_billed(organization):
    """eu's properties have no amount (the standard model refuses them): its event is recorded as
    failed, us's is billed."""
    _, sub, _, _ = _filtered(organization, eu={})
    d = at(2024, 5, 8)
    ids = _send(sub, "calls", [(d, {"region": "eu", "n": 1}), (d + timedelta(seconds=1), {"region": "us", "n": 2})])
    fees = _bill(sub)
    assert [(f.event_transaction_id, f.amount_cents) for f in fees] == [(ids[1], 200)]
    [error] = EventError.objects.filter(error_code=FAILED)
    assert error.transaction_id == ids[0]
    assert "invalid_amount" in error.message


def test_not_invoiceable_filtered_fee_has_no_invoice(organization):
    _, sub, _, filters = _filtered(organization, eu={"amount": "2"})
    sub.plan.charges.update(invoiceable=False)
    _send(sub, "calls", [(at(2024, 5, 9), {"region": "eu", "n": 4})])
    [fee] = _bill(sub)
    assert fee.invoice_id is None and fee.amount_cents == 800 and fee.charge_filter_id == filters["eu"].id


def test_statements_of_one_new_event_do_not_grow_with_the_window(organization):
    """A unique count with a filter and a group key: billing one new event costs the same
    statements after 5 or 40 earlier events of the window (they are read once, in one query)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    metric = make_metric(organization, "users", "unique_count_agg", field_name="user", recurring=True)
    BillableMetricFilter.objects.create(billable_metric=metric, key="region", values=["eu", "us"])
    _, sub, charge = _setup(organization, metric, properties={"amount": "1"}, pricing_group_keys=["team"])
    ChargeFilter.objects.create(
        organization=organization, charge=charge, values={"region": ["eu"]}, properties={"amount": "2"}
    )
    counts = []
    for n, day in ((5, 10), (35, 11)):
        d = at(2024, 5, day)
        _send(
            sub,
            "users",
            [(d + timedelta(seconds=i), {"region": "eu", "team": "t", "user": f"u{day}_{i}"}) for i in range(n)],
        )
        _bill(sub)
        _send(sub, "users", [(d + timedelta(hours=1), {"region": "eu", "team": "t", "user": f"new{day}"})])
        with CaptureQueriesContext(connection) as queries:
            [fee] = pay_in_advance_fees(organization, external_subscription_ids=[sub.external_id], now=NOW)
        counts.append(len(queries))
        assert fee.amount_cents == 200
    assert counts[0] == counts[1]
