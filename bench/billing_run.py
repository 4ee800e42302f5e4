"""Benchmark of the billing run: N active subscriptions due on one day, billed through the real tasks.

    .venv/bin/python bench/billing_run.py [--subscriptions 100000] [--workers 2] [--batch-size 500]
                                          [--mode batch|customer] [--reuse] [--keep]
                                          [--no-fixed-charge] [--profile N]

Data: one organization, N customers each with one monthly subscription (base fee 10.00 USD in
arrears), two usage charges, `calls` (count, standard 0.01) and `storage` (sum, graduated
0-100 at 0.05, then 0.02 + 1.00 flat), and a fixed charge, 5 `seats` at 2.00 in arrears
(`--no-fixed-charge` bills without it: it is deleted before the run, and put back by the next run
without the flag, so one data set measures both), with 3 events per subscription in January 2024 and their
hourly rollups (written with one INSERT … SELECT each, so 100,000 subscriptions set up in about
a minute). The billing sweep (`runs.billing_run_start`, what the `invoicing.billing_sweep` task
calls) finds who is due on 1 February and cuts the customers into batches exactly as the sweep
task does; then `--workers` processes take batches from a shared queue and run the
`invoicing.bill_customers` task function on each (`--mode customer`: the per-customer
`invoicing.bill_customer` task, the previous design). PDFs are rendered by their own task (their
own queue) and are measured apart: after the run, `--pdf-sample` invoices' PDFs through that task's
function, after a warm-up, CPU and wall per PDF and the projection for 100,000 (`bench/pdf.py`,
whose `--invoices N` does the same on N invoices of the database kept with `--keep`).

`--profile N` bills one batch in this process under cProfile, in a transaction rolled back (the
data stays as it was), and prints the Python function calls per invoice (deterministic, unlike CPU
time on a shared machine) and the N costliest functions; nothing else runs.

Prints: set-up time, sweep time, invoices/s (and the load average, since the machine may be
shared), CPU per invoice (the workers' Python CPU and their PostgreSQL backends' CPU, read from
/proc), SQL statements per invoice, peak RSS per worker and of the parent, the current-usage
latency (API, in-process client) on that data, and checks every invoice's amounts. The database
(`bxb_bench_billing` by default) is dropped at the end unless `--keep`.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import drop_database, percentile, setup_django

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/bxb_bench_billing"
AT = datetime(2024, 2, 1, 1, tzinfo=UTC)
ORG_NAME = "bench billing"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def proc_cpu_seconds(pid: int) -> float:
    """utime + stime of a process (a PostgreSQL backend on this machine), in seconds."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    except OSError:
        return 0.0


