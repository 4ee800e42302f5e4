"""ClickHouse store: identical results to PostgreSQL, idempotent replays, outage and gap replay.

Needs a real server: CLICKHOUSE_URL (e.g. from scripts/start-clickhouse.sh). Skipped only when
CLICKHOUSE_URL is unset; when it is set and the server is unreachable, these tests fail.
"""

from __future__ import annotations

import os
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.test import override_settings
from django.utils import timezone

from metering import clickhouse, services
from metering.aggregation import aggregate
from metering.clickhouse.backfill import clickhouse_backfill_run, clickhouse_backfill_start, readable
from metering.models import ClickHouseOutbox
from tests.factories.metering import make_metric

CLICKHOUSE_URL = os.environ.get("CLICKHOUSE_URL", "")

pytestmark = [
    pytest.mark.clickhouse,
    pytest.mark.skipif(not CLICKHOUSE_URL, reason="CLICKHOUSE_URL is not set"),
    pytest.mark.django_db,
]

MARCH = datetime(2024, 3, 1, tzinfo=UTC)
APRIL = datetime(2024, 4, 1, tzinfo=UTC)


def complete_backfill(organization) -> None:
    """What the beat sweeper does after ClickHouse is switched on (verified once settled)."""
    clickhouse_backfill_start(organization)
    row = clickhouse_backfill_run(organization, now=timezone.now() + timedelta(hours=1))
    assert row.status == "complete", row.last_error


def random_events(seed: int, count: int) -> list[dict]:
    rng = random.Random(seed)
    events = []
    for i in range(count):
        moment = MARCH + timedelta(seconds=rng.randrange(0, 40 * 86400), microseconds=rng.randrange(0, 10**6))
        props = {
            "v": str(Decimal(rng.randrange(-5000, 50000)) / 100),
            "user": f"u{rng.randrange(8)}",
            "region": rng.choice(["eu", "us", "asia"]),
            "tier": rng.choice(["gold", "silver"]),
        }
        if rng.random() < 0.2:
            props["operation_type"] = "remove"
        if rng.random() < 0.1:
            del props["region"]
        events.append(
            {
                "transaction_id": f"t{i}",
                "external_subscription_id": rng.choice(["s1", "s2"]),
                "code": "m",
                "timestamp": str(Decimal(int(moment.timestamp() * 10**6)) / 10**6),
                "properties": props,
                "precise_total_amount_cents": str(Decimal(rng.randrange(0, 1000)) / 10),
            }
        )
    return events


