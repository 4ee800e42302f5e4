"""Aggregation benchmark: one subscription with 1M events in its month, in a table of 10M events.

    .venv/bin/python bench/aggregation.py [--database postgres://postgres@127.0.0.1:5432/bxb_bench]
                                          [--total 10000000] [--target 1000000] [--runs 30]
                                          [--clickhouse]   (with CLICKHOUSE_URL set)
                                          [--clickhouse-store]  (the same data set with ClickHouse as
                                                                 the store of record, side by side)

The data set is generated once with SQL (`INSERT ... SELECT generate_series`, in chunks) for an
organization named "Bench aggregation <total>/<target>", and its hourly rollups are built from the
raw events with the same arithmetic as `rebuild_usage_rollups`, and the target subscription's
weighted-sum and unique-count state (`value_time_sum`, unique-count links) as a rebuild computes
it (also added to a data set generated before that state existed). Later runs reuse it.

Then, for each aggregation type, `metering.aggregation.aggregate()` answers the month
[2024-03-01, 2024-04-01) for the target subscription; p50/p99 over `--runs` calls (`--raw-runs`
for a type read from raw events), and the CPU time per query of this process and of its
PostgreSQL backend (from /proc). A second window with unaligned edges exercises rollups + raw edges.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import DEFAULT_DB, backend_cpu, clickhouse_pids, percentile, setup_django

CODE = "bench_agg"
MONTH_START = datetime(2024, 3, 1, tzinfo=UTC)
MONTH_END = datetime(2024, 4, 1, tzinfo=UTC)
SECONDS = int((MONTH_END - MONTH_START).total_seconds())
OTHER_SUBSCRIPTIONS = 999


def generate(total: int, target: int) -> Any:

    from django.db import transaction

    from customers.models import Organization
    from customers.services import organization_create
    from metering.models import UsageRollup

    name = f"Bench aggregation {total}/{target}"
    organization = Organization.objects.filter(name=name).first()
    if organization is not None and UsageRollup.objects.filter(organization=organization).exists():
        print(f"reusing the data set of {name!r}")
        _state(organization)
        return organization
    with transaction.atomic():
        if organization is None:
            organization, _ = organization_create(name, timezone_name="UTC")
        _fill(organization, total, target)
    _state(organization)
    return organization


def _state(organization: Any) -> None:
    """The incremental state of weighted sums (`value_time_sum`) and unique counts (links and
    counts) of the target subscription, when missing (data sets generated before it existed), as
    `rebuild_usage_rollups` computes it."""
    from django.db import connection, transaction

    from metering.models import UniqueCountLink
    from metering.store.postgres import PostgresEventStore

    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE metering_usagerollup r SET value_time_sum = x.t FROM ("
            "SELECT date_trunc('hour', timestamp AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS h, "
            "coalesce(sum(value * extract(epoch FROM timestamp)), 0) AS t FROM metering_event "
            "WHERE organization_id = %s AND external_subscription_id = 'sub_target' AND code = %s GROUP BY 1) AS x "
            "WHERE r.organization_id = %s AND r.external_subscription_id = 'sub_target' AND r.code = %s "
            "AND r.hour = x.h AND r.value_time_sum IS NULL",
            [organization.id, CODE, organization.id, CODE],
        )
        filled = cursor.rowcount
        linked = UniqueCountLink.objects.filter(organization=organization, external_subscription_id="sub_target")
        links = 0
        if not linked.exists():
            links = PostgresEventStore().unique_state_rebuild(organization.id, {CODE: "user"}, "sub_target")
        cursor.execute("ANALYZE metering_uniquecountlink")
        cursor.execute("ANALYZE metering_uniquecountrollup")
    if filled or links:
        print(
            f"state: {filled:,} rollups given value_time_sum, {links:,} unique-count links ({time.perf_counter() - started:.0f} s)"
        )


def _fill(organization: object, total: int, target: int) -> None:
    from django.db import connection

    started = time.perf_counter()
    chunk = 1_000_000
    # The target subscription: `target` events spread evenly over March 2024.
    # The others: `total - target` events over 999 subscriptions, same month.
    plans = [("sub_target", target, 0)]
    plans.append(("other", total - target, 1))
    with connection.cursor() as cursor:
        for kind, count, other in plans:
            for offset in range(0, count, chunk):
                n = min(chunk, count - offset)
                sub_expr = "'sub_target'" if not other else f"'sub_' || ((g %% {OTHER_SUBSCRIPTIONS}) + 1)"
                cursor.execute(
                    "INSERT INTO metering_event (id, organization_id, transaction_id, external_subscription_id, "
                    "external_customer_id, code, timestamp, properties, value, created_at, updated_at) "
                    f"SELECT gen_random_uuid(), %s, '{kind}_' || g, {sub_expr}, '', %s, "
                    f"%s::timestamptz + make_interval(secs => (g::bigint * {SECONDS} / %s)), "
                    "jsonb_build_object('n', g %% 100, 'user', 'u' || (g %% 5000), "
                    "'operation_type', CASE WHEN g %% 7 = 0 THEN 'remove' ELSE 'add' END), "
                    "(g %% 100)::numeric, now(), now() "
                    "FROM generate_series(%s, %s) AS g",
                    [organization.id, CODE, MONTH_START, count, offset, offset + n - 1],
                )
                print(f"  {kind}: {offset + n:,}/{count:,} events ({time.perf_counter() - started:.0f} s)", flush=True)
        # Hourly rollups of the same rows (no filter keys: dimensions {}), as a rebuild computes them.
        cursor.execute(
            "INSERT INTO metering_usagerollup (id, organization_id, external_subscription_id, code, hour, "
            "dimensions_key, dimensions, events_count, value_sum, value_max, precise_sum, value_time_sum, "
            "created_at, updated_at) "
            "SELECT gen_random_uuid(), organization_id, external_subscription_id, code, "
            "date_trunc('hour', timestamp AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', '{}', '{}'::jsonb, count(*), "
            "coalesce(sum(value), 0), max(value), coalesce(sum(precise_total_amount_cents), 0), "
            "coalesce(sum(value * extract(epoch FROM timestamp)), 0), now(), now() "
            "FROM metering_event WHERE organization_id = %s "
            "GROUP BY organization_id, external_subscription_id, code, 5",
            [organization.id],
        )
        cursor.execute("ANALYZE metering_event")
        cursor.execute("ANALYZE metering_usagerollup")
    print(f"generated {total:,} events and their rollups in {time.perf_counter() - started:.0f} s")


def copy_to_clickhouse(organization: Any) -> None:
    """The target subscription's events copied to ClickHouse (CLICKHOUSE_URL) once, 100,000 rows
    per insert, as the store writes them (no dimensions: the data set has no filter keys)."""
    from django.db import connection

    from metering.clickhouse.store import TABLE, _micros, _property_arrays, client

    ch = client(write=True)
    where = "organization_id = %(org)s AND external_subscription_id = 'sub_target' AND code = %(code)s"
    params = {"org": str(organization.id), "code": CODE}
    if ch.execute(f"SELECT count() FROM {TABLE} WHERE {where}", params)[0][0]:
        return
    started = time.perf_counter()
    rows: list[dict[str, Any]] = []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT transaction_id, timestamp, created_at, value, precise_total_amount_cents, properties "
            "FROM metering_event WHERE organization_id = %s AND external_subscription_id = 'sub_target' AND code = %s",
            [organization.id, CODE],
        )
        for transaction_id, timestamp, created_at, value, precise, properties in cursor:
            keys, values = _property_arrays(json.loads(properties) if isinstance(properties, str) else properties)
            rows.append(
                {
                    "organization_id": str(organization.id),
                    "external_subscription_id": "sub_target",
                    "code": CODE,
                    "transaction_id": transaction_id,
                    "timestamp": timestamp.replace(microsecond=0),
                    "ts_us": _micros(timestamp),
                    "created_us": _micros(created_at),
                    "value": value,
                    "precise": precise,
                    "dims_key": "{}",
                    "prop_keys": keys,
                    "prop_values": values,
                    "version": 1,
                }
            )
            if len(rows) == 100_000:
                ch.execute(f"INSERT INTO {TABLE} VALUES", rows)
                rows = []
    if rows:
        ch.execute(f"INSERT INTO {TABLE} VALUES", rows)
    ch.execute(f"OPTIMIZE TABLE {TABLE} FINAL")
    print(f"copied the target subscription's events to ClickHouse in {time.perf_counter() - started:.0f} s")


def generate_in_clickhouse(total: int, target: int, chunk: int = 1_000_000) -> Any:
    """The same data set in an organization whose store of record is ClickHouse (`--clickhouse-store`):
    the same events, generated by ClickHouse itself (`INSERT ... SELECT FROM numbers()`, `chunk` rows
    per insert) with the formulas of `_fill`, so that both organizations give the same units. The
    inserts pass through the same materialized views as ingestion's (the pre-aggregated states,
    `metering.clickhouse.state`), under one committed PostgreSQL transaction id; then the settle job
    runs, as the beat would a minute later. Prints the ClickHouse server's CPU per event."""
    from django.db import connection

    from customers.models import Organization
    from customers.services import organization_create
    from metering.clickhouse import state
    from metering.clickhouse.store import COLUMNS, TABLE, client

    name = f"Bench aggregation CH store {total}/{target}"
    organization = Organization.objects.filter(name=name).first()
    if organization is None:
        organization, _ = organization_create(name, timezone_name="UTC")
        Organization.objects.filter(id=organization.id).update(events_store="clickhouse")
        organization.refresh_from_db()
    ch = client(write=True)
    org = str(organization.id)
    [(target_rows, other_rows, xid)] = ch.execute(
        f"SELECT countIf(external_subscription_id = 'sub_target'), countIf(external_subscription_id != 'sub_target'), "
        f"any(xid) FROM {TABLE} WHERE organization_id = %(org)s",
        {"org": org},
    )
    if target_rows + other_rows >= total:
        print(f"reusing the ClickHouse data set of {name!r}")
        return organization
    done = {"sub_target": target_rows, "other": other_rows}  # a run cut short resumes after its last insert
    if not xid:
        with connection.cursor() as cursor:
            cursor.execute("SELECT txid_current()")  # committed with the statement (autocommit)
            (xid,) = cursor.fetchone()
    server = clickhouse_server_cpu()
    started, server_before = time.perf_counter(), server()
    created = int(time.time() * 1_000_000)
    month_us = int(MONTH_START.timestamp()) * 1_000_000
    for kind, count, other in [("sub_target", target, 0), ("other", total - target, 1)]:
        sub = "'sub_target'" if not other else f"concat('sub_', toString((g %% {OTHER_SUBSCRIPTIONS}) + 1))"
        if done[kind] % chunk and done[kind] < count:
            raise SystemExit(f"{kind}: {done[kind]:,} rows, not a whole number of inserts of {chunk:,}: drop them")
        for offset in range(done[kind], count, chunk):
            n = min(chunk, count - offset)
            ch.execute(
                f"INSERT INTO {TABLE} ({COLUMNS}) SELECT %(org)s, {sub}, %(code)s, concat(%(kind)s, '_', toString(g)), "
                "toDateTime(intDiv(ts, 1000000)), ts, %(created)s, toDecimal128(g %% 100, 12), NULL, '{}', "
                "['n', 'user', 'operation_type'], [toString(g %% 100), concat('u', toString(g %% 5000)), "
                "if(g %% 7 = 0, 'remove', 'add')], 1, '', '', '', '', '', %(xid)s, 'user' FROM (SELECT number + %(offset)s AS g, "
                f"%(month)s + intDiv((number + %(offset)s) * {SECONDS}, %(count)s) * 1000000 AS ts FROM numbers({n}))",
                {
                    "org": org,
                    "code": CODE,
                    "kind": kind,
                    "created": created,
                    "offset": offset,
                    "month": month_us,
                    "count": count,
                    "xid": int(xid),
                },
            )
            print(
                f"  ClickHouse {kind}: {offset + n:,}/{count:,} events ({time.perf_counter() - started:.0f} s)",
                flush=True,
            )
    elapsed, server_cpu = time.perf_counter() - started, server() - server_before
    inserted = max(1, total - target_rows - other_rows)
    print(
        f"generated {inserted:,} events in ClickHouse in {elapsed:.0f} s ({inserted / elapsed:,.0f} events/s), "
        f"ClickHouse server CPU {server_cpu:.0f} s = {server_cpu * 1e6 / inserted:.2f} µs per event (states included)"
    )
    time.sleep(1.1)
    settled = state.settle(ch, margin=timedelta(0))
    print(f"settled {settled.inserts} insert records")
    return organization


