"""The aggregation service with Lago's worked examples (docs/billing-semantics.md §13, §14)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from catalog.models import ALL_FILTER_VALUES
from catalog.pricing import price
from metering import services
from metering.aggregation import aggregate
from tests.factories.metering import make_metric

pytestmark = pytest.mark.django_db

MARCH = datetime(2024, 3, 1, tzinfo=UTC)
APRIL = datetime(2024, 4, 1, tzinfo=UTC)
MAY = datetime(2024, 5, 1, tzinfo=UTC)

_counter = iter(range(10**9))


def ingest(organization, code, events, sub="sub_1"):
    """events: [(datetime, properties)]"""
    payloads = [
        {
            "transaction_id": f"tx_{next(_counter)}",
            "external_subscription_id": sub,
            "code": code,
            "timestamp": str(Decimal(str(moment.timestamp()))),
            "properties": props,
        }
        for moment, props in events
    ]
    return services.events_ingest(organization, payloads)


def both(organization, **kwargs):
    """Aggregate through rollups (where possible) and through raw events; they must agree."""
    fast = aggregate(organization, **kwargs)
    slow = aggregate(organization, use_rollups=False, with_event_values=True, **kwargs)
    assert fast.units == slow.units
    assert fast.events_count == slow.events_count
    assert fast.precise_total_amount_cents == slow.precise_total_amount_cents
    assert [(f.filter_id, f.usage.units, f.usage.events_count) for f in fast.filters] == [
        (f.filter_id, f.usage.units, f.usage.events_count) for f in slow.filters
    ]
    return slow


def day(n, hour=0):
    return MARCH + timedelta(days=n - 1, hours=hour)


def test_count_agg_three_events(organization):
    metric = make_metric(organization, "calls")
    ingest(organization, "calls", [(day(2), {}), (day(3, 5), {}), (day(31, 23), {})])
    result = both(organization, external_subscription_id="sub_1", metric=metric, from_datetime=MARCH, to_datetime=APRIL)
    assert result.units == 3
    assert result.events_count == 3
    assert result.event_values == (1, 1, 1)


def test_sum_agg_ten_plus_twenty(organization):
    metric = make_metric(organization, "gb", "sum_agg", field_name="gb")
    ingest(organization, "gb", [(day(2, 1), {"gb": 10}), (day(9, 13), {"gb": "20"})])
    result = both(organization, external_subscription_id="sub_1", metric=metric, from_datetime=MARCH, to_datetime=APRIL)
    assert result.units == 30
    assert result.event_values == (10, 20)


def test_max_agg_and_pricing(organization):
    metric = make_metric(organization, "peak", "max_agg", field_name="v")
    ingest(organization, "peak", [(day(2), {"v": 5}), (day(3), {"v": 20}), (day(4), {"v": 3})])
    result = both(organization, external_subscription_id="sub_1", metric=metric, from_datetime=MARCH, to_datetime=APRIL)
    assert result.units == 20
    assert result.events_count == 3
    fee = price("standard", {"amount": "10"}, result.as_usage())
    assert fee.amount * 100 == 20_000


def test_latest_agg(organization):
    metric = make_metric(organization, "last", "latest_agg", field_name="v")
    ingest(organization, "last", [(day(2), {"v": 10}), (day(3), {"v": 3}), (day(4), {"v": 50})])
    result = both(organization, external_subscription_id="sub_1", metric=metric, from_datetime=MARCH, to_datetime=APRIL)
    assert result.units == 50
    assert price("standard", {"amount": "5"}, result.as_usage()).amount * 100 == 25_000


def test_unique_count_with_add_and_remove(organization):
    metric = make_metric(organization, "seats", "unique_count_agg", field_name="user")
    ingest(
        organization,
        "seats",
        [
            (day(2), {"user": "a"}),
            (day(3), {"user": "a"}),
            (day(4), {"user": "b", "operation_type": "add"}),
            (day(5), {"user": "c"}),
            (day(6), {"user": "c", "operation_type": "remove"}),
        ],
    )
    result = both(organization, external_subscription_id="sub_1", metric=metric, from_datetime=MARCH, to_datetime=APRIL)
    assert result.units == 2


def test_unique_count_two_events_same_value(organization):
    metric = make_metric(organization, "req", "unique_count_agg", field_name="request_id")
    ingest(organization, "req", [(day(2), {"request_id": "r1"}), (day(3), {"request_id": "r1"})])
    result = both(organization, external_subscription_id="sub_1", metric=metric, from_datetime=MARCH, to_datetime=APRIL)
    assert result.units == 1
    assert result.events_count == 1  # a unique count's count is its distinct values (Lago)


def test_weighted_sum_march_and_recurring_april(organization):
    """Lago's weighted_sum_agg spec: 217,742 cents in March, 53,333 in April at $1/unit."""
    metric = make_metric(organization, "storage", "weighted_sum_agg", field_name="gb", recurring=True)
    ingest(
        organization,
        "storage",
        [
            (datetime(2024, 3, 5, tzinfo=UTC), {"gb": 2500}),
            (datetime(2024, 4, 4, tzinfo=UTC), {"gb": -2000}),
            (datetime(2024, 4, 6, tzinfo=UTC), {"gb": -200}),
        ],
    )
    march = both(
        organization,
        external_subscription_id="sub_1",
        metric=metric,
        from_datetime=MARCH,
        to_datetime=APRIL,
        subscription_started_at=MARCH,
    )
    assert march.units.quantize(Decimal("0.01")) == Decimal("2177.42")
    assert (march.units * 100).quantize(Decimal(1)) == 217_742
    april = both(
        organization,
        external_subscription_id="sub_1",
        metric=metric,
        from_datetime=APRIL,
        to_datetime=MAY,
        subscription_started_at=MARCH,
    )
    assert april.units.quantize(Decimal("0.01")) == Decimal("533.33")
    assert (april.units * 100).quantize(Decimal(1)) == 53_333
    # Lago's total_aggregated_units: the level at the window's end (SQL and Python paths agree)
    assert (march.total_aggregated_units, april.total_aggregated_units) == (2500, 300)
    fast_april = aggregate(
        organization,
        external_subscription_id="sub_1",
        metric=metric,
        from_datetime=APRIL,
        to_datetime=MAY,
        subscription_started_at=MARCH,
    )
    assert (fast_april.source, fast_april.total_aggregated_units) == ("rollups", 300)


