"""Benchmark of the billing run: N active subscriptions due on one day, billed through the real tasks.

    .venv/bin/python bench/billing_run.py [--subscriptions 100000] [--workers 2] [--reuse]

Data: one organization, N customers each with one monthly subscription (base fee 10.00 USD in
arrears) and two usage charges, `calls` (count, standard 0.01) and `storage` (sum, graduated
0-100 at 0.05, then 0.02 + 1.00 flat), with 3 events per subscription in January 2024 (real
ingestion: events + hourly rollups). The billing sweep finds who is due on 1 February, then
`--workers` processes run the `invoicing.bill_customer` task (Celery's task code, applied in the
process: no broker round trip) for every due customer, each in its own transaction. PDFs are
rendered by their own task and are measured apart (`--pdf-sample`).

Prints: set-up time, sweep time, invoices/s, peak RSS per worker and of the parent, the current
usage latency (API, in-process client) on that data, and checks that every invoice is right.
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

from bench.common import percentile, setup_django

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/bxb_bench_billing"
AT = datetime(2024, 2, 1, 1, tzinfo=UTC)
ORG_NAME = "bench billing"


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build(n: int) -> None:
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
    batch = 5000
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
    organization.customer_sequence = n
    organization.save(update_fields=["customer_sequence"])
    # Events in bulk, then their hourly rollups in one INSERT … SELECT (what ingestion maintains).
    from decimal import Decimal

    from django.db import connection

    from metering.models import Event

    ts = datetime(2024, 1, 15, 12, tzinfo=UTC)
    subs = dict(Subscription.objects.filter(organization=organization).values_list("external_id", "id"))
    for start in range(0, n, batch):
        rows = []
        for i in range(start, min(n, start + batch)):
            sid = subs[f"s{i}"]
            common = {"organization": organization, "external_subscription_id": f"s{i}", "subscription_id": sid}
            rows.append(Event(transaction_id=f"a{i}", code="calls", timestamp=ts, **common))
            rows.append(Event(transaction_id=f"b{i}", code="calls", timestamp=ts, **common))
            gb = 50 + i % 100
            rows.append(
                Event(
                    transaction_id=f"g{i}",
                    code="storage",
                    timestamp=ts,
                    properties={"gb": str(gb)},
                    value=Decimal(gb),
                    **common,
                )
            )
        Event.objects.bulk_create(rows, batch_size=batch)
        if start % 20000 == 0:
            print(f"  events for {start:,}/{n:,} subscriptions", flush=True)
    with connection.cursor() as cursor:
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


def worker(database_url: str, ids: list[str], run_id: str, queue: mp.Queue) -> None:
    os.environ["DATABASE_URL"] = database_url
    import django

    django.setup()
    from django.conf import settings

    settings.INVOICE_PDF_ON_FINALIZE = False
    from invoicing import tasks

    created = 0
    for customer_id in ids:
        created += tasks.bill_customer(customer_id, AT.isoformat(), run_id)
    queue.put((created, rss_mb()))


def expected_cents(i: int) -> int:
    gb = 50 + i % 100
    storage = gb * 5 if gb <= 100 else 100 * 5 + (gb - 100) * 2 + 100
    return 1000 + 2 + storage


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subscriptions", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB))
    parser.add_argument("--reuse", action="store_true", help="keep the data of a previous run (re-bill it)")
    parser.add_argument("--usage-samples", type=int, default=200)
    parser.add_argument("--pdf-sample", type=int, default=5)
    args = parser.parse_args()

    if not args.reuse:
        from urllib.parse import urlparse

        import psycopg

        parsed = urlparse(args.database_url)
        with psycopg.connect(parsed._replace(path="/postgres").geturl(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{parsed.path.lstrip("/")}" WITH (FORCE)')
    setup_django(args.database_url)
    from django.db import connection

    from customers.models import Organization
    from invoicing.models import Invoice
    from invoicing.services import runs

    organization = Organization.objects.filter(name=ORG_NAME).first()
    if organization is None:
        t0 = time.monotonic()
        print(f"building {args.subscriptions:,} subscriptions with 3 events each…", flush=True)
        build(args.subscriptions)
        organization = Organization.objects.get(name=ORG_NAME)
        print(f"set-up: {time.monotonic() - t0:.0f}s")
    else:
        Invoice.objects.filter(organization=organization).delete()
    n = organization.subscriptions.count()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")

    t0 = time.monotonic()
    run, due = runs.billing_run_start(AT, organization=organization, trigger="bench")
    sweep = time.monotonic() - t0
    ids = [str(c) for c in due]
    print(f"sweep: {len(ids):,} customers due ({sum(due.values()):,} subscriptions) found in {sweep:.1f}s")
    connection.close()

    queue: mp.Queue = mp.Queue()
    chunks = [ids[i :: args.workers] for i in range(args.workers)]
    t0 = time.monotonic()
    processes = [mp.Process(target=worker, args=(args.database_url, chunk, str(run.id), queue)) for chunk in chunks]
    for p in processes:
        p.start()
    results = [queue.get() for _ in processes]
    for p in processes:
        p.join()
    elapsed = time.monotonic() - t0
    runs.billing_run_finish(run.id)
    created = sum(r[0] for r in results)
    print(
        f"billing: {created:,} invoices in {elapsed:.1f}s with {args.workers} workers → "
        f"{created / elapsed:,.0f} invoices/s (sweep included: {created / (elapsed + sweep):,.0f}/s)"
    )
    print(f"peak RSS: workers {', '.join(f'{r[1]:.0f} MB' for r in results)}; parent {rss_mb():.0f} MB")

    # correctness: every invoice as computed by hand
    wrong = 0
    for number, total in (
        Invoice.objects.filter(organization=organization)
        .values_list("customer__external_id", "fees_amount_cents")
        .iterator(chunk_size=10000)
    ):
        wrong += total != expected_cents(int(number[1:]))
    print(f"checked: {created:,} invoices, {wrong} with a wrong amount; {n:,} subscriptions in the data set")

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
        from invoicing.services.documents import invoice_generate_pdf

        pdf_ids = list(
            Invoice.objects.filter(organization=organization).values_list("id", flat=True)[: args.pdf_sample]
        )
        t = time.perf_counter()
        for invoice_id in pdf_ids:
            invoice_generate_pdf(invoice_id)
        per = (time.perf_counter() - t) / max(len(pdf_ids), 1)
        print(
            f"pdf: {per * 1000:.0f} ms per invoice (separate task; {n * per / 3600 / args.workers:.1f} h for all on {args.workers} workers)"
        )


if __name__ == "__main__":
    main()
