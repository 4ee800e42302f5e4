"""The fixed cost of an API request in the web worker: CPU per request through the WSGI handler.

    .venv/bin/python bench/request_path.py [--database postgres://postgres@127.0.0.1:5432/bxb_bench_request_path]
                                           [--iterations 300] [--route customers_page1] [--profile 30] [--sql]
                                           [--redis redis://127.0.0.1:6379/15] [--keep]

Seeds its own PostgreSQL database as `bench/api_load.py` does (a smaller one; dropped afterwards
unless `--keep`) and calls Django's WSGI application directly, as gunicorn's worker does (the whole
middleware, URL resolution, authentication and DRF stack; no socket), `--iterations` times per route.
It prints per route the CPU-ms per request of this process (`time.process_time`), the CPU-ms of its
PostgreSQL backend (from /proc), statements per request and the response size.

Routes: `health` (no authentication, for scale), `customers_page1` (`GET /api/v1/customers?per_page=1`),
`event` (one event, `POST /api/v1/events`), and the four of the api_load mix (`current_usage`,
`invoices_list`, `customer_upsert`, `events_batch`), and `reads`: a customer, the organization, a
plan, a metric, a tax, a subscription and an invoice by id, and the first page (`per_page=1`) of
their lists and of events (`READS`; each can be named alone). Settings are those of the benchmarks' gunicorn
(DEBUG off, LOG_LEVEL=WARNING, rate limits off unless `--redis` is given, which turns the per-key and
per-organization limits on against that Redis database, as `bench/ingest.py` does).
`--profile N` prints the N costliest functions (cProfile timed in CPU time, by internal and cumulative).

`--callgrind` counts instructions instead of CPU time, which the machine's load does not move:
the database is seeded in this process, then a second Python process runs under valgrind's
callgrind with instrumentation off, sends 60 warm-up requests per route, switches it on
(`callgrind_control -i on`), sends `--iterations` requests (200 are plenty), writes the API-log
records they left (the writer's flush, as its thread would, but in this thread: the writer's thread
never writes, so that none of its work can fall outside the count) and switches it off; printed: the
instructions per request of each route (the writer's work included) and the callgrind file, for
`callgrind_annotate`. The per-process caches' lifetimes are set to an hour so that the slow run
sees what a warm worker sees, and the API log is written in batches of 200 records (its
writer's flush interval set to an hour), as in a busy worker. With `--through-worker` the counted process serves the requests
with bxb's gunicorn worker (production's worker class, its heap settled as after its start) on a
loopback socket, one connection per request from a client process outside valgrind: the server
layer (accept, gunicorn's parser and environ, the response's writing, the close) counted too. A run takes a few minutes per route (ten and more on a loaded machine).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import measure_routes, run_on_database, wsgi_request

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/bxb_bench_request_path"
ROUTES = ("health", "customers_page1", "event", "current_usage", "invoices_list", "customer_upsert", "events_batch")
# Simple reads by id and first pages of lists (`--route reads` runs them all): what an API client
# reads most besides the load mix. `{invoice}` is a seeded invoice's id.
READS = {
    "customer": "/api/v1/customers/cust_1",
    "organization": "/api/v1/organizations",
    "plans_page1": "/api/v1/plans?per_page=1",
    "plan": "/api/v1/plans/load",
    "metrics_page1": "/api/v1/billable_metrics?per_page=1",
    "metric": "/api/v1/billable_metrics/load_calls",
    "taxes_page1": "/api/v1/taxes?per_page=1",
    "tax": "/api/v1/taxes/vat",
    "subscriptions_page1": "/api/v1/subscriptions?per_page=1",
    "subscription": "/api/v1/subscriptions/sub_1",
    "invoices_page1": "/api/v1/invoices?per_page=1",
    "invoice": "/api/v1/invoices/{invoice}",
    "events_page1": "/api/v1/events?per_page=1",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default=DEFAULT_DB)
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument(
        "--route", choices=(*ROUTES, *READS, "reads"), action="append", help="only these routes (repeatable)"
    )
    parser.add_argument("--profile", type=int, default=0, help="print the N costliest functions per route")
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--invoices", type=int, default=1000)
    parser.add_argument("--redis", default="", help="turn the rate limits on against this Redis database")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument("--sql", action="store_true", help="print the statements of one request per route")
    parser.add_argument("--callgrind", action="store_true", help="count instructions per request under callgrind")
    parser.add_argument("--callgrind-child", default="", help=argparse.SUPPRESS)  # the key's file, in the child
    parser.add_argument(
        "--through-worker",
        action="store_true",
        help="with --callgrind: through bxb's gunicorn worker and a loopback socket, not the WSGI handler alone",
    )
    parser.add_argument("--worker-client", default="", help=argparse.SUPPRESS)  # the requests' file
    args = parser.parse_args()
    if args.worker_client:
        worker_client(args.worker_client)
        return

    os.environ.update(DEBUG="0", LOG_LEVEL="WARNING", ALLOWED_HOSTS="127.0.0.1,localhost,testserver")
    os.environ.setdefault("SECRET_KEY", "bench-only-secret")
    if args.redis:
        os.environ.update(
            REDIS_URL=args.redis,
            RATE_LIMIT_REQUESTS_PER_MINUTE=str(10**9),
            RATE_LIMIT_EVENTS_PER_MINUTE=str(10**9),
            RATE_LIMIT_KEY_PREFIX=f"bench:{uuid.uuid4().hex[:8]}:",
        )
    else:
        os.environ.pop("REDIS_URL", None)
        os.environ.update(RATE_LIMIT_REQUESTS_PER_MINUTE="0", RATE_LIMIT_EVENTS_PER_MINUTE="0")
    if args.callgrind or args.callgrind_child:
        hour = "3600"  # the slow run must see the caches a warm worker sees
        for name in ("API_KEY_CACHE_SECONDS", "EVENTS_LOOKUP_CACHE_SECONDS", "EVENTS_SUBSCRIPTION_CACHE_SECONDS"):
            os.environ.setdefault(name, hour)
        # and the API log's batches of a busy worker (200 records), not one per second of the slow run:
        # written by the harness's own flush, in one batch of `--iterations` records, never by the
        # writer's thread (woken at API_LOGS_BATCH_SIZE records, it could still be writing when
        # the counting stops: run-to-run differences of 5 %)
        os.environ.setdefault("API_LOGS_FLUSH_SECONDS", hour)
        os.environ.setdefault("API_LOGS_BATCH_SIZE", str(10**9))
    if args.callgrind_child:
        callgrind_child(args)
        return
    run_on_database(args.database, lambda: (run_callgrind if args.callgrind else run)(args), keep=args.keep)


def _routes(args: argparse.Namespace) -> list[str]:
    return [name for route in (args.route or ROUTES) for name in (READS if route == "reads" else [route])]


def _builder(args: argparse.Namespace) -> Callable[[str], tuple[str, str, bytes | None]]:
    """`build(route)`: the (method, path, body) of that route's next request."""
    from bench.api_load import _request
    from invoicing.models import Invoice

    rng = random.Random(1)
    counter = [0]
    invoice = Invoice.objects.order_by("-created_at").values_list("id", flat=True).first()  # this run's

    def build(route: str) -> tuple[str, str, bytes | None]:
        counter[0] += 1
        if route in READS:
            return "GET", READS[route].format(invoice=invoice), None
        if route == "health":
            return "GET", "/health", None
        if route == "customers_page1":
            return "GET", "/api/v1/customers?per_page=1", None
        if route == "event":
            event = {
                "transaction_id": f"rp_{counter[0]}_{uuid.uuid4().hex[:8]}",
                "external_subscription_id": f"sub_{rng.randrange(args.customers)}",
                "code": "load_calls",
                "timestamp": int(time.time()),
                "properties": {"n": rng.randrange(1, 100)},
            }
            return "POST", "/api/v1/events", json.dumps({"event": event}).encode()
        return _request(route, rng, args.customers, 77, counter[0])

    return build


