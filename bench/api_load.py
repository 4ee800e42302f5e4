"""API load and soak: a mixed workload against gunicorn on PostgreSQL, with its CPU accounting.

    .venv/bin/python bench/api_load.py                # 300 req/s for 300 s: the target run
    .venv/bin/python bench/api_load.py --duration 60 --rate 300 \
        [--database postgres://postgres@127.0.0.1:5432/bxb_bench_load] [--port 18791] \
        [--workers 2] [--worker-class sync] [--threads 4] [--clients 32] \
        [--customers 200] [--invoices 5000] [--redis redis://127.0.0.1:6379/13] [--binding server|client] [--keep]

Seeds its own database (an organization with a 20 % default tax, an API key, a sum metric, a
plan with a standard charge, `--customers` customers each with a running subscription and 24
events over the month so far, `--invoices` finalized invoices with an applied tax; then
ANALYZE), starts gunicorn as production runs it (`gunicorn.conf.py`: 2 sync workers; on an idle
2-CPU machine they served the mix with the lowest latency and CPU of every configuration tried,
see docs/operations.md), then drives it from `--clients` separate processes
at `--rate` requests/s in total (open loop: each client keeps its own schedule, so a slow server
shows up as latency and as requests not sent, not as a lower offered rate) for `--duration`
seconds. Each client has one keep-alive connection and one request in flight, so the clients
together hold at most `--clients` requests in flight: by Little's law 300 req/s at a 20 ms mean
response needs 6 on average, and with 8 clients (the default until 2026-11-21) each client was
busy 75 % of the time, fell behind its own schedule on every burst of slow responses and never
caught up (the "not sent" count and a "sched p95" of seconds), which measured the load generator
rather than the server. 32 clients (about 9 req/s each) keep each one busy under a fifth of the
time, as independent API clients would be. The mix:

    40% GET  /api/v1/customers/{id}/current_usage?external_subscription_id=...   (read)
    30% GET  /api/v1/invoices?external_customer_id=...&per_page=20              (read)
    20% POST /api/v1/customers                        (upsert; half new, half existing)
    10% POST /api/v1/events/batch                     (50 events, unique transaction ids)

Prints offered vs served rate, p50/p95/p99 per route, errors (non-2xx and transport errors),
CPU-ms per request of the gunicorn workers, of the bench database's PostgreSQL backends and of
the load generator itself, connections opened and their connect time, worker RSS at start,
middle and end, the load average, and whether the target is met: p95 < 50 ms for reads at the
offered rate, every request sent, zero errors. The database is dropped and the Redis db flushed
at the end (`--keep` keeps the database).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import sys
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    BXB_WORKER_CLASS,
    Gunicorn,
    Request,
    active_subscriptions,
    add_binding_option,
    apply_binding,
    children,
    cpu_seconds,
    gather_clients,
    load_average,
    monthly_plan,
    open_loop,
    percentile,
    run_on_database,
    start_clients,
)

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/bxb_bench_load"
DEFAULT_PORT = 18791
DEFAULT_WORKERS = 2  # gunicorn.conf.py's defaults (WEB_CONCURRENCY, sync workers)
# production's sync worker (bench.common.BXB_WORKER_CLASS): an idle worker accepts the next connection,
# so the load stays balanced; "sync" is gunicorn's own (it waits for each client to close first)
DEFAULT_WORKER_CLASS = BXB_WORKER_CLASS
DEFAULT_THREADS = 4  # only with --worker-class gthread
DEFAULT_CLIENTS = 32  # see the module's docstring: enough that the clients never fall behind
MIX = (("current_usage", 40), ("invoices_list", 30), ("customer_upsert", 20), ("events_batch", 10))
READS = {"current_usage", "invoices_list"}
BATCH = 50


def seed(customers: int, invoices: int, events_per_subscription: int = 24) -> str:
    """A fresh organization with its data; returns the raw API key.

    Besides the customers, subscriptions and invoices (each with an applied tax, as the billing run
    leaves them), every subscription gets `events_per_subscription` events spread over the current
    month so far, so current usage reads hourly rollups as it would in production.
    """
    from datetime import UTC, date, datetime, timedelta

    from catalog.models import BillableMetric, Charge, Tax
    from customers.entities import default_billing_entity
    from customers.models import Customer
    from customers.services import api_key_create, organization_create
    from invoicing.models import Invoice, InvoiceAppliedTax
    from metering.services import events_ingest

    organization, _ = organization_create(f"Load {time.time():.0f}", timezone_name="UTC")
    tax = Tax.objects.create(organization=organization, code="vat", name="VAT", rate="20", applied_to_organization=True)
    _, raw_key = api_key_create(organization, name="load")
    metric = BillableMetric.objects.create(
        organization=organization, name="calls", code="load_calls", aggregation_type="sum_agg", field_name="n"
    )
    plan = monthly_plan(organization, "load", 4900)
    Charge.objects.create(
        organization=organization,
        plan=plan,
        billable_metric=metric,
        code="calls",
        charge_model="standard",
        properties={"amount": "0.001"},
    )
    entity = default_billing_entity(organization)  # as the API writes customers (billing_entity_code)
    people = Customer.objects.bulk_create(
        [
            Customer(
                organization=organization,
                billing_entity=entity,
                external_id=f"cust_{i}",
                sequential_id=i + 1,
                name=f"Customer {i}",
                currency="USD",
            )
            for i in range(customers)
        ]
    )
    started = datetime(2024, 1, 1, tzinfo=UTC)
    active_subscriptions(organization, plan, people, started)
    type(organization).objects.filter(pk=organization.pk).update(customer_sequence=customers)
    today = date.today()
    Invoice.objects.bulk_create(
        [
            Invoice(
                organization=organization,
                customer=people[i % customers],
                status="finalized",
                currency="USD",
                number=f"LOAD-{i:06d}",
                issuing_date=today - timedelta(days=i % 365),
                payment_due_date=today - timedelta(days=i % 365),
                fees_amount_cents=4900,
                sub_total_excluding_taxes_amount_cents=4900,
                sub_total_including_taxes_amount_cents=4900,
                total_amount_cents=4900,
                finalized_at=datetime.now(UTC),
            )
            for i in range(invoices)
        ],
        batch_size=2000,
    )
    InvoiceAppliedTax.objects.bulk_create(
        [
            InvoiceAppliedTax(
                organization=organization,
                invoice=invoice,
                tax=tax,
                tax_code=tax.code,
                tax_name=tax.name,
                tax_rate=tax.rate,
                amount_cents=0,
                fees_amount_cents=4900,
                currency="USD",
            )
            for invoice in Invoice.objects.filter(organization=organization).only("id")
        ],
        batch_size=2000,
    )
    now = datetime.now(UTC)
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    span = max(1, int((now - month_start).total_seconds()))
    rng = random.Random(42)
    payloads = [
        {
            "transaction_id": f"seed_{i}_{j}",
            "external_subscription_id": f"sub_{i}",
            "code": "load_calls",
            "timestamp": int(month_start.timestamp()) + rng.randrange(span),
            "properties": {"n": rng.randrange(1, 100)},
        }
        for i in range(customers)
        for j in range(events_per_subscription)
    ]
    for start in range(0, len(payloads), 500):
        events_ingest(organization, payloads[start : start + 500])
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:  # statistics as autovacuum keeps them on a live database
            cursor.execute("ANALYZE")
    return raw_key


def _request(
    route: str, rng: random.Random, customers: int, client_id: int, counter: int
) -> tuple[str, str, bytes | None]:
    n = rng.randrange(customers)
    if route == "current_usage":
        return "GET", f"/api/v1/customers/cust_{n}/current_usage?external_subscription_id=sub_{n}", None
    if route == "invoices_list":
        return "GET", f"/api/v1/invoices?external_customer_id=cust_{n}&per_page=20", None
    if route == "customer_upsert":
        external_id = f"cust_{n}" if counter % 2 else f"load_{client_id}_{counter}"
        body = {"customer": {"external_id": external_id, "name": f"Upserted {counter}", "currency": "USD"}}
        return "POST", "/api/v1/customers", json.dumps(body).encode()
    now = int(time.time())
    events = [
        {
            "transaction_id": f"{client_id}_{counter}_{j}_{uuid.uuid4().hex[:6]}",
            "external_subscription_id": f"sub_{rng.randrange(customers)}",
            "code": "load_calls",
            "timestamp": now,
            "properties": {"n": rng.randrange(1, 100)},
        }
        for j in range(BATCH)
    ]
    return "POST", "/api/v1/events/batch", json.dumps({"events": events}).encode()


def client_main(
    client_id: int, port: int, key: str, rate: float, duration: float, customers: int, start_at: float, out
) -> None:
    """One load process: its own schedule at `rate` requests/s, a fresh connection when needed.

    Reports its results, how many scheduled requests it never sent, its own CPU seconds (the load
    generator must stay cheap) and the time spent opening connections (gunicorn's sync workers
    close every connection, so each request pays a TCP connect; gthread keeps them alive).
    """
    routes = [name for name, weight in MIX for _ in range(weight)]

    def next_request(rng: random.Random, counter: int) -> Request:
        route = rng.choice(routes)
        return (route, *_request(route, rng, customers, client_id, counter))

    out.put(
        open_loop(
            port,
            seed=client_id,
            rate=rate,
            duration=duration,
            start_at=start_at,
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
            next_request=next_request,
        )
    )


def worker_rss(master_pid: int) -> dict[int, int]:
    """RSS in KiB of gunicorn's worker processes (children of the master)."""
    sizes = {}
    for pid in children(master_pid):
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    sizes[pid] = int(line.split()[1])
        except OSError:
            continue
    return sizes