@pytest.mark.parametrize("recurring", [False, True])
def test_weighted_sum_divides_by_the_whole_period_when_the_window_is_part_of_it(organization, recurring):
    """A subscription started 5 March: its window is [5 March, 1 April) but a weighted sum divides
    by the 31 days of March (Lago): 2500 × 27/31. A window closed on 11 March (termination)
    divides by March too: 2500 × 6/31. SQL and Python paths agree."""
    metric = make_metric(organization, f"ws_part_{recurring}", "weighted_sum_agg", field_name="gb", recurring=recurring)
    ingest(organization, metric.code, [(datetime(2024, 3, 5, tzinfo=UTC), {"gb": 2500})])
    first = both(
        organization,
        external_subscription_id="sub_1",
        metric=metric,
        from_datetime=datetime(2024, 3, 5, tzinfo=UTC),
        to_datetime=APRIL,
        subscription_started_at=datetime(2024, 3, 5, tzinfo=UTC),
        charges_period_days=31,
    )
    assert first.units == Decimal("2177.419354838709677419354838709677419355")  # 67500/31, 40 digits
    # The window given as the whole month, the subscription starting within it: the same.
    whole = both(
        organization,
        external_subscription_id="sub_1",
        metric=metric,
        from_datetime=MARCH,
        to_datetime=APRIL,
        subscription_started_at=datetime(2024, 3, 5, tzinfo=UTC),
    )
    assert whole.units == first.units
    terminated = both(
        organization,
        external_subscription_id="sub_1",
        metric=metric,
        from_datetime=MARCH,
        to_datetime=datetime(2024, 3, 11, tzinfo=UTC),
        subscription_started_at=MARCH,
        charges_period_days=31,
    )
    assert terminated.units == Decimal("483.8709677419354838709677419354838709677")  # 15000/31


def test_weighted_sum_period_is_days_times_86400_across_a_dst_change(organization):
    """March 2024 in Paris lasts 30 days 23 hours, yet the divisor is 31 × 86,400 s (Lago):
    a level of 744 held the whole local month weighs 744 × 743/744 = 743."""
    metric = make_metric(organization, "ws_dst", "weighted_sum_agg", field_name="gb")
    start, end = datetime(2024, 2, 29, 23, tzinfo=UTC), datetime(2024, 3, 31, 22, tzinfo=UTC)
    ingest(organization, "ws_dst", [(start, {"gb": 744})])
    result = both(
        organization,
        external_subscription_id="sub_1",
        metric=metric,
        from_datetime=start,
        to_datetime=end,
        charges_period_days=31,
    )
    assert result.units == 743


def test_weighted_sum_docs_example(organization):
    metric = make_metric(organization, "gbw", "weighted_sum_agg", field_name="gb")
    ingest(
        organization,
        "gbw",
        [(day(1), {"gb": 20}), (day(2), {"gb": 10}), (day(17), {"gb": -30})],
    )
    result = both(organization, external_subscription_id="sub_1", metric=metric, from_datetime=MARCH, to_datetime=APRIL)
    assert result.units.quantize(Decimal("0.01")) == Decimal("15.16")


