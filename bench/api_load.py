"""API load and soak: a mixed workload against gunicorn (2 sync workers) on PostgreSQL.

    .venv/bin/python bench/api_load.py [--duration 300] [--rate 300] [--clients 8]
                                       [--database postgres://postgres@127.0.0.1:5432/bxb_bench_load]
                                       [--port 8790] [--customers 200] [--invoices 5000]
                                       [--redis redis://127.0.0.1:6379/13]

Seeds its own database (an organization, an API key, a sum metric, a plan with a standard charge,
`--customers` customers each with a running subscription, `--invoices` finalized invoices), starts
gunicorn, then drives it from `--clients` separate processes at `--rate` requests/s in total (open
loop: each client keeps its own schedule, so a slow server shows up as latency, not as a lower
offered rate) for `--duration` seconds. The mix:

    40% GET  /api/v1/customers/{id}/current_usage?external_subscription_id=...   (read)
    30% GET  /api/v1/invoices?external_customer_id=...&per_page=20              (read)
    20% POST /api/v1/customers                        (upsert; half new, half existing)
    10% POST /api/v1/events/batch                     (50 events, unique transaction ids)

Prints throughput, p50/p95/p99 per route, errors (non-2xx and transport errors), and the RSS of
the gunicorn workers at start and end. Target: p95 < 50 ms for reads at 300 requests/s, 0 errors.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import random
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Gunicorn, percentile, setup_django

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/bxb_bench_load"
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

    from catalog.models import BillableMetric, Charge, Plan, Tax
    from customers.models import Customer
    from customers.services import api_key_create, organization_create
    from invoicing.models import Invoice, InvoiceAppliedTax
    from metering.services import events_ingest
    from subscriptions.models import Subscription

    organization, _ = organization_create(f"Load {time.time():.0f}", timezone_name="UTC")
    tax = Tax.objects.create(organization=organization, code="vat", name="VAT", rate="20", applied_to_organization=True)
    _, raw_key = api_key_create(organization, name="load")
    metric = BillableMetric.objects.create(
        organization=organization, name="calls", code="load_calls", aggregation_type="sum_agg", field_name="n"
    )
    plan = Plan.objects.create(
        organization=organization,
        name="load",
        code="load",
        interval="monthly",
        amount_cents=4900,
        amount_currency="USD",
    )
    Charge.objects.create(
        organization=organization,
        plan=plan,
        billable_metric=metric,
        code="calls",
        charge_model="standard",
        properties={"amount": "0.001"},
    )
    people = Customer.objects.bulk_create(
        [
            Customer(
                organization=organization,
                external_id=f"cust_{i}",
                sequential_id=i + 1,
                name=f"Customer {i}",
                currency="USD",
            )
            for i in range(customers)
        ]
    )
    started = datetime(2024, 1, 1, tzinfo=UTC)
    Subscription.objects.bulk_create(
        [
            Subscription(
                organization=organization,
                customer=customer,
                plan=plan,
                external_id=f"sub_{i}",
                status="active",
                subscription_at=started,
                started_at=started,
            )
            for i, customer in enumerate(people)
        ]
    )
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
    """One load process: its own schedule at `rate` requests/s, a fresh connection when needed."""
    rng = random.Random(client_id)
    routes = [name for name, weight in MIX for _ in range(weight)]
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    results: list[tuple[str, float, float, int]] = []
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    while time.time() < start_at:
        time.sleep(0.005)
    interval = 1.0 / rate
    next_at = start_at + rng.random() * interval
    counter = 0
    end = start_at + duration
    while next_at < end and time.time() < end + 2:
        pause = next_at - time.time()
        if pause > 0:
            time.sleep(pause)
        route = rng.choice(routes)
        method, path, body = _request(route, rng, customers, client_id, counter)
        counter += 1
        started = time.perf_counter()
        status = 0
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            status = response.status
            if response.getheader("connection", "").lower() == "close":
                conn.close()
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        service = (time.perf_counter() - started) * 1000
        # From the scheduled instant: time queued behind a busy server counts (no coordinated omission).
        scheduled = max(service, (time.time() - next_at) * 1000)
        results.append((route, service, scheduled, status))
        next_at += interval
    unsent = max(0, int((end - next_at) / interval) + 1) if next_at < end else 0
    out.put((results, unsent))


def worker_rss(master_pid: int) -> dict[int, int]:
    """RSS in KiB of gunicorn's worker processes (children of the master)."""
    try:
        children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    except OSError:
        return {}
    sizes = {}
    for pid in children:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    sizes[int(pid)] = int(line.split()[1])
        except OSError:
            continue
    return sizes