def build(n: int) -> None:
    from django.db import connection

    from catalog.models import BillableMetric, Charge, Plan
    from customers.models import Customer
    from customers.services import organization_create
    from subscriptions.models import Subscription

    organization, _ = organization_create(ORG_NAME, timezone_name="UTC")
    plan = Plan.objects.create(
        organization=organization, name="bench", code="bench", interval="monthly", amount_cents=1000,
        amount_currency="USD",
    )  # fmt: skip
    calls = BillableMetric.objects.create(
        organization=organization, name="calls", code="calls", aggregation_type="count_agg"
    )
    storage = BillableMetric.objects.create(
        organization=organization, name="storage", code="storage", aggregation_type="sum_agg", field_name="gb"
    )
    Charge.objects.create(
        organization=organization, plan=plan, billable_metric=calls, code="calls", charge_model="standard",
        properties={"amount": "0.01"},
    )  # fmt: skip
    ranges = [
        {"from_value": 0, "to_value": 100, "per_unit_amount": "0.05", "flat_amount": "0"},
        {"from_value": 100, "to_value": None, "per_unit_amount": "0.02", "flat_amount": "1"},
    ]
    Charge.objects.create(
        organization=organization, plan=plan, billable_metric=storage, code="storage", charge_model="graduated",
        properties={"graduated_ranges": ranges},
    )  # fmt: skip
    started = datetime(2024, 1, 1, tzinfo=UTC)
    batch = 10000
    for start in range(0, n, batch):
        customers = [
            Customer(organization=organization, external_id=f"c{i}", sequential_id=i + 1, currency="USD", name=f"C{i}")
            for i in range(start, min(n, start + batch))
        ]
        Customer.objects.bulk_create(customers)
        Subscription.objects.bulk_create(
            [
                Subscription(
                    organization=organization, customer=c, plan=plan, external_id=f"s{c.external_id[1:]}",
                    status="active", subscription_at=started, started_at=started,
                )
                for c in customers
            ]
        )  # fmt: skip
        if start % 50000 == 0:
            print(f"  customers and subscriptions: {start:,}/{n:,}", flush=True)
    organization.customer_sequence = n
    organization.save(update_fields=["customer_sequence"])
    # Events (2 calls + 1 storage of 50..149 GB per subscription) and their hourly rollups, in SQL.
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO metering_event (id, created_at, updated_at, organization_id, transaction_id,
                external_subscription_id, external_customer_id, code, timestamp, properties, value,
                subscription_id, customer_id)
            SELECT gen_random_uuid(), now(), now(), s.organization_id, k.prefix || substr(s.external_id, 2),
                s.external_id, '', k.code, '2024-01-15 12:00:00+00',
                CASE WHEN k.code = 'storage'
                     THEN jsonb_build_object('gb', (50 + substr(s.external_id, 2)::int %% 100)::text)
                     ELSE '{}'::jsonb END,
                CASE WHEN k.code = 'storage' THEN 50 + substr(s.external_id, 2)::int %% 100 END,
                s.id, s.customer_id
            FROM subscriptions_subscription s
            CROSS JOIN (VALUES ('a', 'calls'), ('b', 'calls'), ('g', 'storage')) AS k(prefix, code)
            WHERE s.organization_id = %s
            """,
            [organization.id],
        )
        cursor.execute(
            """
            INSERT INTO metering_usagerollup (id, created_at, updated_at, organization_id, external_subscription_id,
                code, hour, dimensions_key, dimensions, events_count, value_sum, value_max, precise_sum)
            SELECT gen_random_uuid(), now(), now(), organization_id, external_subscription_id, code,
                date_trunc('hour', timestamp), '{}', '{}'::jsonb, count(*), coalesce(sum(value), 0), max(value),
                coalesce(sum(precise_total_amount_cents), 0)
            FROM metering_event WHERE organization_id = %s
            GROUP BY organization_id, external_subscription_id, code, date_trunc('hour', timestamp)
            """,
            [organization.id],
        )


def worker(database_url: str, mode: str, run_id: str, work: mp.Queue, results: mp.Queue) -> None:
    os.environ["DATABASE_URL"] = database_url
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    settings.INVOICE_PDF_ON_FINALIZE = False
    from billing_project.celery import tune_garbage_collection
    from invoicing import tasks

    tune_garbage_collection()  # as a Celery worker process does at start-up
    statements = 0

    def count(execute, sql, params, many, context):
        nonlocal statements
        statements += 1
        return execute(sql, params, many, context)

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    created = 0
    cpu0, backend0, wall0 = time.process_time(), proc_cpu_seconds(backend), time.monotonic()
    with connection.execute_wrapper(count):
        statements = 0
        while True:
            item = work.get()
            if item is None:
                break
            customer_ids, batch_id = item
            if mode == "batch":
                created += tasks.bill_customers(customer_ids, AT.isoformat(), run_id, batch_id)
            else:
                for customer_id in customer_ids:
                    created += tasks.bill_customer(customer_id, AT.isoformat(), run_id)
    results.put(
        {
            "created": created,
            "rss": rss_mb(),
            "cpu": time.process_time() - cpu0,
            "backend_cpu": proc_cpu_seconds(backend) - backend0,
            "wall": time.monotonic() - wall0,
            "statements": statements - 1,
        }
    )


def expected_cents(i: int, *, fixed_charge: bool) -> int:
    gb = 50 + i % 100
    storage = gb * 5 if gb <= 100 else 100 * 5 + (gb - 100) * 2 + 100
    return 1000 + 2 + storage + (1000 if fixed_charge else 0)


def set_fixed_charge(organization, *, on: bool) -> None:
    """The bench plan's fixed charge (5 seats at 2.00, in arrears): created or put back, or deleted."""
    from django.utils import timezone

    from catalog.models import AddOn, FixedCharge, Plan

    plan = Plan.objects.get(organization=organization, code="bench")
    add_on, _ = AddOn.objects.get_or_create(
        organization=organization, code="seats", defaults={"name": "Seats", "amount_cents": 0, "amount_currency": "USD"}
    )
    fixed = FixedCharge.objects.filter(plan=plan, code="seats").first()
    if fixed is None:
        fixed = FixedCharge.objects.create(
            organization=organization, plan=plan, add_on=add_on, code="seats", charge_model="standard",
            units=5, properties={"amount": "2"},
        )  # fmt: skip
    fixed.deleted_at = None if on else timezone.now()
    fixed.save(update_fields=["deleted_at", "updated_at"])


