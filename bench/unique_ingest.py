"""What the unique-count state costs ingestion: the PostgreSQL store's batch statement timed for
events of a sum metric and for the same events of a unique-count metric (link rows, their trigger
and the count upserts), in a database of its own.

    .venv/bin/python bench/unique_ingest.py [--database postgres://postgres@127.0.0.1:5432/bxb_bench_unique]
                                            [--batches 50] [--size 1000] [--values 5000]

Each round writes `--batches` batches of `--size` events (`--values` distinct values, one event in
seven a `remove`, timestamps in time order with one event in ten late by up to a day) through
`PostgresEventStore.write`, once as a sum metric and once as a unique count, alternating, and
prints the wall time and the PostgreSQL backend's CPU time (from /proc) per event. The database
is dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import backend_cpu, drop_database, setup_django

DEFAULT = "postgres://postgres@127.0.0.1:5432/bxb_bench_unique"
START = datetime(2024, 3, 1, tzinfo=UTC)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default=DEFAULT)
    parser.add_argument("--batches", type=int, default=50)
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--values", type=int, default=5000)
    args = parser.parse_args()
    setup_django(args.database)
    try:
        run(args)
    finally:
        drop_database(args.database)


def run(args: argparse.Namespace) -> None:

    from customers.services import organization_create
    from metering.ingestion import ParsedEvent
    from metering.store.postgres import PostgresEventStore

    organization, _ = organization_create(f"Bench unique ingest {time.time():.0f}", timezone_name="UTC")
    store = PostgresEventStore()
    rng = random.Random(7)
    backend = backend_cpu()

    def batch(kind: str, number: int) -> list[ParsedEvent]:
        events = []
        for i in range(args.size):
            n = number * args.size + i
            moment = START + timedelta(seconds=n * 2)
            if rng.random() < 0.1:
                moment -= timedelta(seconds=rng.randrange(86400))
            user = f"u{rng.randrange(args.values)}"
            properties = {"user": user, "n": 1, "operation_type": "remove" if n % 7 == 0 else "add"}
            event = ParsedEvent(
                index=i,
                transaction_id=f"{kind}_{n}",
                external_subscription_id="sub",
                external_customer_id="",
                code=kind,
                timestamp=moment,
                properties=properties,
                precise_total_amount_cents=None,
                metric_known=True,
            )
            if kind == "unique":
                event.unique_field = "user"
            else:
                event.value = Decimal(1)
            events.append(event)
        return events

    totals = {"sum": [0.0, 0.0], "unique": [0.0, 0.0]}
    for number in range(args.batches):
        for kind in ("sum", "unique") if number % 2 == 0 else ("unique", "sum"):
            events = batch(kind, number)
            cpu, began = backend(), time.perf_counter()
            store.write(organization.id, events, now=datetime.now(UTC))
            totals[kind][0] += time.perf_counter() - began
            totals[kind][1] += backend() - cpu
    count = args.batches * args.size
    print(
        f"bench/unique_ingest.py  {args.batches} batches of {args.size} events per metric, {args.values} values, "
        f"10% late by up to a day"
    )
    for kind, (wall, cpu) in totals.items():
        print(f"  {kind:>6}: {wall / count * 1e6:7.1f} µs wall, {cpu / count * 1e6:7.1f} µs PostgreSQL CPU per event")
    load = os.getloadavg()
    print(f"load average: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
