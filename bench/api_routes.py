"""Cost of each route of the API load mix, one route at a time, in-process (no HTTP, no gunicorn).

    .venv/bin/python bench/api_routes.py [--database postgres://postgres@127.0.0.1:5432/bxb_bench_routes]
                                         [--iterations 200] [--route current_usage] [--profile 30]
                                         [--sql] [--binding server|client] [--keep]

Seeds its own PostgreSQL database exactly as `bench/api_load.py` does (it drops it afterwards
unless `--keep`), then calls each route of the mix through Django's test client (the whole
middleware, authentication and DRF stack, but no socket or WSGI server) `--iterations` times and
prints, per route:

- statements per request (`CaptureQueriesContext` on one request),
- CPU-ms per request of this Python process (`time.process_time`),
- CPU-ms per request of its PostgreSQL backend (utime + stime from /proc, same machine),
- wall ms per request (distorted when the machine is shared; the load average is printed).

`--route customer_create` / `--route customer_update` measure the upsert's two halves apart (a new
customer on every request, or an update of a seeded one); `customer_upsert` alternates them.

`GET /api/v1/organizations` style fixed costs are shown by the `baseline` route
(`GET /api/v1/customers/{id}`: authentication + one row + the customer representation), so the
route-specific part is the difference. `--profile N` prints the N most expensive functions
(cProfile, by internal and by cumulative time) of each route, `--sql` the statements of one
request, and `--binding client` runs with Django's client-side binding
(`DATABASE_SERVER_SIDE_BINDING=0`) instead of the default server-side binding with prepared
statements, to compare the two.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import add_binding_option, apply_binding, measure_routes, run_on_database

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/bxb_bench_routes"
ROUTES = ("baseline", "current_usage", "invoices_list", "customer_upsert", "events_batch")
# Only when asked for (`--route`): the upsert's two halves apart, a new customer each time or an
# update of a seeded one (`customer_upsert` alternates them, as the load mix does).
UPSERT_ROUTES = ("customer_create", "customer_update")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default=DEFAULT_DB)
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument(
        "--route", choices=ROUTES + UPSERT_ROUTES, action="append", help="only these routes (repeatable)"
    )
    parser.add_argument("--profile", type=int, default=0, help="print the N costliest functions per route")
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--invoices", type=int, default=5000)
    parser.add_argument("--keep", action="store_true", help="keep the database (re-seeded on each run)")
    parser.add_argument("--sql", action="store_true", help="print the statements of one request per route")
    add_binding_option(parser)
    args = parser.parse_args()

    os.environ.setdefault("RATE_LIMIT_REQUESTS_PER_MINUTE", "0")
    os.environ.setdefault("RATE_LIMIT_EVENTS_PER_MINUTE", "0")
    os.environ.pop("REDIS_URL", None)
    apply_binding(args.binding)
    run_on_database(args.database, lambda: run(args), keep=args.keep)


def run(args: argparse.Namespace) -> None:
    from django.db import connection
    from django.test import Client

    from bench.api_load import _request, seed

    started = time.perf_counter()
    key = seed(args.customers, args.invoices)
    print(f"seeded {args.customers} customers, {args.invoices} invoices in {time.perf_counter() - started:.1f}s")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    rng = random.Random(1)
    counter = [0]

    def call(route: str) -> int:
        counter[0] += 1
        if route == "baseline":
            response = client.get(f"/api/v1/customers/cust_{rng.randrange(args.customers)}")
        elif route in UPSERT_ROUTES:
            n = counter[0]
            external_id = f"created_{n}" if route == "customer_create" else f"cust_{rng.randrange(args.customers)}"
            body = json.dumps({"customer": {"external_id": external_id, "name": f"Upserted {n}", "currency": "USD"}})
            response = client.post("/api/v1/customers", data=body, content_type="application/json")
        else:
            method, path, body = _request(route, rng, args.customers, 77, counter[0])
            if method == "GET":
                response = client.get(path)
            else:
                response = client.post(path, data=body, content_type="application/json")
        if not 200 <= response.status_code < 300:
            raise SystemExit(f"{route}: {response.status_code} {response.content[:300]!r}")
        return len(response.content)

    options = connection.settings_dict["OPTIONS"]
    binding = "server-side" if options.get("server_side_binding") else "client-side"
    print(f"binding: {binding}, prepare_threshold {options.get('prepare_threshold')}")
    measure_routes(call, args.route or ROUTES, iterations=args.iterations, warmup=5, profile=args.profile, sql=args.sql)
    with connection.cursor() as cursor:
        # Memory of this connection's backend: the prepared statements psycopg left on it (at most
        # its prepared_max, 100) and the plan caches they hold, against the backend's total.
        cursor.execute("SELECT count(*) FROM pg_prepared_statements")
        prepared = cursor.fetchone()[0]
        cursor.execute(
            "SELECT coalesce(sum(total_bytes) FILTER (WHERE name LIKE 'CachedPlan%%'), 0), sum(total_bytes) "
            "FROM pg_backend_memory_contexts"
        )
        plans, total = cursor.fetchone()
    print(
        f"\nPostgreSQL backend: {prepared} prepared statements, plan caches {plans / 1024:.0f} KiB "
        f"of {total / 1024:.0f} KiB allocated by the backend"
    )
    print(f"(load average {Path('/proc/loadavg').read_text().split()[0]}; cProfile inflates CPU when --profile)")


if __name__ == "__main__":
    main()
