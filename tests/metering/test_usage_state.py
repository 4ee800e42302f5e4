"""Weighted sums and unique counts from incremental state equal the raw-event results (hypothesis).

Random event streams are ingested out of order, in several requests (single events take the
one-event statement, the others the batch statement), with late arrivals, duplicates by
transaction id (the first one stored wins) and, for unique counts, removals. The state-based
answer (`aggregate()`) must equal the raw-event answer (`use_rollups=False`) for random windows,
filters, recurring metrics and whole-period divisors, and a rebuild must give the same state.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metering import services
from metering.aggregation import aggregate
from metering.models import UsageRollup
from tests.factories.customers import OrganizationFactory
from tests.factories.metering import make_metric

pytestmark = pytest.mark.django_db

START = datetime(2024, 1, 1, tzinfo=UTC)
SPAN = 3 * 24 * 3600
FILTERS = [("eu", {"region": ["eu"]}), ("any", {"region": ["eu", "us"], "tier": ["gold"]})]

weighted_event = st.tuples(
    st.integers(min_value=0, max_value=SPAN * 10**6),  # microseconds after START
    st.decimals(min_value=Decimal("-1000"), max_value=Decimal("1000"), places=4, allow_nan=False, allow_infinity=False),
    st.sampled_from(["eu", "us", None]),
    st.sampled_from(["gold", None]),
    st.sampled_from(["s1", "s2"]),
)


def _timestamp(micros: int) -> str:
    moment = START + timedelta(microseconds=micros)
    return f"{int(moment.timestamp())}.{moment.microsecond:06d}"


def _send(organization, payloads, chunks, duplicates) -> None:
    """Ingest `payloads` in the order and request sizes hypothesis chose, then resend some of
    them (same transaction id, other properties: the first stored wins)."""
    position = 0
    for size in chunks:
        if position >= len(payloads):
            break
        services.events_ingest(organization, payloads[position : position + size])
        position += size
    if position < len(payloads):
        services.events_ingest(organization, payloads[position:])
    if not payloads:
        return
    resent = [{**payloads[i % len(payloads)], "properties": {"v": "999", "region": "us"}} for i in duplicates]
    if resent:
        services.events_ingest(organization, resent)


def _compare(fast, slow) -> None:
    assert (fast.units, fast.events_count, fast.precise_total_amount_cents, fast.total_aggregated_units) == (
        slow.units,
        slow.events_count,
        slow.precise_total_amount_cents,
        slow.total_aggregated_units,
    )
    assert [
        (f.filter_id, f.usage.units, f.usage.events_count, f.usage.total_aggregated_units) for f in fast.filters
    ] == [(f.filter_id, f.usage.units, f.usage.events_count, f.usage.total_aggregated_units) for f in slow.filters]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    events=st.lists(weighted_event, min_size=0, max_size=30),
    order=st.randoms(use_true_random=False),
    chunks=st.lists(st.integers(1, 6), max_size=8),
    duplicates=st.lists(st.integers(0, 50), max_size=4),
    window=st.tuples(st.integers(0, SPAN * 10**6), st.integers(0, SPAN * 10**6)),
    started=st.integers(0, SPAN * 10**6),
    recurring=st.booleans(),
    filtered=st.booleans(),
    period_days=st.sampled_from([None, 3, 31]),
)
def test_weighted_sum_from_rollups_equals_raw_events(
    events, order, chunks, duplicates, window, started, recurring, filtered, period_days
):
    organization = OrganizationFactory()
    metric = make_metric(
        organization,
        "w",
        "weighted_sum_agg",
        field_name="v",
        recurring=recurring,
        filters={"region": ["eu", "us"], "tier": ["gold"]},
    )
    payloads = []
    for i, (micros, value, region, tier, sub) in enumerate(events):
        props = {"v": str(value)}
        if region:
            props["region"] = region
        if tier:
            props["tier"] = tier
        payloads.append(
            {
                "transaction_id": f"t{i}",
                "external_subscription_id": sub,
                "code": "w",
                "timestamp": _timestamp(micros),
                "properties": props,
            }
        )
    order.shuffle(payloads)  # late and out-of-order arrivals
    _send(organization, payloads, chunks, duplicates)
    lo, hi = sorted(window)
    kwargs: dict[str, Any] = {
        "external_subscription_id": "s1",
        "metric": metric,
        "from_datetime": START + timedelta(microseconds=lo),
        "to_datetime": START + timedelta(microseconds=hi),
        "subscription_started_at": START + timedelta(microseconds=started),
        "filters": FILTERS if filtered else None,
        "charges_period_days": period_days,
    }
    fast = aggregate(organization, store="postgres", **kwargs)
    slow = aggregate(organization, store="postgres", use_rollups=False, **kwargs)
    assert fast.source == "rollups"
    assert slow.source == "events"
    _compare(fast, slow)

    # A rebuild from raw events gives the same state as incremental maintenance.
    def state():
        return sorted(
            UsageRollup.objects.filter(organization=organization).values_list(
                "external_subscription_id", "hour", "dimensions_key", "value_sum", "value_time_sum"
            )
        )

    before = state()
    services.usage_rollups_rebuild(organization, from_datetime=START, to_datetime=START + timedelta(seconds=SPAN + 1))
    assert state() == before


def test_weighted_sum_reads_raw_events_where_rollups_predate_the_time_sums(organization):
    """Rollups written before `value_time_sum` existed hold null there: the window reads raw events
    (same result) until a rebuild fills them."""
    metric = make_metric(organization, "w_old", "weighted_sum_agg", field_name="v")
    payloads = [
        {
            "transaction_id": f"t{i}",
            "external_subscription_id": "s",
            "code": "w_old",
            "timestamp": str(int((START + timedelta(hours=5 * i, minutes=7)).timestamp())),
            "properties": {"v": str(10 * (i + 1))},
        }
        for i in range(4)
    ]
    services.events_ingest(organization, payloads)
    kwargs: dict[str, Any] = {
        "external_subscription_id": "s",
        "metric": metric,
        "from_datetime": START,
        "to_datetime": START + timedelta(days=1),
    }
    expected = aggregate(organization, use_rollups=False, **kwargs)
    UsageRollup.objects.filter(organization=organization).update(value_time_sum=None)
    legacy = aggregate(organization, **kwargs)
    assert legacy.source == "sql"
    assert legacy.units == expected.units
    services.usage_rollups_rebuild(organization, from_datetime=START, to_datetime=START + timedelta(days=1))
    rebuilt = aggregate(organization, **kwargs)
    assert rebuilt.source == "rollups"
    assert (rebuilt.units, rebuilt.total_aggregated_units) == (expected.units, expected.total_aggregated_units)
    # 10 from 00:07, +20 from 05:07, +30 from 10:07, +40 from 15:07 over one day
    assert rebuilt.total_aggregated_units == 100


moment = st.one_of(
    st.integers(min_value=0, max_value=SPAN * 10**6),
    st.integers(min_value=0, max_value=SPAN // 1800).map(lambda k: k * 1800 * 10**6),  # ties, hour edges
    st.integers(min_value=0, max_value=3 * 3600 * 10**6),  # crowded hours: neighbours in the same hour
)
unique_event = st.tuples(
    moment,
    st.sampled_from(["a", "b", "c", "d"]),
    st.sampled_from(["add", "remove", None, ""]),
    st.sampled_from(["s1", "s2"]),
)
hour_or_any = st.one_of(
    st.integers(min_value=0, max_value=SPAN * 10**6),
    st.integers(min_value=0, max_value=SPAN // 3600).map(lambda k: k * 3600 * 10**6),
)


def _unique_state(organization):
    from metering.models import UniqueCountLink, UniqueCountRollup

    links = sorted(
        UniqueCountLink.objects.filter(organization=organization).values_list(
            "external_subscription_id",
            "value",
            "timestamp",
            "transaction_id",
            "adds",
            "next_at",
            "prev_at",
            "prev_adds",
            "linked",
        )
    )
    counts = sorted(
        (sub, hour, next_hour, adds)
        for sub, hour, next_hour, adds in UniqueCountRollup.objects.filter(organization=organization).values_list(
            "external_subscription_id", "hour", "next_hour", "adds"
        )
        if adds
    )
    return links, counts


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    events=st.lists(unique_event, min_size=0, max_size=30),
    order=st.randoms(use_true_random=False),
    chunks=st.lists(st.integers(1, 6), max_size=8),
    duplicates=st.lists(st.integers(0, 50), max_size=4),
    window=st.tuples(hour_or_any, hour_or_any),
    started=st.integers(0, SPAN * 10**6),
    recurring=st.booleans(),
)
def test_unique_count_from_state_equals_raw_events(events, order, chunks, duplicates, window, started, recurring):
    organization = OrganizationFactory()
    metric = make_metric(organization, "u", "unique_count_agg", field_name="user", recurring=recurring)
    payloads = []
    for i, (micros, user, operation, sub) in enumerate(events):
        props = {"user": user}
        if operation is not None:
            props["operation_type"] = operation
        payloads.append(
            {
                "transaction_id": f"t{i}",
                "external_subscription_id": sub,
                "code": "u",
                "timestamp": _timestamp(micros),
                "properties": props,
            }
        )
    order.shuffle(payloads)  # late and out-of-order arrivals
    _send(organization, payloads, chunks, duplicates)
    lo, hi = sorted(window)
    kwargs: dict[str, Any] = {
        "external_subscription_id": "s1",
        "metric": metric,
        "from_datetime": START + timedelta(microseconds=lo),
        "to_datetime": START + timedelta(microseconds=hi),
        "subscription_started_at": START + timedelta(microseconds=started),
    }
    fast = aggregate(organization, store="postgres", **kwargs)
    slow = aggregate(organization, store="postgres", use_rollups=False, **kwargs)
    assert fast.source == "rollups"
    assert slow.source == "events"
    _compare(fast, slow)

    # A rebuild from raw events gives the same links and counts as the ingestion trigger.
    before = _unique_state(organization)
    services.usage_rollups_rebuild(organization, from_datetime=START, to_datetime=START + timedelta(seconds=SPAN + 1))
    assert _unique_state(organization) == before


def test_unique_count_state_of_a_late_removal_and_a_duplicate(organization):
    """add a (day 2), add b (day 3), then late: remove a (day 2, later hour) and a duplicate of the
    removal's transaction id that would add a again: March counts b only."""
    metric = make_metric(organization, "users", "unique_count_agg", field_name="user")

    def event(txn, day, hour, user, operation="add"):
        moment = datetime(2024, 3, day, hour, 30, tzinfo=UTC)
        return {
            "transaction_id": txn,
            "external_subscription_id": "s",
            "code": "users",
            "timestamp": str(int(moment.timestamp())),
            "properties": {"user": user, "operation_type": operation},
        }

    services.events_ingest(organization, [event("1", 2, 1, "a"), event("2", 3, 1, "b")])
    services.events_ingest(organization, [event("3", 2, 5, "a", "remove")])
    services.events_ingest(organization, [event("3", 2, 6, "a", "add")])  # duplicate: not stored
    kwargs: dict[str, Any] = {
        "external_subscription_id": "s",
        "metric": metric,
        "from_datetime": datetime(2024, 3, 1, tzinfo=UTC),
        "to_datetime": datetime(2024, 4, 1, tzinfo=UTC),
    }
    month = aggregate(organization, **kwargs)
    assert (month.source, month.units, month.events_count) == ("rollups", 1, 1)
    before_removal = aggregate(organization, **{**kwargs, "to_datetime": datetime(2024, 3, 2, 5, tzinfo=UTC)})
    assert before_removal.units == 1  # a only