def test_weighted_sum_metered_does_not_carry(organization):
    metric = make_metric(organization, "gbm", "weighted_sum_agg", field_name="gb")
    ingest(organization, "gbm", [(datetime(2024, 3, 5, tzinfo=UTC), {"gb": 2500})])
    april = both(organization, external_subscription_id="sub_1", metric=metric, from_datetime=APRIL, to_datetime=MAY)
    assert april.units == 0


def test_recurring_sum_carries_previous_periods(organization):
    metric = make_metric(organization, "seats_sum", "sum_agg", field_name="n", recurring=True)
    ingest(organization, "seats_sum", [(day(3), {"n": 5}), (datetime(2024, 4, 2, 10, 30, tzinfo=UTC), {"n": -2})])
    april = both(
        organization,
        external_subscription_id="sub_1",
        metric=metric,
        from_datetime=APRIL,
        to_datetime=MAY,
        subscription_started_at=MARCH,
    )
    assert april.units == 3
    assert april.events_count == 1


def test_recurring_unique_count_carries(organization):
    metric = make_metric(organization, "users", "unique_count_agg", field_name="u", recurring=True)
    ingest(
        organization,
        "users",
        [
            (day(3), {"u": "a"}),
            (day(4), {"u": "b"}),
            (datetime(2024, 4, 2, tzinfo=UTC), {"u": "a", "operation_type": "remove"}),
        ],
    )
    april = both(
        organization,
        external_subscription_id="sub_1",
        metric=metric,
        from_datetime=APRIL,
        to_datetime=MAY,
        subscription_started_at=MARCH,
    )
    assert april.units == 1


def test_events_before_subscription_start_never_count(organization):
    metric = make_metric(organization, "calls2")
    ingest(organization, "calls2", [(day(2), {}), (day(10), {}), (day(20), {})])
    result = both(
        organization,
        external_subscription_id="sub_1",
        metric=metric,
        from_datetime=MARCH,
        to_datetime=APRIL,
        subscription_started_at=day(10),
    )
    assert result.units == 2


def test_window_is_half_open_and_per_subscription(organization):
    metric = make_metric(organization, "c3")
    ingest(organization, "c3", [(MARCH, {}), (APRIL, {}), (day(5), {})])
    ingest(organization, "c3", [(day(5), {})], sub="other")
    result = both(organization, external_subscription_id="sub_1", metric=metric, from_datetime=MARCH, to_datetime=APRIL)
    assert result.units == 2


def test_edges_inside_hours_use_raw_events(organization):
    metric = make_metric(organization, "s4", "sum_agg", field_name="v")
    ingest(
        organization,
        "s4",
        [
            (datetime(2024, 3, 1, 10, 10, tzinfo=UTC), {"v": 1}),
            (datetime(2024, 3, 1, 10, 40, tzinfo=UTC), {"v": 2}),
            (datetime(2024, 3, 1, 12, 5, tzinfo=UTC), {"v": 4}),
            (datetime(2024, 3, 1, 13, 50, tzinfo=UTC), {"v": 8}),
        ],
    )
    result = both(
        organization,
        external_subscription_id="sub_1",
        metric=metric,
        from_datetime=datetime(2024, 3, 1, 10, 30, tzinfo=UTC),
        to_datetime=datetime(2024, 3, 1, 13, 30, tzinfo=UTC),
    )
    assert result.units == 6


def test_filters_and_grouping_lago_spec(organization):
    """filters_and_grouped_by_spec: 30 × $12 in the aws filter + 10 × $10 default = 46,000 cents."""
    metric = make_metric(
        organization,
        "cloud",
        "sum_agg",
        field_name="value",
        filters={"cloud": ["aws", "gcp"], "region": ["us", "europe", "asia"]},
    )
    ingest(
        organization,
        "cloud",
        [
            (day(2), {"cloud": "aws", "region": "us", "country": "us", "value": 10}),
            (day(3), {"cloud": "aws", "region": "europe", "country": "fr", "value": 10}),
            (day(4), {"cloud": "aws", "region": "asia", "country": "jp", "value": 10}),
            (day(5), {"cloud": "gcp", "region": "asia", "country": "jp", "value": 10}),
        ],
    )
    filters = [("aws", {"cloud": ["aws"], "region": [ALL_FILTER_VALUES]})]
    result = aggregate(
        organization,
        external_subscription_id="sub_1",
        metric=metric,
        from_datetime=MARCH,
        to_datetime=APRIL,
        filters=filters,
        grouped_by=["country"],
    )
    assert result.units == 40
    assert result.events_count == 4
    aws, default = result.filters
    assert (aws.filter_id, aws.usage.units, aws.usage.events_count) == ("aws", 30, 3)
    assert (default.filter_id, default.usage.units, default.usage.events_count) == (None, 10, 1)
    assert [(g.grouped_by, g.units) for g in aws.groups] == [
        ({"country": "fr"}, 10),
        ({"country": "jp"}, 10),
        ({"country": "us"}, 10),
    ]
    assert [(g.grouped_by, g.units) for g in default.groups] == [({"country": "jp"}, 10)]
    total_cents = sum(price("standard", {"amount": "12"}, g.as_usage()).amount * 100 for g in aws.groups) + sum(
        price("standard", {"amount": "10"}, g.as_usage()).amount * 100 for g in default.groups
    )
    assert total_cents == 46_000
    # Without grouping, the filters answer from rollups with the same numbers.
    plain = both(
        organization,
        external_subscription_id="sub_1",
        metric=metric,
        from_datetime=MARCH,
        to_datetime=APRIL,
        filters=filters,
    )
    assert [f.usage.units for f in plain.filters] == [30, 10]


