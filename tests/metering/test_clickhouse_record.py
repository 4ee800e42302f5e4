"""ClickHouse as the store of record (`Organization.events_store == "clickhouse"`).

Against a real ClickHouse (CLICKHOUSE_URL, e.g. from scripts/start-clickhouse.sh); skipped only
when CLICKHOUSE_URL is unset. The property test feeds the same random streams (every aggregation
type, filters, groups, removals for unique counts, duplicates inside a batch, across batches and
whole batches retried, late arrivals, a batch that reached ClickHouse under a transaction that
rolled back) to an organization on the PostgreSQL store and one on ClickHouse, and asserts
identical ingestion answers and identical usage.
"""

from __future__ import annotations

import contextlib
import copy
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.db import connections
from django.test import override_settings
from django.utils import timezone
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from billing_project.core.errors import ValidationFailure
from customers.models import Organization
from metering import services
from metering.aggregation import aggregate
from metering.clickhouse import state
from metering.clickhouse import store as ch
from metering.models import ClickHouseOutbox, Event, EventKey
from tests.factories.customers import OrganizationFactory
from tests.factories.metering import make_metric

CLICKHOUSE_URL = os.environ.get("CLICKHOUSE_URL", "")

pytestmark = [
    pytest.mark.clickhouse,
    pytest.mark.skipif(not CLICKHOUSE_URL, reason="CLICKHOUSE_URL is not set"),
    pytest.mark.django_db,
]

MARCH = datetime(2024, 3, 1, tzinfo=UTC)
APRIL = datetime(2024, 4, 1, tzinfo=UTC)
FILTERS = {"region": ["eu", "us", "asia"], "tier": ["gold", "silver"]}
# code -> (aggregation type, field, recurring)
METRICS = {
    "count": ("count_agg", None, False),
    "sum": ("sum_agg", "v", False),
    "max": ("max_agg", "v", False),
    "latest": ("latest_agg", "v", False),
    "unique": ("unique_count_agg", "user", False),
    "weighted": ("weighted_sum_agg", "v", False),
    "sum_r": ("sum_agg", "v", True),
    "unique_r": ("unique_count_agg", "user", True),
    "weighted_r": ("weighted_sum_agg", "v", True),
}


def organization_on(store: str) -> Organization:
    organization = OrganizationFactory()
    Organization.objects.filter(id=organization.id).update(events_store=store)
    organization.refresh_from_db()
    for code, (aggregation_type, field, recurring) in METRICS.items():
        make_metric(organization, code, aggregation_type, field_name=field, recurring=recurring, filters=FILTERS)
    return organization


def event(txn: str, *, code: str = "sum", sub: str = "s1", at: datetime = MARCH, **properties) -> dict:
    return {
        "transaction_id": txn,
        "external_subscription_id": sub,
        "code": code,
        "timestamp": str(Decimal(int(at.timestamp() * 10**6)) / 10**6),
        "properties": {"v": "1", "user": "u1", **properties},
    }


def answer(result) -> tuple:
    return sorted(e.transaction_id for e in result.events), sorted(e.transaction_id for e in result.duplicates)


def usage(result, *, with_event_values: bool = False) -> tuple:
    """What both stores must answer alike (per-event values are promised only when asked for)."""
    return (
        result.units,
        result.events_count,
        result.precise_total_amount_cents,
        result.total_aggregated_units,
        tuple(result.event_values) if with_event_values else (),
        [(f.filter_id, f.usage.units, f.usage.events_count, len(f.groups)) for f in result.filters],
        [(dict(g.grouped_by), g.units, g.events_count) for g in result.groups],
    )


@override_settings(CLICKHOUSE_URL=CLICKHOUSE_URL)
def test_ingestion_writes_clickhouse_only_and_counts_each_key_once():
    organization = organization_on("clickhouse")
    first = services.events_ingest(organization, [event("a"), event("b"), event("a", v="7")])
    assert answer(first) == (["a", "b"], ["a"])
    assert all(e.id for e in first.events)
    # A retried batch and a late duplicate with another value: nothing new, the first value stays.
    again = services.events_ingest(organization, [event("b"), event("c", v="2")])
    assert answer(again) == (["c"], ["b"])
    with pytest.raises(ValidationFailure):
        services.events_ingest(organization, [event("a", v="100")], single=True)
    assert not Event.objects.filter(organization=organization).exists()
    assert not ClickHouseOutbox.objects.filter(organization=organization).exists()
    assert EventKey.objects.filter(organization_id=organization.id).count() == 3
    result = aggregate(
        organization,
        external_subscription_id="s1",
        metric=organization_metric(organization, "sum"),
        from_datetime=MARCH,
        to_datetime=APRIL,
    )
    assert (result.source, result.units, result.events_count) == ("clickhouse", Decimal(4), 3)


