"""Rollups equal raw aggregation (hypothesis), rebuilds repair them, late events update their hour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metering import services
from metering.aggregation import aggregate
from metering.models import Event, UsageRollup
from tests.factories.customers import OrganizationFactory
from tests.factories.metering import make_metric

pytestmark = pytest.mark.django_db

START = datetime(2024, 1, 1, tzinfo=UTC)
SPAN = 3 * 24 * 3600

event_strategy = st.tuples(
    st.integers(min_value=0, max_value=SPAN),  # seconds after START
    st.decimals(min_value=Decimal("-1000"), max_value=Decimal("1000"), places=3, allow_nan=False, allow_infinity=False),
    st.sampled_from(["eu", "us", None]),
    st.sampled_from(["s1", "s2"]),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    events=st.lists(event_strategy, min_size=0, max_size=40),
    window=st.tuples(st.integers(0, SPAN), st.integers(0, SPAN)),
    aggregation_type=st.sampled_from(["count_agg", "sum_agg", "max_agg"]),
)
def test_rollups_equal_raw_events(events, window, aggregation_type):
    organization = OrganizationFactory()
    metric = make_metric(
        organization,
        "m",
        aggregation_type,
        field_name=None if aggregation_type == "count_agg" else "v",
        filters={"region": ["eu", "us"]},
    )
    payloads = []
    for i, (offset, value, region, sub) in enumerate(events):
        props = {"v": str(value)}
        if region:
            props["region"] = region
        moment = START + timedelta(seconds=offset)
        payloads.append(
            {
                "transaction_id": f"t{i}",
                "external_subscription_id": sub,
                "code": "m",
                "timestamp": str(int(moment.timestamp())),
                "properties": props,
            }
        )
    if payloads:
        services.events_ingest(organization, payloads)
    lo, hi = sorted(window)
    kwargs = {
        "external_subscription_id": "s1",
        "metric": metric,
        "from_datetime": START + timedelta(seconds=lo),
        "to_datetime": START + timedelta(seconds=hi),
        "filters": [("eu", {"region": ["eu"]})],
    }
    fast = aggregate(organization, store="postgres", **kwargs)
    slow = aggregate(organization, store="postgres", use_rollups=False, **kwargs)
    assert fast.source in {"rollups"}
    assert slow.source == "events"
    assert fast.units == slow.units
    assert fast.events_count == slow.events_count
    assert [(f.usage.units, f.usage.events_count) for f in fast.filters] == [
        (f.usage.units, f.usage.events_count) for f in slow.filters
    ]
    # A rebuild from raw events gives the same rollups as incremental maintenance.
    before = sorted(
        UsageRollup.objects.filter(organization=organization).values_list(
            "external_subscription_id", "hour", "dimensions_key", "events_count", "value_sum", "value_max"
        )
    )
    services.usage_rollups_rebuild(organization, from_datetime=START, to_datetime=START + timedelta(seconds=SPAN + 1))
    after = sorted(
        UsageRollup.objects.filter(organization=organization).values_list(
            "external_subscription_id", "hour", "dimensions_key", "events_count", "value_sum", "value_max"
        )
    )
    assert before == after


def test_late_event_updates_its_hour(organization):
    metric = make_metric(organization, "late", "sum_agg", field_name="v")
    now = datetime.now(UTC)
    services.events_ingest(
        organization, [{"transaction_id": "a", "external_subscription_id": "s", "code": "late", "properties": {"v": 1}}]
    )
    past = datetime(2023, 5, 4, 10, 30, tzinfo=UTC)
    services.events_ingest(
        organization,
        [
            {
                "transaction_id": "b",
                "external_subscription_id": "s",
                "code": "late",
                "timestamp": str(int(past.timestamp())),
                "properties": {"v": 7},
            }
        ],
    )
    rollup = UsageRollup.objects.get(organization=organization, hour=datetime(2023, 5, 4, 10, tzinfo=UTC))
    assert (rollup.events_count, rollup.value_sum) == (1, 7)
    month = aggregate(
        organization,
        external_subscription_id="s",
        metric=metric,
        from_datetime=datetime(2023, 5, 1, tzinfo=UTC),
        to_datetime=datetime(2023, 6, 1, tzinfo=UTC),
    )
    assert month.units == 7
    assert month.source == "rollups"
    assert now.year >= 2024


def test_rebuild_repairs_events_sent_before_their_metric(organization):
    moment = datetime(2024, 2, 3, 4, 5, tzinfo=UTC)
    services.events_ingest(
        organization,
        [
            {
                "transaction_id": f"t{i}",
                "external_subscription_id": "s",
                "code": "later",
                "timestamp": str(int(moment.timestamp())),
                "properties": {"v": "2.5"},
            }
            for i in range(3)
        ],
    )
    assert not UsageRollup.objects.exists()
    assert Event.objects.filter(value__isnull=True).count() == 3
    metric = make_metric(organization, "later", "sum_agg", field_name="v")
    stats = services.usage_rollups_rebuild(
        organization, from_datetime=datetime(2024, 2, 1, tzinfo=UTC), to_datetime=datetime(2024, 3, 1, tzinfo=UTC)
    )
    assert stats == {"events": 3, "values_updated": 3, "rollups": 1}
    result = aggregate(
        organization,
        external_subscription_id="s",
        metric=metric,
        from_datetime=datetime(2024, 2, 1, tzinfo=UTC),
        to_datetime=datetime(2024, 3, 1, tzinfo=UTC),
    )
    assert result.units == Decimal("7.5")
    assert result.source == "rollups"


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    events=st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=SPAN * 1000),  # milliseconds after START
            st.decimals(min_value=Decimal("-50"), max_value=Decimal("50"), places=2),
            st.sampled_from(["a", "b", "c"]),
            st.sampled_from(["add", "remove", None]),
        ),
        max_size=30,
    ),
    window=st.tuples(st.integers(0, SPAN), st.integers(0, SPAN)),
    aggregation_type=st.sampled_from(["latest_agg", "unique_count_agg", "weighted_sum_agg", "sum_agg"]),
    recurring=st.booleans(),
)
def test_database_paths_equal_python_for_every_type(events, window, aggregation_type, recurring):
    """latest / unique count / weighted sum computed by the database equal the Python reference."""
    organization = OrganizationFactory()
    field = "user" if aggregation_type == "unique_count_agg" else "v"
    metric = make_metric(organization, "m", aggregation_type, field_name=field, recurring=recurring)
    payloads = []
    for i, (millis, value, user, op) in enumerate(events):
        props = {"v": str(value), "user": user}
        if op:
            props["operation_type"] = op
        stamp = Decimal(int(START.timestamp()) * 1000 + millis) / 1000
        payloads.append(
            {
                "transaction_id": f"t{i}",
                "external_subscription_id": "s",
                "code": "m",
                "timestamp": str(stamp),
                "properties": props,
            }
        )
    if payloads:
        services.events_ingest(organization, payloads)
    lo, hi = sorted(window)
    kwargs = {
        "external_subscription_id": "s",
        "metric": metric,
        "from_datetime": START + timedelta(seconds=lo),
        "to_datetime": START + timedelta(seconds=hi),
        "subscription_started_at": START,
    }
    fast = aggregate(organization, store="postgres", **kwargs)
    slow = aggregate(organization, store="postgres", use_rollups=False, **kwargs)
    assert (fast.units, fast.events_count) == (slow.units, slow.events_count)
