"""The pre-aggregated states of the ClickHouse store of record (metering.clickhouse.state): reads
take whole quarter hours (and, for unique counts, whole days) from the states, filters and groups
on the metric's filter keys included, and leave out the rows of transactions that did not
commit, asked of PostgreSQL or recorded by the settle job. Against a real ClickHouse
(CLICKHOUSE_URL); the property test in test_clickhouse_record.py compares every aggregation with
the PostgreSQL store."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone

from metering import services
from metering.aggregation import aggregate
from metering.clickhouse import state
from metering.clickhouse import store as ch
from tests.metering.test_clickhouse_record import (
    APRIL,
    MARCH,
    event,
    organization_metric,
    organization_on,
    rolled_back_xid,
    transaction_elsewhere,
)

CLICKHOUSE_URL = os.environ.get("CLICKHOUSE_URL", "")

pytestmark = [
    pytest.mark.clickhouse,
    pytest.mark.skipif(not CLICKHOUSE_URL, reason="CLICKHOUSE_URL is not set"),
    pytest.mark.django_db,
    pytest.mark.usefixtures("_clickhouse_settings"),
]


@pytest.fixture
def _clickhouse_settings():
    with override_settings(CLICKHOUSE_URL=CLICKHOUSE_URL):
        yield


def usage(organization, code: str, start=MARCH, end=APRIL, **kwargs: Any):
    return aggregate(
        organization,
        external_subscription_id="s1",
        metric=organization_metric(organization, code),
        from_datetime=start,
        to_datetime=end,
        **kwargs,
    )


def no_event_reads(monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("read from events, not from the states")

    monkeypatch.setattr(state, "_from_events", refuse)


def test_usage_comes_from_the_states_for_whole_quarter_hours(monkeypatch):
    organization = organization_on("clickhouse")
    events = [
        event(f"a-{code}", code=code, v="2.5", at=MARCH + timedelta(minutes=1), region="eu")
        for code in ("sum", "max", "latest", "weighted", "count")
    ]
    events += [
        event(f"b-{code}", code=code, v="7", at=MARCH + timedelta(hours=3, seconds=1))
        for code in ("sum", "max", "latest")
    ]
    events += [event(f"c-{code}", code=code, v="-1", at=MARCH + timedelta(days=2)) for code in ("sum", "max", "latest")]
    events.append(event("b", code="weighted", v="-2.5", at=MARCH + timedelta(days=15)))
    services.events_ingest(organization, events)
    no_event_reads(monkeypatch)
    assert usage(organization, "sum").units == Decimal("8.5")
    assert usage(organization, "max").units == Decimal(7)
    assert usage(organization, "latest").units == Decimal(-1)
    assert usage(organization, "count").events_count == 1
    by_region = usage(organization, "sum", filters=[("eu", {"region": ["eu"]})])
    assert [(f.filter_id, f.usage.units) for f in by_region.filters] == [("eu", Decimal("2.5")), (None, Decimal(6))]
    # 2.5 for 15 days less a minute of a 31-day month, as the PostgreSQL store computes it.
    weighted = usage(organization, "weighted", charges_period_days=31)
    expected = Decimal("2.5") * Decimal(15 * 86400 - 60) / Decimal(31 * 86400)
    assert abs(weighted.units - expected) < Decimal("1e-12")


def test_a_quarter_hour_cut_by_the_window_is_read_from_events_only_when_it_must():
    organization = organization_on("clickhouse")
    services.events_ingest(
        organization,
        [
            event("a", v="1", at=MARCH + timedelta(minutes=20)),
            event("b", v="10", at=MARCH + timedelta(minutes=40)),
        ],
    )
    # [00:30, 01:00) and [00:35, ...): the first reads the quarter hour's state, the second its events.
    assert usage(organization, "sum", start=MARCH + timedelta(minutes=30)).units == Decimal(10)
    assert usage(organization, "sum", start=MARCH + timedelta(minutes=35)).units == Decimal(10)
    assert usage(organization, "sum", start=MARCH + timedelta(minutes=41)).units == Decimal(0)
    assert usage(organization, "sum", end=MARCH + timedelta(minutes=40)).units == Decimal(1)


def test_rows_of_a_transaction_that_rolled_back_never_count():
    organization = organization_on("clickhouse")
    stored = services.events_ingest(organization, [event("a", v="5", at=MARCH + timedelta(minutes=3))])
    # A failed commit left "a" in ClickHouse once more; the client sends it again with "c".
    orphan = [stored.events[0]]
    ch.ClickHouseEventStore().write(organization.id, orphan, now=timezone.now(), xid=rolled_back_xid())
    services.events_ingest(organization, [event("a", v="5", at=MARCH + timedelta(minutes=3)), event("c", v="1")])
    assert (usage(organization, "sum").units, usage(organization, "sum").events_count) == (Decimal(6), 2)


def test_settling_records_the_orphans_and_then_reads_ask_postgres_nothing(monkeypatch):
    organization = organization_on("clickhouse")
    services.events_ingest(organization, [event("a", v="5", at=MARCH + timedelta(hours=1))])
    xid = rolled_back_xid()
    ghost = services.events_ingest(organization_on("postgres"), [event("g", v="100")]).events
    ch.ClickHouseEventStore().write(organization.id, ghost, now=timezone.now(), xid=xid)
    time.sleep(1.1)  # the watermark has a resolution of one second
    settled = state.settle(ch.client(write=True), margin=timedelta(0))
    assert settled.orphans >= 1 and settled.upto is not None
    asked: list[Any] = []

    def statuses(xids):
        asked.append(set(xids))
        return {}

    monkeypatch.setattr(state, "xact_statuses", statuses)
    params = {"org": str(organization.id), "sub": "s1", "code": "sum"}
    first = state.bucket_of(ch.micros(MARCH))
    excluded = state.exclusions(ch._read, params, first, first + 3 * state.BUCKET_SECONDS)
    assert (excluded.xids, excluded.buckets) == ({xid}, {first})
    assert usage(organization, "sum").units == Decimal(5)
    assert not any(asked)  # everything was settled: no transaction to ask about


def test_a_transaction_still_in_progress_counts_once_it_commits():
    organization = organization_on("clickhouse")
    with transaction_elsewhere() as (other, xid):
        pending = services.events_ingest(organization_on("postgres"), [event("p", v="4")]).events
        ch.ClickHouseEventStore().write(organization.id, pending, now=timezone.now(), xid=xid)
        assert usage(organization, "sum").units == Decimal(0)
        other.commit()
    assert usage(organization, "sum").units == Decimal(4)


def test_values_too_large_for_the_weighted_state_are_read_exactly():
    huge = [event("a", code="weighted", v="300000000000000000000.5", at=MARCH + timedelta(days=1, seconds=1))]
    answers = []
    for store in ("postgres", "clickhouse"):
        organization = organization_on(store)
        services.events_ingest(organization, huge)
        answers.append(usage(organization, "weighted", charges_period_days=31).units)
    assert answers[0] == answers[1]
    assert abs(answers[1] - Decimal("300000000000000000000.5") * (31 * 86400 - 86401) / (31 * 86400)) < 1


def spy_reads(monkeypatch) -> list[str]:
    """The queries ClickHouse is sent from now on."""
    sent: list[str] = []
    real = ch._read

    def read(query, params):
        sent.append(query)
        return real(query, params)

    monkeypatch.setattr(ch, "_read", read)
    return sent


def test_unique_counts_come_from_the_states_exactly(monkeypatch):
    """Days and quarter hours from the unique-count states, cut quarter hours and a rolled-back
    write from events; a late `add` placed before a later `remove` of its value does not count."""
    stream = [
        event("a", code="unique", user="u1", at=MARCH + timedelta(minutes=1)),
        event("b", code="unique", user="u2", at=MARCH + timedelta(hours=2)),
        event("c", code="unique", user="u1", operation_type="remove", at=MARCH + timedelta(days=3)),
        event("d", code="unique", user="u3", at=MARCH + timedelta(days=10, seconds=1)),
        event("e", code="unique", user="u4", at=MARCH + timedelta(days=1, hours=5)),
        event("f", code="unique", user="u4", operation_type="remove", at=MARCH + timedelta(days=1, hours=5)),
    ]
    late = [event("g", code="unique", user="u1", at=MARCH + timedelta(days=2))]
    windows = [
        (MARCH, APRIL),
        (MARCH + timedelta(days=1, seconds=7), MARCH + timedelta(days=3, minutes=5)),
        (MARCH + timedelta(days=1, seconds=7), MARCH + timedelta(days=3)),
        (MARCH + timedelta(hours=1, minutes=30), MARCH + timedelta(days=11, hours=1)),
        (MARCH + timedelta(days=3), MARCH + timedelta(days=3, microseconds=1)),
    ]
    answers = {}
    for store in ("postgres", "clickhouse"):
        organization = organization_on(store)
        services.events_ingest(organization, stream)
        services.events_ingest(organization, late)
        if store == "clickhouse":
            ghost = services.events_ingest(
                organization_on("postgres"), [event("h", code="unique", user="u9", at=MARCH + timedelta(days=5))]
            ).events
            ghost[0].unique_field = "user"
            ch.ClickHouseEventStore().write(organization.id, ghost, now=timezone.now(), xid=rolled_back_xid())
            sent = spy_reads(monkeypatch)
        answers[store] = [
            (usage(organization, code, start=s, end=e).units, usage(organization, code, start=s, end=e).events_count)
            for code in ("unique", "unique_r")
            for s, e in windows
        ]
    assert answers["clickhouse"] == answers["postgres"]
    assert answers["clickhouse"][0] == (Decimal(2), 2)  # u2, u3: u1 removed on day 3, u4 in its own second
    # The month: days from the day states, except day 5 (the rolled-back write: its quarter hour
    # from events); nothing else read from the events table.
    month = next(q for q in sent if state.UNIQUE in q)
    assert "span = 86400" in month and f"FROM {ch.TABLE}" in month


def test_a_whole_month_of_unique_counts_reads_no_event(monkeypatch):
    organization = organization_on("clickhouse")
    services.events_ingest(
        organization,
        [event(f"t{i}", code="unique", user=f"u{i % 7}", at=MARCH + timedelta(hours=7 * i)) for i in range(80)],
    )
    sent = spy_reads(monkeypatch)
    assert usage(organization, "unique").units == Decimal(7)
    assert usage(organization, "unique", start=MARCH + timedelta(minutes=15), end=APRIL - timedelta(hours=1)).units == 7
    reads = [q for q in sent if state.UNIQUE in q]
    assert len(reads) == 2 and not any(f"FROM {ch.TABLE}" in q for q in reads)
    assert "span = 900" in reads[1]


def test_filters_and_groups_come_from_the_states(monkeypatch):
    """Grouping by the metric's filter keys, with and without charge filters, for every type the
    states serve: no per-event rows read, the PostgreSQL store's answers (from its events)."""
    stream = []
    for i in range(40):
        tier = ("gold", "silver", None)[i % 3]
        region = ("eu", "us")[i % 2]
        extra = {"tier": tier} if tier else {}
        at = MARCH + timedelta(hours=17 * i, seconds=i)
        stream.append(event(f"s{i}", code="sum", v=str(i), at=at, region=region, **extra))
        stream.append(event(f"w{i}", code="weighted", v=str(i % 5 - 2), at=at, region=region, **extra))
        remove = {"operation_type": "remove"} if i % 4 == 3 else {}
        stream.append(event(f"u{i}", code="unique", user=f"u{i % 6}", at=at, region=region, **extra, **remove))
    cases: list[dict[str, Any]] = [
        {"grouped_by": ["tier"]},
        {"grouped_by": ["region", "tier"]},
        {"filters": [("eu", {"region": ["eu"]}), ("gold", {"tier": ["gold"]})], "grouped_by": ["tier"]},
    ]
    answers: dict[str, list[Any]] = {}
    for store in ("postgres", "clickhouse"):
        organization = organization_on(store)
        services.events_ingest(organization, stream)
        if store == "clickhouse":

            def refuse(*args, **kwargs):
                raise AssertionError("per-event rows read")

            monkeypatch.setattr(ch.Reader, "rows", refuse)
        answers[store] = []
        for code in ("sum", "weighted", "unique", "unique_r", "count"):
            for case in cases:
                for start in (MARCH, MARCH + timedelta(days=9, minutes=7)):
                    result = usage(organization, code, start=start, charges_period_days=31, **case)
                    answers[store].append(
                        (
                            code,
                            result.units,
                            result.events_count,
                            [(dict(g.grouped_by), g.units, g.events_count) for g in result.groups],
                            [
                                (f.filter_id, f.usage.units, [(dict(g.grouped_by), g.units) for g in f.groups])
                                for f in result.filters
                            ],
                        )
                    )
    assert answers["clickhouse"] == answers["postgres"]