@override_settings(CLICKHOUSE_URL=CLICKHOUSE_URL)
def test_a_row_written_twice_to_clickhouse_counts_once():
    """A commit that failed after ClickHouse accepted the batch: the retry writes the same rows
    again; FINAL reads one, before and after ClickHouse merges the parts."""
    organization = organization_on("clickhouse")
    stored = services.events_ingest(organization, [event("a", v="5"), event("b", v="6")])
    created_at = stored.events[0].created_at
    assert created_at is not None
    ch.ClickHouseEventStore().write(organization.id, stored.events, now=created_at)
    metric = organization_metric(organization, "sum")
    kwargs: dict[str, Any] = {
        "external_subscription_id": "s1",
        "metric": metric,
        "from_datetime": MARCH,
        "to_datetime": APRIL,
    }
    assert aggregate(organization, **kwargs).units == Decimal(11)
    ch.client(write=True).execute(f"OPTIMIZE TABLE {ch.TABLE} FINAL")
    assert aggregate(organization, **kwargs).units == Decimal(11)


@override_settings(CLICKHOUSE_URL=CLICKHOUSE_URL)
def test_events_with_errors_are_also_kept_in_postgres():
    organization = organization_on("clickhouse")
    result = services.events_ingest(organization, [event("a", code="nope"), event("b")])
    assert answer(result) == (["a", "b"], [])
    assert list(Event.objects.filter(organization=organization).values_list("transaction_id", flat=True)) == ["a"]


def organization_metric(organization, code):
    from catalog.models import BillableMetric

    return BillableMetric.objects.get(organization=organization, code=code)


@contextlib.contextmanager
def transaction_elsewhere() -> Iterator[tuple[Any, int]]:
    """A PostgreSQL transaction on a connection of its own: (the connection, the transaction's
    id); rolled back at the end unless committed."""
    other = connections.create_connection("default")
    try:
        other.set_autocommit(False)
        with other.cursor() as cursor:
            cursor.execute("SELECT txid_current()")
            (xid,) = cursor.fetchone()
        yield other, int(xid)
        other.rollback()
    finally:
        other.close()


def rolled_back_xid() -> int:
    """The id of a PostgreSQL transaction that rolled back."""
    with transaction_elsewhere() as (_, xid):
        pass
    return xid


def write_under_rolled_back_transaction(organization, events) -> None:
    """What a failed commit leaves: the events in ClickHouse (here with other values) under a
    transaction that did not commit."""
    changed = [copy.copy(e) for e in events]
    for e in changed:
        e.value = e.value * 7 + 1 if e.value is not None else Decimal(3)
    ch.ClickHouseEventStore().write(organization.id, changed, now=timezone.now(), xid=rolled_back_xid())


# --- the property test -----------------------------------------------------------------------

SECONDS = 45 * 86400

events_strategy = st.lists(
    st.fixed_dictionaries(
        {
            "txn": st.integers(0, 40),
            "code": st.sampled_from(sorted(METRICS)),
            "sub": st.sampled_from(["s1", "s2"]),
            "second": st.integers(-3 * 86400, SECONDS),
            "micro": st.integers(0, 999_999),
            "v": st.one_of(st.integers(-50, 500), st.decimals(-100, 1000, places=3, allow_nan=False)),
            "user": st.sampled_from(["u1", "u2", "u3", "u4"]),
            "region": st.sampled_from(["eu", "us", "asia", None]),
            "tier": st.sampled_from(["gold", "silver", None]),
            "remove": st.booleans(),
            "precise": st.one_of(st.none(), st.integers(0, 10_000)),
        }
    ),
    min_size=1,
    max_size=60,
)


def payload(raw: dict) -> dict:
    properties = {"v": str(raw["v"]), "user": raw["user"]}
    if raw["region"]:
        properties["region"] = raw["region"]
    if raw["tier"]:
        properties["tier"] = raw["tier"]
    if raw["remove"]:
        properties["operation_type"] = "remove"
    moment = MARCH + timedelta(seconds=raw["second"], microseconds=raw["micro"])
    body = {
        "transaction_id": f"t{raw['txn']}",
        "external_subscription_id": raw["sub"],
        "code": raw["code"],
        "timestamp": str(Decimal(int(moment.timestamp() * 10**6)) / 10**6),
        "properties": properties,
    }
    if raw["precise"] is not None:
        body["precise_total_amount_cents"] = str(Decimal(raw["precise"]) / 10)
    return body


CASES: list[dict[str, Any]] = [
    {},
    {"filters": [("eu", {"region": ["eu"]}), ("eu_gold", {"region": ["eu"], "tier": ["gold"]})]},
    {"grouped_by": ["tier"]},
    {"grouped_by": ["region", "tier"]},
    {"filters": [("all", {"region": ["__ALL_FILTER_VALUES__"]})], "grouped_by": ["tier"]},
    {"with_event_values": True},
]
WINDOWS = [
    (MARCH + timedelta(hours=5, seconds=7), APRIL - timedelta(minutes=3)),
    (APRIL, APRIL + timedelta(days=30)),
]