def worker_cpu_seconds(master_pid: int) -> float:
    """User + system CPU seconds used so far by gunicorn's workers."""
    return sum(cpu_seconds(pid) or 0.0 for pid in children(master_pid))


class CpuSampler(threading.Thread):
    """CPU seconds of PostgreSQL processes during the run, sampled twice a second from /proc.

    `bench`: the backends connected to the bench database (the gunicorn workers' connections;
    sampling catches backends that come and go). `cluster`: every process of the PostgreSQL
    server, background writers included, which on a shared machine also does others' work.
    """

    def __init__(self, database_url: str):
        super().__init__(daemon=True)
        self.database_url = database_url
        self.stop = threading.Event()
        self.bench: dict[int, tuple[float, float]] = {}
        self.cluster: dict[int, tuple[float, float]] = {}

    def _record(self, table: dict[int, tuple[float, float]], pids: list[int]) -> None:
        for pid in pids:
            used = cpu_seconds(pid)
            if used is not None:
                first = table.get(pid, (used, used))[0]
                table[pid] = (first, used)

    def run(self) -> None:
        import psycopg

        name = urlparse(self.database_url).path.lstrip("/")
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            own = conn.info.backend_pid
            while True:
                rows = conn.execute("SELECT pid, datname FROM pg_stat_activity").fetchall()
                postmaster = [int(line) for line in _postmaster_pids()]
                self._record(self.bench, [pid for pid, db in rows if db == name and pid != own])
                self._record(self.cluster, [pid for pid, _ in rows if pid != own] + postmaster)
                if self.stop.wait(0.5):
                    break

    @staticmethod
    def used(table: dict[int, tuple[float, float]]) -> float:
        return sum(last - first for first, last in table.values())