@override_settings(CLICKHOUSE_URL=CLICKHOUSE_URL)
@pytest.mark.parametrize(
    "aggregation_type", ["count_agg", "sum_agg", "max_agg", "latest_agg", "unique_count_agg", "weighted_sum_agg"]
)
@pytest.mark.parametrize("recurring", [False, True])
def test_clickhouse_returns_exactly_the_postgres_results(organization, aggregation_type, recurring):
    field = {"count_agg": None, "unique_count_agg": "user"}.get(aggregation_type, "v")
    metric = make_metric(
        organization,
        "m",
        aggregation_type,
        field_name=field,
        recurring=recurring,
        filters={"region": ["eu", "us", "asia"], "tier": ["gold", "silver"]},
    )
    events = random_events(hash((aggregation_type, recurring)) % 1000, 300)
    services.events_ingest(organization, events[:200])
    services.events_ingest(organization, events[150:])  # 50 duplicates
    assert clickhouse.clickhouse_flush() == 300
    assert not ClickHouseOutbox.objects.exists()
    # A replay of the same events changes nothing (ReplacingMergeTree + FINAL).
    services.clickhouse_events_requeue(organization)
    assert clickhouse.clickhouse_flush() == 300
    cases = [
        {},
        {"filters": [("eu", {"region": ["eu"]}), ("eu_gold", {"region": ["eu"], "tier": ["gold"]})]},
        {"grouped_by": ["tier"]},
        {"filters": [("all", {"region": ["__ALL_FILTER_VALUES__"]})], "grouped_by": ["tier"]},
    ]
    for window in [
        (MARCH, APRIL),
        (MARCH + timedelta(hours=5, seconds=7), APRIL - timedelta(minutes=3)),
        (APRIL, APRIL + timedelta(days=30)),
    ]:
        for extra in cases:
            kwargs = dict(
                external_subscription_id="s1",
                metric=metric,
                from_datetime=window[0],
                to_datetime=window[1],
                subscription_started_at=MARCH,
                **extra,
            )
            pg = aggregate(organization, store="postgres", **kwargs)
            ch = aggregate(organization, store="clickhouse", **kwargs)
            assert ch.source == "clickhouse"
            assert (ch.units, ch.events_count, ch.precise_total_amount_cents) == (
                pg.units,
                pg.events_count,
                pg.precise_total_amount_cents,
            ), (window, extra)
            assert [(f.filter_id, f.usage.units, f.usage.events_count) for f in ch.filters] == [
                (f.filter_id, f.usage.units, f.usage.events_count) for f in pg.filters
            ]
            assert [(dict(g.grouped_by), g.units, g.events_count) for g in ch.groups] == [
                (dict(g.grouped_by), g.units, g.events_count) for g in pg.groups
            ]
    # With everything flushed and the organization's backfill complete, automatic routing goes
    # to ClickHouse.
    complete_backfill(organization)
    auto = aggregate(organization, external_subscription_id="s1", metric=metric, from_datetime=MARCH, to_datetime=APRIL)
    assert auto.source == "clickhouse"


def test_clickhouse_down_ingestion_succeeds_and_the_gap_is_replayed(organization):
    metric = make_metric(organization, "m", "sum_agg", field_name="v")
    events = random_events(7, 50)
    with override_settings(CLICKHOUSE_URL="clickhouse://default@127.0.0.1:1/bxb_down"):
        result = services.events_ingest(organization, events)
        assert len(result.events) == 50
        with pytest.raises(Exception):  # noqa: B017 - any connection error
            clickhouse.clickhouse_flush()
        assert ClickHouseOutbox.objects.filter(organization=organization).count() == 1
        # Aggregation does not read a store that misses events: PostgreSQL answers.
        usage = aggregate(
            organization, external_subscription_id="s1", metric=metric, from_datetime=MARCH, to_datetime=APRIL
        )
        assert usage.source == "rollups"
    with override_settings(CLICKHOUSE_URL=CLICKHOUSE_URL):
        assert not readable(organization, reads_from=MARCH)
        complete_backfill(organization)  # its verification replays the outbox first
        assert not ClickHouseOutbox.objects.filter(organization=organization).exists()
        assert readable(organization, reads_from=MARCH)
        routed = aggregate(
            organization, external_subscription_id="s1", metric=metric, from_datetime=MARCH, to_datetime=APRIL
        )
        assert routed.source == "clickhouse"
        assert routed.units == usage.units
        # New events wait in the outbox: until they are copied, PostgreSQL answers.
        services.events_ingest(
            organization, [{**e, "transaction_id": f"new{i}"} for i, e in enumerate(random_events(8, 10))]
        )
        assert not readable(organization, reads_from=MARCH)
        assert clickhouse.clickhouse_flush() == 10
        assert readable(organization, reads_from=MARCH)


@override_settings(CLICKHOUSE_URL=CLICKHOUSE_URL)
def test_clickhouse_sync_command(organization):
    from io import StringIO

    from django.core.management import call_command

    make_metric(organization, "m", "count_agg")
    services.events_ingest(organization, random_events(3, 20))
    out = StringIO()
    call_command("clickhouse_sync", "--backfill", str(organization.id), stdout=out)
    assert "queued 20 events" in out.getvalue()
    assert "0 outbox batches pending" in out.getvalue()