@override_settings(CLICKHOUSE_URL=CLICKHOUSE_URL)
@settings(
    max_examples=int(os.environ.get("CLICKHOUSE_PROPERTY_EXAMPLES", "8")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    # Each example ingests into two stores and aggregates hundreds of times: shrinking would take
    # minutes; the failing example is printed as generated.
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
@given(
    stream=events_strategy,
    cuts=st.lists(st.integers(1, 15), min_size=1, max_size=8),
    retry=st.booleans(),
    failed=st.booleans(),
    settle=st.booleans(),
)
def test_clickhouse_store_gives_the_postgres_store_results(stream, cuts, retry, failed, settle):
    """`failed`: the first batch reached ClickHouse once under a transaction that then rolled back
    (other values), before the client sent it again; `settle`: the settle job ran (margin 0) before
    the reads, so that transaction is read from the orphans rather than asked of PostgreSQL."""
    postgres, clickhouse = organization_on("postgres"), organization_on("clickhouse")
    payloads = [payload(raw) for raw in stream]
    batches, index = [], 0
    for size in cuts * (len(payloads) // max(1, sum(cuts)) + 1):
        if index >= len(payloads):
            break
        batches.append(payloads[index : index + size])
        index += size
    if retry:
        batches.append(batches[0])  # a whole batch sent again (a client retry)
    for number, batch in enumerate(batches):
        ingested = services.events_ingest(postgres, batch)
        if failed and number == 0:
            write_under_rolled_back_transaction(clickhouse, ingested.events)
        assert answer(ingested) == answer(services.events_ingest(clickhouse, batch))
    assert not Event.objects.filter(organization=clickhouse).exists()
    if settle:
        state.settle(ch.client(write=True), margin=timedelta(0))
    for code in METRICS:
        pg_metric, ch_metric = organization_metric(postgres, code), organization_metric(clickhouse, code)
        for sub in ("s1",):  # s2's events are in the same tables: they must not count for s1
            for start, end in WINDOWS:
                for case in CASES:
                    kwargs: dict[str, Any] = {
                        "external_subscription_id": sub,
                        "from_datetime": start,
                        "to_datetime": end,
                        "subscription_started_at": MARCH - timedelta(days=1),
                        "charges_period_days": 31,
                        **case,
                    }
                    expected = aggregate(postgres, metric=pg_metric, **kwargs)
                    got = aggregate(clickhouse, metric=ch_metric, **kwargs)
                    assert got.source == "clickhouse"
                    values = bool(case.get("with_event_values"))
                    assert usage(got, with_event_values=values) == usage(expected, with_event_values=values), (
                        code,
                        sub,
                        start,
                        end,
                        case,
                    )


# --- the migration of an existing organization -------------------------------------------------


@override_settings(CLICKHOUSE_URL=CLICKHOUSE_URL)
def test_migration_copies_switches_and_catches_the_stragglers():
    from django.core.management import call_command

    from metering.clickhouse import migrate

    organization = organization_on("postgres")
    metric = organization_metric(organization, "sum")
    services.events_ingest(organization, [event(f"old{i}", v=str(i), at=MARCH + timedelta(hours=i)) for i in range(30)])
    kwargs: dict[str, Any] = {
        "external_subscription_id": "s1",
        "metric": metric,
        "from_datetime": MARCH,
        "to_datetime": APRIL,
    }
    before = aggregate(organization, **kwargs)
    assert before.source != "clickhouse"
    later = lambda: timezone.now() + timedelta(hours=1)  # noqa: E731 - the backfill's settle delay has passed
    stale = Organization.objects.get(id=organization.id)  # a process that read it before the switch
    # Interrupted after the switch: the settle delay has not passed.
    with pytest.raises(migrate.NotReady):
        migrate.events_store_migrate(organization, batch_size=7, settle_seconds=3600, wait=False, now=later)
    organization.refresh_from_db()
    assert organization.events_store == "clickhouse"
    migration = migrate.migration_of(organization)
    assert migration is not None and migration.status == "switched"
    assert aggregate(organization, **kwargs).units == before.units
    # That process stores one more event in PostgreSQL (and the outbox) after the switch.
    assert answer(services.events_ingest(stale, [event("straggler", v="100")])) == (["straggler"], [])
    done = migrate.events_store_migrate(organization, settle_seconds=0, now=later)
    assert (done.status, done.keys_copied) == ("complete", 31)
    assert EventKey.objects.filter(organization_id=organization.id).count() == 31
    after = aggregate(organization, **kwargs)
    assert (after.source, after.units, after.events_count) == ("clickhouse", before.units + 100, 31)
    # Late duplicates of events stored before the migration are duplicates; new events count.
    again = services.events_ingest(organization, [event("old3", v="999"), event("straggler"), event("new", v="1")])
    assert answer(again) == (["new"], ["old3", "straggler"])
    assert Event.objects.filter(organization=organization, transaction_id="new").count() == 0
    assert aggregate(organization, **kwargs).units == before.units + 101
    out = StringIO()
    call_command("events_store_migrate", "--organization", str(organization.id), stdout=out)
    assert "complete, store clickhouse" in out.getvalue()
    call_command("events_store_migrate", "--status", stdout=out)
    assert f"({organization.id}): clickhouse; migration complete" in out.getvalue()


@override_settings(CLICKHOUSE_URL=CLICKHOUSE_URL)
def test_migration_waits_for_the_backfill_to_be_verified():
    from metering.clickhouse import migrate

    organization = organization_on("postgres")
    services.events_ingest(organization, [event("a")])
    with pytest.raises(migrate.NotReady, match="compared from"):
        migrate.events_store_migrate(organization, settle_seconds=0)
    organization.refresh_from_db()
    assert organization.events_store == "postgres"
    migration = migrate.migration_of(organization)
    assert migration is not None and migration.status == "copying"


# --- the events API ----------------------------------------------------------------------------


@override_settings(CLICKHOUSE_URL=CLICKHOUSE_URL)
def test_events_api_reads_clickhouse(tenant, other_tenant):
    organization = tenant.organization
    Organization.objects.filter(id=organization.id).update(events_store="clickhouse")
    make_metric(organization, "sum", "sum_agg", field_name="v")
    api = tenant.client
    batch = [event("a", v="1.5"), event("b", sub="s2", v="2", at=MARCH + timedelta(days=1), region="eu")]
    assert api.post("/api/v1/events/batch", {"events": batch}, format="json").status_code == 200
    single = api.post("/api/v1/events", {"event": event("c", at=MARCH + timedelta(days=2))}, format="json")
    assert single.status_code == 200, single.json()
    duplicate = api.post("/api/v1/events", {"event": event("c")}, format="json")
    assert duplicate.status_code == 422
    assert not Event.objects.filter(organization=organization).exists()

    found = api.get("/api/v1/events/b").json()["event"]
    assert (found["external_subscription_id"], found["code"], found["properties"]) == (
        "s2",
        "sum",
        {"v": "2", "user": "u1", "region": "eu"},
    )
    assert found["timestamp"] == "2024-03-02T00:00:00.000Z"
    assert found["errors"] == []
    assert api.get("/api/v1/events/c").json()["event"]["lago_id"] == single.json()["event"]["lago_id"]
    assert api.get("/api/v1/events/nope").status_code == 404
    assert other_tenant.client.get("/api/v1/events/a").status_code == 404

    listed = api.get("/api/v1/events", {"per_page": 2}).json()
    assert [e["transaction_id"] for e in listed["events"]] == ["c", "b"]
    assert (listed["meta"]["total_count"], listed["meta"]["next_page"]) == (3, 2)
    assert [
        e["transaction_id"] for e in api.get("/api/v1/events", {"external_subscription_id": "s1"}).json()["events"]
    ] == ["c", "a"]
    assert other_tenant.client.get("/api/v1/events").json()["events"] == []


def test_clickhouse_down_refuses_ingestion_with_503_and_keeps_no_key(tenant):
    organization = tenant.organization
    Organization.objects.filter(id=organization.id).update(events_store="clickhouse")
    make_metric(organization, "sum", "sum_agg", field_name="v")
    with override_settings(CLICKHOUSE_URL="clickhouse://default@127.0.0.1:1/bxb_down"):
        response = tenant.client.post("/api/v1/events/batch", {"events": [event("a")]}, format="json")
        assert response.status_code == 503
        assert response.json()["code"] == "events_store_unavailable"
        assert response["Retry-After"]
    assert not EventKey.objects.filter(organization_id=organization.id).exists()
    with override_settings(CLICKHOUSE_URL=CLICKHOUSE_URL):
        retried = tenant.client.post("/api/v1/events/batch", {"events": [event("a")]}, format="json")
        assert retried.status_code == 200
        assert [e["transaction_id"] for e in retried.json()["events"]] == ["a"]


@override_settings(CLICKHOUSE_URL="clickhouse://default@127.0.0.1:1/bxb_down")
def test_clickhouse_down_fails_usage_reads_of_its_organizations_with_503():
    from billing_project.core.errors import UnavailableFailure

    organization = organization_on("clickhouse")
    with pytest.raises(UnavailableFailure):
        aggregate(
            organization,
            external_subscription_id="s1",
            metric=organization_metric(organization, "sum"),
            from_datetime=MARCH,
            to_datetime=APRIL,
        )
