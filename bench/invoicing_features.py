"""Cost of prorated charges, invoice previews and regrouped paid fees (docs/invoicing.md §7).

    .venv/bin/python bench/invoicing_features.py [--database postgres://postgres@127.0.0.1:5432/bxb_h4_bench]
                                                 [--events 400] [--runs 30] [--keep]

Builds its own database (created if missing, dropped at the end unless `--keep`), one organization
with a customer on a monthly plan whose seats charge (recurring sum metric, graduated) exists twice,
prorated and not, and `--events` seat events (half before the billed month, half in it). Then, per
operation, prints the median over `--runs` calls of:

* statements sent to PostgreSQL (CaptureQueriesContext);
* CPU ms of this Python process (`time.process_time`, median) and of its PostgreSQL backend
  (`/proc/<pg_backend_pid>/stat` utime + stime over all the runs / runs, when the server runs on
  this machine; the counter moves in 10 ms ticks);
* wall-clock ms, with the load average at the time (wall-clock is distorted by other work on a
  shared machine: compare CPU and statements).

Operations: current usage of the prorated and the unprorated charge (same events); an invoice
preview of a new subscription and of the existing one; regrouping 10 paid pay-in-advance fees.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import monthly_plan, setup_django

DEFAULT_FEATURES_DB = "postgres://postgres@127.0.0.1:5432/bxb_h4_bench"
RANGES = {
    "graduated_ranges": [
        {"from_value": 0, "to_value": 5, "per_unit_amount": "10", "flat_amount": "100"},
        {"from_value": 6, "to_value": 15, "per_unit_amount": "5", "flat_amount": "50"},
        {"from_value": 16, "to_value": None, "per_unit_amount": "2", "flat_amount": "0"},
    ]
}


def _backend_cpu_ms() -> float | None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) * 1000 / ticks


def measure(label: str, runs: int, call) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    statements, cpu, wall = [], [], []
    db_start = _backend_cpu_ms()  # clock ticks (10 ms): measured over all the runs, then averaged
    for _ in range(runs):
        cpu_before, wall_before = time.process_time(), time.perf_counter()
        with CaptureQueriesContext(connection) as queries:
            call()
        cpu.append((time.process_time() - cpu_before) * 1000)
        wall.append((time.perf_counter() - wall_before) * 1000)
        statements.append(len(queries.captured_queries))
    db_end = _backend_cpu_ms()
    row = {
        "operation": label,
        "statements": int(statistics.median(statements)),
        "cpu_ms": statistics.median(cpu),
        "db_cpu_ms": (db_end - db_start) / runs if db_start is not None and db_end is not None else None,
        "wall_ms": statistics.median(wall),
        "load": os.getloadavg()[0],
    }
    db = f"{row['db_cpu_ms']:.1f}" if row["db_cpu_ms"] is not None else "n/a"
    print(
        f"{label:<44} {row['statements']:>4} stmts  {row['cpu_ms']:>7.1f} ms CPU (py)  {db:>6} ms CPU (pg)  "
        f"{row['wall_ms']:>7.1f} ms wall  load {row['load']:.1f}",
        flush=True,
    )
    return row


def build(events: int):
    from catalog.models import BillableMetric, Charge
    from customers.inputs import CustomerUpsert
    from customers.services import customer_upsert, organization_create
    from metering.services import events_ingest
    from subscriptions.models import Subscription

    organization, _ = organization_create(f"Bench features {time.time():.0f}", timezone_name="UTC")
    customer, _ = customer_upsert(organization, CustomerUpsert(external_id="bench-features", currency="USD"))
    plan = monthly_plan(organization, "seats", 1000)
    metrics = {}
    for code in ("seats_prorated", "seats_full", "advance"):
        metrics[code] = BillableMetric.objects.create(
            organization=organization,
            name=code,
            code=code,
            aggregation_type="sum_agg" if code != "advance" else "count_agg",
            field_name="n" if code != "advance" else "",
            recurring=code != "advance",
        )
    Charge.objects.create(
        organization=organization, plan=plan, billable_metric=metrics["seats_prorated"], code="prorated",
        charge_model="graduated", properties=RANGES, prorated=True,
    )  # fmt: skip
    Charge.objects.create(
        organization=organization, plan=plan, billable_metric=metrics["seats_full"], code="full",
        charge_model="graduated", properties=RANGES,
    )  # fmt: skip
    Charge.objects.create(
        organization=organization, plan=plan, billable_metric=metrics["advance"], code="advance",
        charge_model="standard", properties={"amount": "1"}, pay_in_advance=True, invoiceable=False,
        regroup_paid_fees="invoice",
    )  # fmt: skip
    started = datetime(2024, 1, 1, tzinfo=UTC)
    sub = Subscription.objects.create(
        organization=organization, customer=customer, plan=plan, external_id="bench-sub", status="active",
        subscription_at=started, started_at=started,
    )  # fmt: skip
    payloads = []
    for i in range(events):
        # half in February (carried into March), half in March 2024, +1 / −1 seats
        day = 1 + (i // 2) % 28
        month = 2 if i < events // 2 else 3
        for code in ("seats_prorated", "seats_full"):
            payloads.append(
                {
                    "transaction_id": f"{code}-{i}",
                    "code": code,
                    "external_subscription_id": "bench-sub",
                    "timestamp": str(int(datetime(2024, month, day, 10, tzinfo=UTC).timestamp())),
                    "properties": {"n": "1" if i % 3 else "-1"},
                }
            )
    for start in range(0, len(payloads), 100):
        events_ingest(organization, payloads[start : start + 100])
    from invoicing.billing.run import customer_bill

    customer_bill(customer.id, at=datetime(2024, 3, 1, 1, tzinfo=UTC))  # January and February are billed
    return organization, customer, sub


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", default=DEFAULT_FEATURES_DB)
    parser.add_argument("--events", type=int, default=400)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    args = parser.parse_args()
    setup_django(args.database)

    from django.conf import settings
    from django.db import connection

    settings.INVOICE_PDF_ON_FINALIZE = False  # PDFs are their own task (docs/invoicing.md §3), not measured here

    from catalog.models import Charge
    from invoicing.api.preview import preview_input
    from invoicing.billing import pricing
    from invoicing.billing.snapshot import charge_snapshot
    from invoicing.models import Fee, Invoice
    from invoicing.selectors import current_usage
    from invoicing.services.advance import paid_fees_regroup, pay_in_advance_fees
    from invoicing.services.lifecycle import fee_update
    from invoicing.services.preview import invoice_preview
    from metering.models import Event
    from metering.services import events_ingest
    from subscriptions import periods
    from subscriptions.selectors import schedule_for

    try:
        organization, customer, sub = build(args.events)
        print(f"{args.events} events per seats charge; medians over {args.runs} runs", flush=True)
        schedule = schedule_for(sub)
        march = periods.Window(datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 4, 1, tzinfo=UTC))
        for code in ("prorated", "full"):
            charge = charge_snapshot(Charge.objects.select_related("billable_metric").get(plan=sub.plan, code=code))
            measure(
                f"price_charge, {code} graduated (March)",
                args.runs,
                lambda charge=charge: pricing.price_charge(
                    organization, external_subscription_id="bench-sub", charge=charge, window=march,
                    started_at=sub.started_at, currency="USD", schedule=schedule,
                ),
            )  # fmt: skip
        at = datetime(2024, 3, 20, tzinfo=UTC)
        measure(
            "current usage (3 charges, one prorated)",
            args.runs,
            lambda: current_usage(
                organization, external_customer_id="bench-features", external_subscription_id="bench-sub", at=at
            ),
        )
        measure(
            "invoice preview, new subscription",
            args.runs,
            lambda: invoice_preview(
                organization,
                preview_input(
                    {"customer": {"name": "Prospect"}, "plan_code": "seats", "subscription_at": "2024-03-10"}
                ),
            ),
        )
        measure(
            "invoice preview, existing subscription",
            args.runs,
            lambda: invoice_preview(
                organization,
                preview_input(
                    {"customer": {"external_id": "bench-features"}, "subscriptions": {"external_ids": ["bench-sub"]}}
                ),
                now=at,
            ),
        )
        # 10 paid pay-in-advance fees per regroup invoice
        runs = max(3, args.runs // 3)

        def regroup_round() -> None:
            events_ingest(
                organization,
                [
                    {
                        "transaction_id": f"adv-{time.time_ns()}-{k}",
                        "code": "advance",
                        "external_subscription_id": "bench-sub",
                        "timestamp": str(int(datetime(2024, 3, 2 + k, tzinfo=UTC).timestamp())),
                        "properties": {},
                    }
                    for k in range(10)
                ],
            )
            for fee in pay_in_advance_fees(organization, external_subscription_ids=["bench-sub"], now=at):
                fee_update(organization, fee_id=fee.id, payment_status="succeeded", now=at)

        for round_index in range(runs):
            regroup_round()
            label = "regroup 10 paid fees (one invoice)" + (" [first]" if round_index == 0 else "")
            measure(label, 1, lambda: paid_fees_regroup(customer.id, at=march.end))
            # start the next round from scratch: no advance events, fees or regroup invoices
            Fee.objects.filter(charge__code="advance").delete()
            Invoice.objects.filter(customer=customer, invoice_type="advance_charges").delete()
            Event.objects.filter(organization=organization, code="advance").delete()
    finally:
        connection.close()
        if not args.keep:
            _drop(args.database)


def _drop(database_url: str) -> None:
    import psycopg

    parsed = urlparse(database_url)
    name = parsed.path.lstrip("/")
    admin = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(f"dropped {name}")


if __name__ == "__main__":
    main()