def _caller(args: argparse.Namespace, key: str) -> Callable[[str], int]:
    """`call(route)`: one request of that route through Django's WSGI handler; the response size."""
    from django.core.handlers.wsgi import WSGIHandler

    application = WSGIHandler()
    build = _builder(args)

    def call(route: str) -> int:
        method, path, body = build(route)
        status, content = wsgi_request(application, method, path, key, body)
        if not 200 <= status < 300:
            raise SystemExit(f"{route}: {status}")
        return len(content)

    return call


def run_callgrind(args: argparse.Namespace) -> None:
    """Seed here, count in a child process under callgrind (see the module's docstring)."""
    from django.db import connections

    from bench.api_load import seed

    key = seed(args.customers, args.invoices, events_per_subscription=4)
    connections.close_all()
    with tempfile.TemporaryDirectory(prefix="bxb-callgrind-") as folder:
        key_file = Path(folder) / "key"
        key_file.write_text(key)
        for route in _routes(args):
            out = Path(tempfile.gettempdir()) / f"callgrind.request_path.{route}.{os.getpid()}"
            command = [
                "valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
                sys.executable, __file__, "--database", args.database, "--customers", str(args.customers),
                "--iterations", str(args.iterations), "--route", route, "--callgrind-child", str(key_file),
            ]  # fmt: skip
            if args.redis:
                command += ["--redis", args.redis]
            if args.through_worker:
                command += ["--through-worker"]
            subprocess.run(command, check=True, stderr=subprocess.DEVNULL)
            summary = re.search(r"^totals:\s+(\d+)", out.read_text(), re.MULTILINE)
            if summary is None:
                raise SystemExit(f"no totals in {out}")
            per_request = int(summary.group(1)) / args.iterations
            where = " through the worker" if args.through_worker else ""
            print(f"{route:<17}{per_request:>14,.0f} instructions per request{where}  ({out})", flush=True)
    print(f"\n(load average {Path('/proc/loadavg').read_text().split()[0]}; instruction counts do not depend on it)")