class Autovacuum(threading.Thread):
    """`VACUUM (ANALYZE)` of the bench database every `every` seconds, when the server's own
    autovacuum is off (as on the development machines: `autovacuum = off`).

    The mix grows the database fast (~1,500 events, 30 customers and 60 audit rows a second, the
    rollup rows of the current hour updated several times a second each). Without autovacuum
    the planner keeps the statistics of the seed and the dead row versions stay: after 3–4
    minutes the customer and subscription reads cost several times more PostgreSQL CPU and the
    reads' p95 climbed from 15 to 100+ ms, which production (autovacuum on, naptime 1 min) does
    not see. Its CPU counts with the bench database's backends.
    """

    def __init__(self, database_url: str, every: float):
        super().__init__(daemon=True)
        self.database_url, self.every = database_url, every
        self.stop = threading.Event()
        self.runs = 0

    @staticmethod
    def server_runs_it(database_url: str) -> bool:
        import psycopg

        with psycopg.connect(database_url, autocommit=True) as conn:
            return conn.execute("SHOW autovacuum").fetchone()[0] == "on"

    def run(self) -> None:
        import psycopg

        with psycopg.connect(self.database_url, autocommit=True) as conn:
            while not self.stop.wait(self.every):
                conn.execute("VACUUM (ANALYZE)")
                self.runs += 1