def worker_cpu_seconds(master_pid: int) -> float:
    """User + system CPU seconds used so far by gunicorn's workers."""
    import os

    try:
        children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    except OSError:
        return 0.0
    ticks = 0
    for pid in children:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, IndexError, ValueError):
            continue
    return ticks / os.sysconf("SC_CLK_TCK")


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
    parser.add_argument("--clients", type=int, default=8, help="load processes")
    parser.add_argument("--port", type=int, default=8790)
    parser.add_argument(
        "--redis",
        default="redis://127.0.0.1:6379/13",
        help="Celery broker for the server's tasks ('' runs them inline in the web workers)",
    )
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--invoices", type=int, default=5000)
    args = parser.parse_args()

    setup_django(args.database)
    key = seed(args.customers, args.invoices)
    print(
        f"seeded {args.customers} customers/subscriptions, {args.invoices} invoices; "
        f"{args.rate:.0f} req/s offered for {args.duration:.0f}s by {args.clients} processes"
    )
    # Tasks (webhooks, usage alerts, ...) go to a Redis queue of their own, as in production where
    # Celery workers, not the web workers, run them; the queue is emptied at the end.
    extra_env = {"REDIS_URL": args.redis} if args.redis else {}
    with Gunicorn(args.database, args.port, workers=2, extra_env=extra_env) as server:
        assert server.process is not None
        warm_up(args.port, key, args.customers)
        rss_start = worker_rss(server.process.pid)
        cpu_start = worker_cpu_seconds(server.process.pid)
        queue: multiprocessing.Queue = multiprocessing.Queue()
        start_at = time.time() + 1.0
        processes = [
            multiprocessing.Process(
                target=client_main,
                args=(i, args.port, key, args.rate / args.clients, args.duration, args.customers, start_at, queue),
            )
            for i in range(args.clients)
        ]
        for process in processes:
            process.start()
        results: list[tuple[str, float, float, int]] = []
        unsent = 0
        for _ in processes:
            part, missed = queue.get()
            results.extend(part)
            unsent += missed
        for process in processes:
            process.join()
        elapsed = time.time() - start_at
        rss_end = worker_rss(server.process.pid)
        cpu_used = worker_cpu_seconds(server.process.pid) - cpu_start
    if args.redis:
        import redis

        queued = redis.Redis.from_url(args.redis).dbsize()
        redis.Redis.from_url(args.redis).flushdb()
        print(f"(Redis {args.redis}: {queued} keys of queued tasks flushed)")

    errors = [r for r in results if not 200 <= r[3] < 300]
    print(
        f"\n{len(results)} requests in {elapsed:.1f}s: {len(results) / elapsed:.1f} req/s "
        f"(offered {args.rate:.0f}), errors: {len(errors)}, not sent because the server fell behind: {unsent}"
    )
    if errors:
        by_status: dict[tuple[str, int], int] = {}
        for route, _, _, status in errors:
            by_status[(route, status)] = by_status.get((route, status), 0) + 1
        print("  errors by route/status:", ", ".join(f"{r} {s}: {n}" for (r, s), n in sorted(by_status.items())))
    print("\nlatency = request sent .. response read; 'sched p95' counts from the scheduled send instant")
    print(f"{'route':<18}{'count':>8}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}{'sched p95':>11}")
    groups: dict[str, list[float]] = {}
    sched: dict[str, list[float]] = {}
    for route, latency, scheduled, _ in results:
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
    if results:
        per_request = cpu_used * 1000 / len(results)
        print(
            f"\nworker CPU: {cpu_used:.1f} s for {len(results)} requests = {per_request:.1f} CPU-ms per request; "
            f"{cpu_used / elapsed:.2f} of a CPU on average (2 workers could use 2.00). load average now: "
            f"{Path('/proc/loadavg').read_text().split()[0]}"
        )
    print(
        f"\nworker RSS start: {', '.join(f'{pid}={kb / 1024:.1f} MiB' for pid, kb in sorted(rss_start.items()))}"
        f"\nworker RSS end:   {', '.join(f'{pid}={kb / 1024:.1f} MiB' for pid, kb in sorted(rss_end.items()))}"
    )
    verdict = "met" if reads_p95 < 50 and not errors and not unsent else "NOT met"
    print(f"target (reads p95 < 50 ms at {args.rate:.0f} req/s, zero errors): {verdict} (reads p95 {reads_p95:.1f} ms)")


if __name__ == "__main__":
    main()