def callgrind_child(args: argparse.Namespace) -> None:
    """Under valgrind: warm up, count `--iterations` requests of the one route, the API log's
    writing included (through bxb's gunicorn worker with `--through-worker`)."""
    os.environ["DATABASE_URL"] = args.database
    os.environ["DJANGO_SETTINGS_MODULE"] = "billing_project.settings"
    import django

    django.setup()
    from audit.api_logs import writer

    key = Path(args.callgrind_child).read_text()
    (route,) = args.route

    def instrument(state: str) -> None:
        subprocess.run(["callgrind_control", "-i", state, str(os.getpid())], check=True, stdout=subprocess.DEVNULL)

    if args.through_worker:
        call = _worker_caller(args, key, route, 60 + args.iterations)
    else:
        caller = _caller(args, key)

        def call() -> None:
            caller(route)

    for _ in range(60):
        call()
    writer.flush()
    instrument("on")
    for _ in range(args.iterations):
        call()
    writer.flush()
    instrument("off")


def _worker_caller(args: argparse.Namespace, key: str, route: str, count: int) -> Callable[[], None]:
    """`serve()`: bxb's gunicorn worker (production's class, its heap settled as after its start)
    accepts and answers one connection on a loopback socket; the `count` requests, built here
    beforehand, are sent one connection each by a client process outside valgrind."""
    import pickle
    import socket

    from django.core.handlers.wsgi import WSGIHandler
    from gunicorn.config import Config
    from gunicorn.glogging import Logger

    from billing_project.core.gunicorn_worker import SyncWorker, settle_heap

    build = _builder(args)
    requests = [build(route) for _ in range(count)]
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    config = Config()
    worker = SyncWorker(1, os.getppid(), [listener], None, 30, config, Logger(config))
    worker.wsgi = WSGIHandler()
    settle_heap()
    folder = Path(args.callgrind_child).parent
    (folder / "requests").write_bytes(pickle.dumps((listener.getsockname()[1], key, requests)))
    subprocess.Popen([sys.executable, __file__, "--worker-client", str(folder / "requests")])

    def serve() -> None:
        worker.notify()
        worker.accept(listener)

    return serve


def worker_client(path: str) -> None:
    """The client of `--through-worker`: each request on a new connection, as the API load's
    clients reconnect after each response of a sync worker."""
    import http.client
    import pickle

    port, key, requests = pickle.loads(Path(path).read_bytes())
    headers = {"Authorization": f"Bearer {key}", "User-Agent": "lago-python-client", "Accept": "*/*"}
    for method, target, body in requests:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        extra = {"Content-Type": "application/json"} if body is not None else {}
        connection.request(method, target, body=body, headers={**headers, **extra})
        response = connection.getresponse()
        response.read()
        connection.close()
        if not 200 <= response.status < 300:
            raise SystemExit(f"{method} {target}: {response.status}")


def run(args: argparse.Namespace) -> None:
    from bench.api_load import seed

    started = time.perf_counter()
    key = seed(args.customers, args.invoices, events_per_subscription=4)
    print(f"seeded {args.customers} customers, {args.invoices} invoices in {time.perf_counter() - started:.1f}s")
    measure_routes(
        _caller(args, key),
        _routes(args),
        iterations=args.iterations,
        warmup=10,
        profile=args.profile,
        sql=args.sql,
        digits=3,
        profile_timer=time.process_time,
    )
    print(f"\n(load average {Path('/proc/loadavg').read_text().split()[0]}; cProfile inflates CPU when --profile)")


if __name__ == "__main__":
    main()