def forget_invoices(organization) -> None:
    """`--reuse`: the previous run's invoices gone, with every row pointing at them, their audit
    entries and the number counters, so each run bills the same data from the same state.

    Django's `Invoice.objects.filter(...).delete()` fails past ~16,000 invoices (its cascade sends
    one parameter per related row: more than PostgreSQL's 65,535 for the fees) and writes an audit
    entry per invoice; the bench's database holds only the bench organization, so its tables
    pointing at invoices are emptied with `TRUNCATE … CASCADE` (the set-up data, customers,
    subscriptions, events, points at no invoice). A database with another organization is refused."""
    from django.contrib.contenttypes.models import ContentType
    from django.db import connection

    from audit.models import AuditLogEntry
    from customers.models import Organization
    from invoicing.models import Invoice, InvoiceNumberCounter

    if Organization.objects.exclude(pk=organization.pk).exists():
        sys.exit("--reuse: this database holds another organization than the bench's; not emptying its invoices")
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {Invoice._meta.db_table} CASCADE")
    AuditLogEntry.objects.filter(content_type=ContentType.objects.get_for_model(Invoice)).delete()
    InvoiceNumberCounter.objects.filter(organization=organization).delete()


def profile_batch(batch: list[str], top: int) -> None:
    """One batch billed under cProfile, rolled back: calls per invoice and the costliest functions."""
    import cProfile
    import pstats

    from django.conf import settings
    from django.db import transaction

    from invoicing.billing.run import customers_bill

    settings.INVOICE_PDF_ON_FINALIZE = False
    from billing_project.celery import tune_garbage_collection

    tune_garbage_collection()  # as the workers (full collections would be charged to whatever runs then)

    class Rollback(Exception):
        pass

    # CPU time, not wall-clock: waits on PostgreSQL and on a loaded machine's other processes are not counted
    profiler = cProfile.Profile(time.process_time)
    created = 0
    try:
        with transaction.atomic():
            profiler.enable()
            created = customers_bill(batch, at=AT).invoices_created
            profiler.disable()
            raise Rollback
    except Rollback:
        pass
    if os.environ.get("BENCH_PROFILE_DUMP"):
        profiler.dump_stats(os.environ["BENCH_PROFILE_DUMP"])
    stats = pstats.Stats(profiler)
    calls = stats.total_calls  # type: ignore[attr-defined]
    print(
        f"profile: {created:,} invoices, {calls:,} Python calls → {calls / max(created, 1):,.0f} per invoice; "
        f"{stats.total_tt / max(created, 1) * 1000:.2f} CPU-ms per invoice under the profiler "  # type: ignore[attr-defined]
        f"(load average {os.getloadavg()[0]:.1f}); rolled back"
    )
    stats.sort_stats("tottime").print_stats(top)
    if os.environ.get("BENCH_PROFILE_CUMULATIVE"):  # the cumulative view of the functions matching it
        stats.sort_stats("cumulative").print_stats(os.environ["BENCH_PROFILE_CUMULATIVE"], top)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subscriptions", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=None, help="customers per task (default: the sweep's)")
    parser.add_argument("--mode", choices=["batch", "customer"], default="batch")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB))
    parser.add_argument("--no-fixed-charge", action="store_true", help="bill without the plan's fixed charge")
    parser.add_argument("--reuse", action="store_true", help="keep the data of a previous run (re-bill it)")
    parser.add_argument("--keep", action="store_true", help="do not drop the database at the end")
    parser.add_argument("--usage-samples", type=int, default=200)
    parser.add_argument("--pdf-sample", type=int, default=300, help="PDFs generated after the run (0: none)")
    parser.add_argument("--profile", type=int, default=0, help="profile one batch (rolled back), print N functions")
    args = parser.parse_args()

    if not args.reuse:
        drop_database(args.database_url)
    setup_django(args.database_url)
    from django.db import connection

    from customers.models import Organization
    from invoicing.billing import runs
    from invoicing.models import Invoice

    organization = Organization.objects.filter(name=ORG_NAME).first()
    if organization is None:
        t0 = time.monotonic()
        print(f"building {args.subscriptions:,} subscriptions with 3 events each…", flush=True)
        build(args.subscriptions)
        organization = Organization.objects.get(name=ORG_NAME)
        print(f"set-up: {time.monotonic() - t0:.0f}s")
    else:
        forget_invoices(organization)
    set_fixed_charge(organization, on=not args.no_fixed_charge)
    n = organization.subscriptions.count()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")

    t0 = time.monotonic()
    size = args.batch_size or runs.BATCH_SIZE
    run, due = runs.billing_run_start(AT, organization=organization, trigger="bench", batch_size=size)
    sweep = time.monotonic() - t0
    ids = [str(c) for c in due]
    batches = runs.batches(ids, size) if args.mode == "batch" else runs.batches(ids, 50)
    # The run's recorded batches, in the same order and cut: each task reports its own, as the
    # sweep's tasks do, so the run ends `finished` (the per-customer mode reports none).
    batch_ids: list[str | None] = (
        [str(b) for b in run.batches.order_by("position").values_list("id", flat=True)]
        if args.mode == "batch"
        else [None] * len(batches)
    )
    assert len(batch_ids) == len(batches), (len(batch_ids), len(batches))
    print(f"sweep: {len(ids):,} customers due ({sum(due.values()):,} subscriptions) found in {sweep:.1f}s")
    if args.profile:
        profile_batch(batches[0], args.profile)
        return
    connection.close()

    work: mp.Queue = mp.Queue()
    results_queue: mp.Queue = mp.Queue()
    for batch, batch_id in zip(batches, batch_ids, strict=True):
        work.put((batch, batch_id))
    for _ in range(args.workers):
        work.put(None)
    load_before = os.getloadavg()
    t0 = time.monotonic()
    processes = [
        mp.Process(target=worker, args=(args.database_url, args.mode, str(run.id), work, results_queue))
        for _ in range(args.workers)
    ]
    for p in processes:
        p.start()
    results = [results_queue.get() for _ in processes]
    for p in processes:
        p.join()
    elapsed = time.monotonic() - t0
    load_after = os.getloadavg()
    runs.billing_run_finish(run.id)
    created = sum(r["created"] for r in results)
    per = max(created, 1)
    cpu = sum(r["cpu"] for r in results)
    backend = sum(r["backend_cpu"] for r in results)
    statements = sum(r["statements"] for r in results)
    print(
        f"billing ({args.mode}, {size if args.mode == 'batch' else 1} customers per task): {created:,} invoices in "
        f"{elapsed:.1f}s with {args.workers} workers → {created / elapsed:,.0f} invoices/s "
        f"(sweep included: {created / (elapsed + sweep):,.0f}/s); load average {load_before[0]:.1f} before, "
        f"{load_after[0]:.1f} after"
    )
    print(
        f"CPU per invoice: {cpu * 1000 / per:.2f} ms Python (workers) + {backend * 1000 / per:.2f} ms PostgreSQL "
        f"(their backends) = {(cpu + backend) * 1000 / per:.2f} ms; {statements / per:.2f} SQL statements per invoice"
    )
    worker_rss = ", ".join(f"{r['rss']:.0f} MB" for r in results)
    print(f"peak RSS: workers {worker_rss}; parent {rss_mb():.0f} MB")
    run.refresh_from_db()
    print(
        f"billing run: status {run.status}, {run.invoices_created:,} invoices recorded, "
        f"{run.customers_failed} customers failed"
    )

    # correctness: every invoice as computed by hand
    wrong = 0
    checked = 0
    for external_id, fees, total, number in (
        Invoice.objects.filter(organization=organization)
        .values_list("customer__external_id", "fees_amount_cents", "total_amount_cents", "number")
        .iterator(chunk_size=10000)
    ):
        checked += 1
        expected = expected_cents(int(external_id[1:]), fixed_charge=not args.no_fixed_charge)
        wrong += fees != expected or total != expected or not number
    numbers = Invoice.objects.filter(organization=organization).values("number").distinct().count()
    print(
        f"checked: {checked:,} invoices ({numbers:,} distinct numbers), {wrong} with a wrong amount; "
        f"{n:,} subscriptions in the data set"
    )

    # current usage latency on that data (API, in-process client, no network)
    from django.utils import timezone
    from rest_framework.test import APIClient

    from customers.services import api_key_create
    from metering.services import events_ingest

    _, key = api_key_create(organization, name="bench")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    now = int(timezone.now().timestamp())
    sample = list(range(0, n, max(1, n // args.usage_samples)))[: args.usage_samples]
    events_ingest(
        organization,
        [{"transaction_id": f"now{i}", "code": "calls", "external_subscription_id": f"s{i}", "timestamp": str(now)} for i in sample[:100]],
    )  # fmt: skip
    latencies = []
    for i in sample:
        t = time.perf_counter()
        response = client.get(f"/api/v1/customers/c{i}/current_usage?external_subscription_id=s{i}")
        latencies.append((time.perf_counter() - t) * 1000)
        assert response.status_code == 200, response.content
    print(
        f"current_usage: p50 {percentile(latencies, 50):.1f} ms, p95 {percentile(latencies, 95):.1f} ms, "
        f"max {max(latencies):.1f} ms over {len(latencies)} calls"
    )
    if args.pdf_sample:
        # The PDFs of a sample of these invoices, through the `invoicing.generate_pdf` task's function
        # (their own queue: billing does not wait for them), warm, CPU and wall per PDF (bench/pdf.py).
        import shutil
        import tempfile

        from django.test import override_settings

        from bench.pdf import end_to_end

        pdf_ids = list(
            Invoice.objects.filter(organization=organization).values_list("id", flat=True)[: args.pdf_sample + 5]
        )
        media = tempfile.mkdtemp(prefix="bench-billing-pdfs-")
        try:
            with override_settings(MEDIA_ROOT=media):
                end_to_end(
                    pdf_ids, warm_up=5, phases=min(100, args.pdf_sample), cores=args.workers, label="pdf (own task)"
                )
        finally:
            shutil.rmtree(media, ignore_errors=True)
    connection.close()
    if not args.keep:
        drop_database(args.database_url)
        print("database dropped (--keep keeps it)")
    if wrong or checked != created:
        sys.exit(1)


if __name__ == "__main__":
    main()