def test_most_specific_filter_wins_and_identical_counts_once(organization):
    metric = make_metric(organization, "api", filters={"region": ["eu", "us"], "tier": ["gold", "silver"]})
    ingest(
        organization,
        "api",
        [
            (day(2), {"region": "eu", "tier": "gold"}),
            (day(3), {"region": "eu", "tier": "silver"}),
            (day(4), {"region": "us"}),
            (day(5), {}),
        ],
    )
    filters = [
        ("eu", {"region": ["eu"]}),
        ("eu_gold", {"region": ["eu"], "tier": ["gold"]}),
        ("eu_again", {"region": ["eu"]}),
    ]
    result = both(
        organization,
        external_subscription_id="sub_1",
        metric=metric,
        from_datetime=MARCH,
        to_datetime=APRIL,
        filters=filters,
    )
    assert [(f.filter_id, f.usage.units) for f in result.filters] == [
        ("eu", 1),
        ("eu_gold", 1),
        ("eu_again", 0),
        (None, 2),
    ]
    assert result.units == 4


def test_grouping_with_missing_key_forms_null_group(organization):
    metric = make_metric(organization, "g", "sum_agg", field_name="v")
    ingest(
        organization,
        "g",
        [(day(2), {"v": 1, "country": "fr"}), (day(3), {"v": 2}), (day(4), {"v": 4, "country": "fr"})],
    )
    result = aggregate(
        organization,
        external_subscription_id="sub_1",
        metric=metric,
        from_datetime=MARCH,
        to_datetime=APRIL,
        grouped_by=["country"],
    )
    assert [(g.grouped_by, g.units, g.events_count) for g in result.groups] == [
        ({"country": "fr"}, 5, 2),
        ({"country": None}, 2, 1),
    ]


@pytest.mark.parametrize(
    ("function", "precision", "expected"),
    [("round", 2, "123.46"), ("round", -1, "120"), ("round", 0, "123"), ("ceil", 1, "123.5"), ("floor", 2, "123.45")],
)
def test_metric_rounding(organization, function, precision, expected):
    metric = make_metric(
        organization, "r", "sum_agg", field_name="v", rounding_function=function, rounding_precision=precision
    )
    ingest(organization, "r", [(day(2), {"v": "100.4567"}), (day(3), {"v": "23"})])
    result = both(organization, external_subscription_id="sub_1", metric=metric, from_datetime=MARCH, to_datetime=APRIL)
    assert result.units == Decimal(expected)


def test_dynamic_precise_total_amount_cents(organization):
    metric = make_metric(organization, "dyn", "sum_agg", field_name="v")
    services.events_ingest(
        organization,
        [
            {
                "transaction_id": "d1",
                "external_subscription_id": "sub_1",
                "code": "dyn",
                "timestamp": str(int(day(2).timestamp())),
                "properties": {"v": 1},
                "precise_total_amount_cents": "10.1",
            },
            {
                "transaction_id": "d2",
                "external_subscription_id": "sub_1",
                "code": "dyn",
                "timestamp": str(int(day(3).timestamp()) + 1800),
                "properties": {"v": 1},
                "precise_total_amount_cents": "901.9",
            },
        ],
    )
    result = both(organization, external_subscription_id="sub_1", metric=metric, from_datetime=MARCH, to_datetime=APRIL)
    assert result.precise_total_amount_cents == Decimal("912.0")


def test_other_tenant_events_are_invisible(organization, other_tenant):
    metric = make_metric(organization, "calls")
    make_metric(other_tenant.organization, "calls")
    ingest(other_tenant.organization, "calls", [(day(2), {})])
    result = both(organization, external_subscription_id="sub_1", metric=metric, from_datetime=MARCH, to_datetime=APRIL)
    assert result.units == 0
