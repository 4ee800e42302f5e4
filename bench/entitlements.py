"""Entitlement reads under load: the check an application makes before serving each request of its own.

    .venv/bin/python bench/entitlements.py                       # 500 req/s for 60 s: the target run
    .venv/bin/python bench/entitlements.py --rate 500 --duration 60 \
        [--database postgres://postgres@127.0.0.1:5432/bxb_bench_entitlements] [--port 18793] \
        [--workers 2] [--worker-class sync] [--clients 8] [--subscriptions 200] [--events 24] [--keep]
    .venv/bin/python bench/entitlements.py --in-process 500 [--profile 40] [--sql]   # CPU and statements

Seeds its own database: an organization with three features (`seats`: two integers and a boolean;
`sso`: a select; `api`: an integer usage limit on a count metric), a plan granting them,
`--subscriptions` active subscriptions (one in four with an override), each with `--events` events
of the metered action this month (so usage reads hourly rollups, as in production). Starts gunicorn
as production runs it (`gunicorn.conf.py`: 2 sync workers, PostgreSQL), then drives it from
`--clients` processes at `--rate` requests/s in total, open loop (each client keeps its own
schedule; a slow server shows as latency and as requests not sent), one keep-alive connection and
one request in flight per client, half of the requests on each route:

    GET /api/v1/subscriptions/{id}/entitlements/api   one feature, with its usage against the limit
    GET /api/v1/subscriptions/{id}/entitlements       every feature, usage included

The load generator runs on the server's own 2 cores, where a product's application would not: its
processes take CPU (and preempt the workers) that a real deployment's server keeps. The default is
8 client processes: at 500 req/s each sends one request every 16 ms, far more than the 2 workers
can hold in flight, so the schedule is kept (requests not sent are printed) and queueing still
counts from the scheduled instant, while the generator costs about 0.37 CPU-ms per request against
0.55 with 32 processes (2026-12-07, bench/RESULTS.md "Entitlement reads"). `--clients 32` gives the
earlier, heavier generator back.

Prints p50/p95/p99 per route (from the scheduled instant, so queueing counts), errors, the workers'
CPU-ms per request, the load average, and whether the target holds: p99 < 5 ms for both routes at
the offered rate, every request sent, no error. The database is dropped at the end (`--keep` keeps it).

`--in-process N` starts no server: it calls Django's WSGI handler directly, as a gunicorn worker
does, N times per route (after a warm-up that fills the worker's caches), and prints per route the
statements of one request, the CPU-ms per request of this process and of its PostgreSQL backend
(`bench.common.measure_routes`): the figures that a shared machine does not distort much.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common
from bench.common import (
    BXB_WORKER_CLASS,
    Gunicorn,
    children,
    cpu_seconds,
    load_average,
    percentile,
    run_on_database,
    start_clients,
)

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/bxb_bench_entitlements"
ROUTES = ("feature", "list")
TARGET_P99_MS = 5.0


def seed(subscriptions: int, events: int) -> str:
    from datetime import UTC, datetime, timedelta

    from django.db import connection
    from django.utils import timezone

    from catalog.models import BillableMetric, Plan
    from customers.inputs import CustomerUpsert
    from customers.services import api_key_create, customer_upsert, organization_create
    from entitlements import services
    from metering.services import events_ingest
    from subscriptions.models import Subscription

    organization, _ = organization_create(f"Entitlements bench {time.time():.0f}", timezone_name="UTC")
    _, raw_key = api_key_create(organization, name="bench")
    BillableMetric.objects.create(
        organization=organization, name="API calls", code="api_calls", aggregation_type="count_agg"
    )
    plan = Plan.objects.create(
        organization=organization, name="Startup", code="startup", interval="monthly", amount_currency="USD"
    )
    inputs = services.PrivilegeInput
    services.feature_create(
        organization,
        code="seats",
        name="Seats",
        privileges=[
            inputs("max", value_type="integer"),
            inputs("max_admins", value_type="integer"),
            inputs("root", value_type="boolean"),
        ],
    )
    services.feature_create(
        organization,
        code="sso",
        privileges=[inputs("provider", value_type="select", config={"select_options": ["google", "okta"]})],
    )
    services.feature_create(
        organization, code="api", privileges=[inputs("calls", value_type="integer", billable_metric_code="api_calls")]
    )
    services.plan_entitlements_update(
        organization,
        plan_code="startup",
        entitlements={
            "seats": {"max": 10, "max_admins": 2, "root": True},
            "sso": {"provider": "google"},
            "api": {"calls": 100000},
        },
        partial=False,
    )
    started = datetime(2020, 1, 1, tzinfo=UTC)
    for i in range(subscriptions):
        customer, _ = customer_upsert(organization, CustomerUpsert(external_id=f"cust_{i}", currency="USD"))
        Subscription.objects.create(
            organization=organization, customer=customer, plan=plan, external_id=f"sub_{i}", status="active",
            subscription_at=started, started_at=started,
        )  # fmt: skip
        if i % 4 == 0:
            services.subscription_entitlements_update(
                organization,
                external_id=f"sub_{i}",
                status=None,
                entitlements={"seats": {"max": 20}, "api": {"calls": 500}},
            )
    now = timezone.now()
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    span = max((now - month_start).total_seconds() - 60, 1)
    batch = []
    for i in range(subscriptions):
        for j in range(events):
            ts = month_start + timedelta(seconds=span * (j + 0.5) / events)
            batch.append({"transaction_id": f"seed_{i}_{j}", "code": "api_calls", "external_subscription_id": f"sub_{i}",
                          "timestamp": str(int(ts.timestamp()))})  # fmt: skip
            if len(batch) == 100:
                events_ingest(organization, batch)
                batch = []
    if batch:
        events_ingest(organization, batch)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return raw_key


def client_main(
    client_id: int, port: int, key: str, rate: float, duration: float, subs: int, start_at: float, out
) -> None:
    def next_request(rng: random.Random, _n: int) -> tuple[str, str, str, None]:
        route = rng.choice(ROUTES)
        n = rng.randrange(subs)
        return (
            route,
            "GET",
            f"/api/v1/subscriptions/sub_{n}/entitlements" + ("/api" if route == "feature" else ""),
            None,
        )

    def check(route: str, body: bytes) -> None:
        if route == "feature":
            _ = json.loads(body)["entitlement"]["privileges"][0]["usage"]["remaining"]

    out.put(
        common.open_loop(
            port,
            seed=client_id,
            rate=rate,
            duration=duration,
            start_at=start_at,
            headers={"Authorization": f"Bearer {key}"},
            next_request=next_request,
            check=check,
        )
    )


SCANNED = {  # what reads the table (the warm read, one statement, reads neither)
    "entitlements_entitlement": "one per full read",
    "catalog_billablemetric": "one per full read, one per expired entry's check",
}


def table_scans(database: str) -> dict[str, int]:
    """Scans so far of the tables in SCANNED, from PostgreSQL's counters: how many full reads and
    checks the workers made (the warm-up's figure is the full read's count: every worker once a key)."""
    import psycopg

    with psycopg.connect(database, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT relname, COALESCE(seq_scan, 0) + COALESCE(idx_scan, 0) FROM pg_stat_user_tables"
            " WHERE relname = ANY(%s)",
            [list(SCANNED)],
        ).fetchall()
    counted = {str(name): int(scans) for name, scans in rows}
    return {table: counted.get(table, 0) for table in SCANNED}


def warm_up(port: int, key: str, subscriptions: int, workers: int) -> None:
    """Every worker reads every key once, as a worker that has served a while has: a sync worker
    accepts one connection at a time and reads its request before it accepts another, so `workers`
    connections opened together, left idle until each is accepted, then used, are served by
    `workers` different workers. (One connection per request, as before, let a random worker answer:
    each worker missed about half of the keys and took the full read for them during the run.)"""
    for n in range(subscriptions):
        for suffix in ("", "/api"):
            conns = [http.client.HTTPConnection("127.0.0.1", port, timeout=30) for _ in range(workers)]
            for conn in conns:
                conn.connect()
            time.sleep(0.005)  # each idle worker accepts one of them
            for conn in conns:
                conn.request(
                    "GET",
                    f"/api/v1/subscriptions/sub_{n}/entitlements{suffix}",
                    headers={"Authorization": f"Bearer {key}"},
                )
            for conn in conns:
                response = conn.getresponse()
                response.read()
                assert response.status == 200, response.status
                conn.close()


def run(args: argparse.Namespace) -> bool:
    key = seed(args.subscriptions, args.events)
    print(
        f"seeded {args.subscriptions} subscriptions x {args.events} events, 3 features (1 usage limit); gunicorn "
        f"{args.workers} {'bxb sync' if args.worker_class == BXB_WORKER_CLASS else args.worker_class} workers; {args.rate:.0f} req/s offered for {args.duration:.0f}s by {args.clients} clients"
    )
    with Gunicorn(args.database, args.port, workers=args.workers, worker_class=args.worker_class) as server:
        assert server.process is not None
        from django.db import connections

        connections.close_all()  # the seed's backend exits and reports its counters
        time.sleep(1)
        scans = [table_scans(args.database)]
        warm_up(args.port, key, args.subscriptions, args.workers if args.warm_up == "every-worker" else 1)
        time.sleep(11)  # an idle PostgreSQL backend reports its table counters within 10 s
        scans.append(table_scans(args.database))
        workers = children(server.process.pid)
        cpu_start = sum(cpu_seconds(pid) or 0.0 for pid in workers)
        load_start = load_average()
        queue, processes, start_at = start_clients(
            client_main, args.clients, args.port, key, args.rate, args.duration, args.subscriptions
        )
        results, unsent, client_cpu, connects = common.gather_clients(queue, processes)
        elapsed = time.time() - start_at
        cpu_used = sum(cpu_seconds(pid) or 0.0 for pid in workers) - cpu_start
        load_end = load_average()
    time.sleep(1)
    scans.append(table_scans(args.database))  # the workers' backends closed: their counters reported
    for table in SCANNED:
        print(
            f"scans of {table}: warm-up {scans[1][table] - scans[0][table]}, run {scans[2][table] - scans[1][table]}"
            f" ({SCANNED[table]})"
        )
    errors = sum(1 for r in results if r[3] != 200)
    print(f"sent {len(results)} ({len(results) / elapsed:.1f} req/s), not sent {unsent}, errors {errors}")
    ok = unsent == 0 and errors == 0
    for route in ROUTES:
        scheduled = [r[2] for r in results if r[0] == route]
        service = [r[1] for r in results if r[0] == route]
        p99 = percentile(scheduled, 99)
        ok = ok and p99 < TARGET_P99_MS
        print(
            f"{route:8s} n={len(scheduled):6d}  p50 {percentile(scheduled, 50):6.2f}  p95 {percentile(scheduled, 95):6.2f}  "
            f"p99 {p99:6.2f} ms   (service time p99 {percentile(service, 99):.2f} ms)"
        )
    slow = [r[4] for r in results if r[1] > TARGET_P99_MS]
    tenths = [0] * 10
    for sent_at in slow:
        tenths[min(9, int(sent_at * 10 / args.duration))] += 1
    print(f"service time > {TARGET_P99_MS:g} ms: {len(slow)} requests; per tenth of the run: {tenths}")
    print(
        f"workers CPU {cpu_used * 1000 / max(len(results), 1):.2f} ms/request; load generator {client_cpu:.1f} CPU-s "
        f"({client_cpu * 1000 / max(len(results), 1):.2f} ms/request)"
    )
    # gunicorn's sync workers close the connection after each response: each request but the
    # first of a client opens a new one (its time is part of the latencies above).
    print(
        f"connections opened {len(connects)} (sync workers close each one), "
        f"connect p50 {percentile(connects, 50):.2f} / p99 {percentile(connects, 99):.2f} ms"
    )
    print(f"load average {load_start} -> {load_end}")
    print(f"target p99 < {TARGET_P99_MS:g} ms on both routes at {args.rate:.0f} req/s: {'MET' if ok else 'NOT MET'}")
    return ok


def run_in_process(args: argparse.Namespace) -> bool:
    from django.core.handlers.wsgi import WSGIHandler

    from bench.common import measure_routes, wsgi_request

    key = seed(args.subscriptions, args.events)
    application = WSGIHandler()
    rng = random.Random(1)

    def call(route: str) -> int:
        path = f"/api/v1/subscriptions/sub_{rng.randrange(args.subscriptions)}/entitlements"
        status, body = wsgi_request(application, "GET", path + ("/api" if route == "feature" else ""), key)
        if status != 200:
            raise SystemExit(f"{route}: {status} {body[:300]!r}")
        return len(body)

    for n in range(args.subscriptions):  # every subscription resolved once, as in the served run's warm-up
        for suffix in ("", "/api"):
            assert (
                wsgi_request(application, "GET", f"/api/v1/subscriptions/sub_{n}/entitlements{suffix}", key)[0] == 200
            )
    measure_routes(call, ROUTES, iterations=args.in_process, warmup=10, profile=args.profile, sql=args.sql,
                   digits=3, profile_timer=time.process_time)  # fmt: skip
    print(f"(load average {load_average()}; cProfile inflates CPU when --profile)")
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default=DEFAULT_DB)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--port", type=int, default=18793)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--worker-class",
        default=BXB_WORKER_CLASS,
        help="gunicorn worker class (default production's; sync: gunicorn's)",
    )
    parser.add_argument("--subscriptions", type=int, default=200)
    parser.add_argument("--events", type=int, default=24)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument(
        "--warm-up",
        choices=("every-worker", "any-worker"),
        default="every-worker",
        help="every worker reads every key once before the run (default), or each key is read once by "
        "whichever worker accepts (the bench before 2026-12-07 15:40 UTC)",
    )
    parser.add_argument(
        "--in-process", type=int, default=0, metavar="N", help="no server: N calls per route in process"
    )
    parser.add_argument("--profile", type=int, default=0, help="with --in-process: the N costliest functions")
    parser.add_argument("--sql", action="store_true", help="with --in-process: the statements of one request")
    args = parser.parse_args()
    if args.in_process:
        os.environ.update(DEBUG="0", LOG_LEVEL="WARNING", RATE_LIMIT_REQUESTS_PER_MINUTE="0")
        os.environ.pop("REDIS_URL", None)
        os.environ.pop("CLICKHOUSE_URL", None)
    ok = run_on_database(args.database, lambda: (run_in_process if args.in_process else run)(args), keep=args.keep)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