def _postmaster_pids() -> list[str]:
    """The PostgreSQL server's own processes (postmaster and its children) visible in /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if Path(entry, "comm").read_text().strip() in ("postgres", "postmaster"):
                    found.append(entry.name)
            except OSError:
                continue
    return found


def warm_up(port: int, key: str, customers: int) -> None:
    rng = random.Random(0)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    for counter in range(40):
        method, path, body = _request(MIX[counter % len(MIX)][0], rng, customers, 999, counter)
        conn.request(method, path, body=body, headers=headers)
        conn.getresponse().read()
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default=DEFAULT_DB)
    parser.add_argument("--duration", type=float, default=300.0, help="seconds of load (default 300)")
    parser.add_argument("--rate", type=float, default=300.0, help="requests/s offered in total")
    parser.add_argument("--clients", type=int, default=DEFAULT_CLIENTS, help="load processes, one connection each")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS, help="gunicorn workers")
    parser.add_argument(
        "--worker-class",
        default=DEFAULT_WORKER_CLASS,
        help="gunicorn worker class (default production's; sync, gthread)",
    )
    parser.add_argument(
        "--threads", type=int, default=None, help=f"threads per gthread worker (default {DEFAULT_THREADS}; sync: 1)"
    )
    parser.add_argument(
        "--redis",
        default="redis://127.0.0.1:6379/13",
        help="Celery broker for the server's tasks ('' runs them inline in the web workers)",
    )
    parser.add_argument(
        "--autovacuum",
        type=float,
        default=60.0,
        help="seconds between the bench's VACUUM (ANALYZE) when the server's autovacuum is off (0: never)",
    )
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--invoices", type=int, default=5000)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards (dropped by default)")
    add_binding_option(parser)
    args = parser.parse_args()
    apply_binding(args.binding)
    if args.threads is None:
        args.threads = DEFAULT_THREADS if args.worker_class == "gthread" else 1

    run_on_database(args.database, lambda: run(args), keep=args.keep)


def run(args: argparse.Namespace) -> None:
    key = seed(args.customers, args.invoices)
    worker_class = "bxb sync" if args.worker_class == BXB_WORKER_CLASS else args.worker_class
    server_desc = f"gunicorn {args.workers} {worker_class} worker(s)" + (
        f" x {args.threads} threads" if args.threads > 1 else ""
    )
    from django.db import connection

    options = connection.settings_dict["OPTIONS"]
    binding = (
        f"server-side binding, prepare_threshold {options.get('prepare_threshold')}"
        if options.get("server_side_binding")
        else "client-side binding"
    )
    print(
        f"seeded {args.customers} customers/subscriptions, {args.invoices} invoices; {server_desc}; {binding}; "
        f"{args.rate:.0f} req/s offered for {args.duration:.0f}s by {args.clients} processes"
    )
    # Tasks (webhooks, usage alerts, ...) go to a Redis queue of their own, as in production where
    # Celery workers, not the web workers, run them; the queue is emptied at the end.
    extra_env = {"REDIS_URL": args.redis} if args.redis else {}
    gunicorn = Gunicorn(
        args.database,
        args.port,
        workers=args.workers,
        extra_env=extra_env,
        worker_class=args.worker_class,
        threads=args.threads,
    )
    with gunicorn as server:
        assert server.process is not None
        master = server.process.pid
        warm_up(args.port, key, args.customers)
        load_start = load_average()
        rss_start = worker_rss(master)
        cpu_start = worker_cpu_seconds(master)
        per_worker_start = {pid: cpu_seconds(pid) or 0.0 for pid in children(master)}
        sampler = CpuSampler(args.database)
        sampler.start()
        autovacuum = None
        if args.autovacuum > 0 and not Autovacuum.server_runs_it(args.database):
            autovacuum = Autovacuum(args.database, args.autovacuum)
            autovacuum.start()
        queue, processes, start_at = start_clients(
            client_main, args.clients, args.port, key, args.rate, args.duration, args.customers
        )
        time.sleep(max(0.0, start_at + args.duration / 2 - time.time()))
        rss_middle = worker_rss(master)
        # CPU at the middle too: which half's requests cost more, the workers' or PostgreSQL's
        halves = [(cpu_start, 0.0), (worker_cpu_seconds(master), CpuSampler.used(sampler.bench))]
        results, unsent, client_cpu, connects = gather_clients(queue, processes)
        elapsed = time.time() - start_at
        sampler.stop.set()
        sampler.join(5)
        if autovacuum is not None:
            autovacuum.stop.set()
            autovacuum.join(60)
            print(f"(the server's autovacuum is off: the bench ran VACUUM (ANALYZE) {autovacuum.runs} times)")
        rss_end = worker_rss(master)
        cpu_used = worker_cpu_seconds(master) - cpu_start
        halves.append((cpu_used + cpu_start, CpuSampler.used(sampler.bench)))
        per_worker = {pid: (cpu_seconds(pid) or 0.0) - used for pid, used in per_worker_start.items()}
        load_end = load_average()
    if args.redis:
        import redis

        queued = redis.Redis.from_url(args.redis).dbsize()
        redis.Redis.from_url(args.redis).flushdb()
        print(f"(Redis {args.redis}: {queued} keys of queued tasks flushed)")
    report(args, results, unsent, elapsed, cpu_used, client_cpu, connects, sampler, load_start, load_end,
           (rss_start, rss_middle, rss_end))  # fmt: skip
    report_halves(args, results, halves)
    # Keep-alive connections stay with the worker that accepted them: an uneven split means one
    # worker's threads queue behind its GIL while another idles.
    total = sum(per_worker.values()) or 1.0
    print("worker CPU split: " + ", ".join(f"{pid}={used / total:.0%}" for pid, used in sorted(per_worker.items())))


def report_halves(args, results, halves) -> None:
    """Each half of the run on its own: requests served, reads p95 by route, and the CPU per request
    of the workers and of the bench database's PostgreSQL backends (read at the middle; a request
    counts in the half it was sent in, not the one it was scheduled in, which differ once the clients
    fall behind an overloaded server), so that a
    half slower than the other shows whether its requests cost more and where; then the reads' p95
    by 5 s, where a stall of a few seconds (a VACUUM, a checkpoint) stands out."""
    middle = args.duration / 2
    timeline: dict[int, list[float]] = {}
    for route, latency, _, _, sent_at in results:
        if route in READS:
            timeline.setdefault(int(sent_at // 5), []).append(latency)
    print(
        "reads p95 per 5 s: "
        + ", ".join(f"{percentile(values, 95):.0f}" for _, values in sorted(timeline.items()))
        + " ms"
    )
    for index, label in enumerate(("first half", "second half")):
        mine = [r for r in results if (r[4] >= middle) == bool(index)]
        if not mine:
            continue
        worker = (halves[index + 1][0] - halves[index][0]) * 1000 / len(mine)
        postgres = (halves[index + 1][1] - halves[index][1]) * 1000 / len(mine)
        by_route = {
            route: percentile([r[1] for r in mine if r[0] == route], 95)
            for route in READS
            if any(r[0] == route for r in mine)
        }
        print(
            f"{label}: {len(mine)} requests, CPU per request: workers {worker:.2f} ms, PostgreSQL bench backends "
            f"{postgres:.2f} ms; reads p95 by route: "
            + ", ".join(f"{k} {v:.1f} ms" for k, v in sorted(by_route.items()))
        )


def report(args, results, unsent, elapsed, cpu_used, client_cpu, connects, sampler, load_start, load_end, rss):
    served = len(results)
    errors = [r for r in results if not 200 <= r[3] < 300]
    offered_sent = served + unsent
    print(
        f"\noffered {args.rate:.0f} req/s for {args.duration:.0f}s = {args.rate * args.duration:.0f} requests; "
        f"sent {served} ({served / elapsed:.1f} req/s served), not sent because the clients fell behind: {unsent} "
        f"({offered_sent / elapsed:.1f} req/s scheduled); errors: {len(errors)}"
    )
    if errors:
        by_status: dict[tuple[str, int], int] = {}
        for route, _, _, status, _ in errors:
            by_status[(route, status)] = by_status.get((route, status), 0) + 1
        print("  errors by route/status:", ", ".join(f"{r} {s}: {n}" for (r, s), n in sorted(by_status.items())))
    print("\nlatency = request sent .. response read; 'sched p95' counts from the scheduled send instant")
    print(f"{'route':<18}{'count':>8}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}{'sched p95':>11}")
    groups: dict[str, list[float]] = {}
    sched: dict[str, list[float]] = {}
    for route, latency, scheduled, _, _ in results:
        for name in (route, "reads (all)" if route in READS else "writes (all)", "all"):
            groups.setdefault(name, []).append(latency)
            sched.setdefault(name, []).append(scheduled)
    for route, values in groups.items():
        print(
            f"{route:<18}{len(values):>8}{len(values) / elapsed:>8.1f}{percentile(values, 50):>9.1f}"
            f"{percentile(values, 95):>9.1f}{percentile(values, 99):>9.1f}{max(values, default=0):>9.1f}"
            f"{percentile(sched[route], 95):>11.1f}"
        )
    reads_p95 = percentile(groups.get("reads (all)", []), 95)
    # The soak over time: a stall (checkpoint, autovacuum, a slow commit) shows as one window.
    window = 30.0
    timeline: dict[int, list[float]] = {}
    for route, latency, _, _, sent_at in results:
        if route in READS:
            timeline.setdefault(int(sent_at // window), []).append(latency)
    print(
        f"reads p95 per {window:.0f} s: "
        + ", ".join(f"{percentile(values, 95):.0f}" for _, values in sorted(timeline.items()))
        + " ms"
    )
    if served:
        pg_bench = CpuSampler.used(sampler.bench)
        pg_cluster = CpuSampler.used(sampler.cluster)
        print(
            f"\nCPU per request (ms): gunicorn workers {cpu_used * 1000 / served:.2f}, "
            f"PostgreSQL backends of the bench database {pg_bench * 1000 / served:.2f} "
            f"(whole PostgreSQL server {pg_cluster * 1000 / served:.2f}, shared with anything else it serves), "
            f"load generator {client_cpu * 1000 / served:.2f}"
        )
        print(
            f"CPUs busy on average: workers {cpu_used / elapsed:.2f}, PostgreSQL bench backends "
            f"{pg_bench / elapsed:.2f}, load generator {client_cpu / elapsed:.2f} (of {os.cpu_count()} CPUs)"
        )
        if connects:
            print(
                f"connections opened: {len(connects)} for {served} requests, connect p50 "
                f"{percentile(connects, 50):.2f} ms / p95 {percentile(connects, 95):.2f} ms (included in latency)"
            )
    print(f"load average (1, 5, 15 min) at start: {load_start}; at end: {load_end}")
    for label, sizes in zip(("start", "middle", "end"), rss, strict=True):
        print(
            f"worker RSS {label + ':':<8}{', '.join(f'{pid}={kb / 1024:.1f} MiB' for pid, kb in sorted(sizes.items()))}"
        )
    # Flat memory: what the workers hold at the end against the middle of the run (the first half
    # warms the per-process caches and prepared statements; a leak keeps growing after it).
    middle_kb, end_kb = sum(rss[1].values()), sum(rss[2].values())
    growth = (end_kb - middle_kb) / middle_kb * 100 if middle_kb else 0.0
    flat = growth <= 5.0
    reads_sched_p95 = percentile(sched.get("reads (all)", []), 95)
    met = reads_p95 < 50 and not errors and not unsent and served >= 0.99 * args.rate * args.duration and flat
    print(
        f"target (reads p95 < 50 ms at {args.rate:.0f} req/s, all sent, zero errors, worker RSS growth "
        f"<= 5 % from the middle to the end): {'met' if met else 'NOT met'} (reads p95 {reads_p95:.1f} ms, "
        f"{reads_sched_p95:.1f} ms from the scheduled instants; RSS {growth:+.1f} %)"
    )


if __name__ == "__main__":
    main()