def clickhouse_sizes() -> None:
    """Rows and compressed bytes of the events table and the states in ClickHouse."""
    from metering.clickhouse import state
    from metering.clickhouse.store import TABLE, client

    for table, rows, size in client(write=True).execute(
        "SELECT table, sum(rows), sum(bytes) FROM system.parts WHERE active AND database = currentDatabase() "
        "AND table IN %(t)s GROUP BY table ORDER BY table",
        {"t": (TABLE, state.STATES, state.BATCHES, state.COPIED)},
    ):
        print(f"  ClickHouse {table}: {rows:,} rows, {size / 2**20:,.1f} MiB on disk")


def clickhouse_server_cpu() -> Any:
    """CPU seconds of the local clickhouse-server process (0 when not found): a shared server, so
    other users' queries count too."""
    pids = clickhouse_pids()

    def read() -> float:
        total = 0.0
        for pid in pids:
            try:
                with open(f"/proc/{pid}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            except OSError:
                continue
        return total

    return read


def measure(
    organization: Any, aggregation_type: str, runs: int, start: datetime, end: datetime, store: str | None = None
) -> dict:
    from metering.aggregation import MetricSpec, aggregate

    spec = MetricSpec(
        code=CODE,
        aggregation_type=aggregation_type,
        field_name=None
        if aggregation_type == "count_agg"
        else ("user" if aggregation_type == "unique_count_agg" else "n"),
    )
    timings, result = [], None
    backend = clickhouse_server_cpu() if organization.events_store == "clickhouse" else backend_cpu()
    cpu_before, backend_before = time.process_time(), backend()
    for _ in range(runs):
        began = time.perf_counter()
        result = aggregate(
            organization,
            external_subscription_id="sub_target",
            metric=spec,
            from_datetime=start,
            to_datetime=end,
            store=store,
        )
        timings.append(time.perf_counter() - began)
    assert result is not None
    return {
        "cpu_ms": (time.process_time() - cpu_before) * 1000 / runs,
        "db_cpu_ms": (backend() - backend_before) * 1000 / runs,
        "units": result.units,
        "events": result.events_count,
        "source": result.source,
        "p50_ms": percentile(timings, 50) * 1000,
        "p99_ms": percentile(timings, 99) * 1000,
        "runs": runs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB))
    parser.add_argument("--total", type=int, default=10_000_000)
    parser.add_argument("--target", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--raw-runs", type=int, default=3, help="runs of a type answered from raw events")
    parser.add_argument(
        "--clickhouse",
        action="store_true",
        help="also measure ClickHouse (CLICKHOUSE_URL; the target subscription's events are copied there once)",
    )
    parser.add_argument(
        "--clickhouse-store",
        action="store_true",
        help="also the same data set in an organization whose store of record is ClickHouse (CLICKHOUSE_URL)",
    )
    parser.add_argument(
        "--clickhouse-only",
        action="store_true",
        help="with --clickhouse-store: only the ClickHouse organization (a volume PostgreSQL is not given)",
    )
    parser.add_argument("--chunk", type=int, default=1_000_000, help="rows per ClickHouse INSERT ... SELECT")
    parser.add_argument(
        "--types",
        default="count_agg,sum_agg,max_agg,latest_agg,unique_count_agg,weighted_sum_agg",
        help="comma-separated aggregation types to measure",
    )
    args = parser.parse_args()
    setup_django(args.database)
    from django.db import connection

    organizations: list[Any] = []
    stores: list[str | None] = []
    if not args.clickhouse_only:
        organization = generate(args.total, args.target)
        stores.append(None)
        organizations.append(organization)
        if args.clickhouse:
            copy_to_clickhouse(organization)
            stores.append("clickhouse")
    if args.clickhouse_store:
        organizations.append(generate_in_clickhouse(args.total, args.target, args.chunk))
        clickhouse_sizes()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM metering_event")
        table_rows = cursor.fetchone()[0]
    print(
        f"bench/aggregation.py  database={args.database}  metering_event rows={table_rows:,}  "
        f"target subscription: {args.target:,} events in March 2024"
    )
    windows = [
        ("month [03-01, 04-01)", MONTH_START, MONTH_END),
        (
            "unaligned [03-01 00:17:05, 03-31 22:43:10)",
            datetime(2024, 3, 1, 0, 17, 5, tzinfo=UTC),
            datetime(2024, 3, 31, 22, 43, 10, tzinfo=UTC),
        ),
    ]
    cases = [(w, st, organizations[0]) for st in stores for w in windows]
    cases += [(w, None, other) for other in organizations[len(stores[:1]) :] for w in windows]
    for (label, start, end), store, org in cases:
        on = " (ClickHouse as the store of record)" if org.events_store == "clickhouse" else ""
        print(f"window {label}" + (f" (store={store})" if store else "") + on)
        for aggregation_type in args.types.split(","):
            # One run first (a warm-up) tells where the type is answered from: `--raw-runs` bounds
            # the runs of unique counts and weighted sums read from raw events (before their state).
            source = measure(org, aggregation_type, 1, start, end, store)["source"]
            raw = aggregation_type in ("unique_count_agg", "weighted_sum_agg") and source in ("sql", "events")
            runs = args.raw_runs if raw else args.runs
            m = measure(org, aggregation_type, runs, start, end, store)
            server = "ClickHouse server" if org.events_store == "clickhouse" else "PostgreSQL"
            print(
                f"  {aggregation_type:>17}: p50 {m['p50_ms']:>9.1f} ms  p99 {m['p99_ms']:>9.1f} ms  "
                f"CPU {m['cpu_ms']:.1f} + {m['db_cpu_ms']:.1f} ms (bench + {server}, per query)  "
                f"({m['runs']} runs, from {m['source']})  units {m['units']}  events {m['events']:,}"
            )
    load = os.getloadavg()
    print(f"load average: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (2 cores shared with other work)")


if __name__ == "__main__":
    main()
