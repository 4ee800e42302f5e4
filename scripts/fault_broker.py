"""Broker faults reproduced against a Redis of our own (never the shared one), as production runs bxb.

    .venv/bin/python scripts/fault_broker.py stall   [--redis-port 6391] [--keep]
    .venv/bin/python scripts/fault_broker.py restart [--redis-port 6391] [--restarts 6] [--customers 120] [--keep]

Both start their own `redis-server` (`--save "" --appendonly no`) on `--redis-port` (loopback only)
and their own PostgreSQL database (`bxb_fault_broker`, dropped at the end unless `--keep`).

stall    gunicorn as production runs it (gunicorn.conf.py: 2 sync workers, 30 s timeout) with a
         webhook endpoint; Redis is frozen (SIGSTOP of *our* redis-server) and a customer is
         created through the API, which enqueues its `customer.created` webhook on commit. Passes
         when the request answers 200 at most 1.8 s slower than with Redis up (before the broker
         timeouts it hung until gunicorn killed the worker at 30 s), `/health/ready` answers 503 naming Redis, and, Redis
         thawed, the webhook sweeper delivers the webhook once.

restart  a Celery worker (`celery -A billing_project worker`, 2 processes) bills `--customers`
         customers (the billing sweep, their PDFs) while our Redis is killed and started again
         `--restarts` times, every few seconds. Passes when the worker process survives every
         restart (kombu's `restore_unacked_once` AttributeError used to kill it about one time in
         three), and, after the sweepers have run (billing sweep, PDF sweep), every customer has
         exactly one invoice of the right amount and a PDF, and the billing runs' records are true.

Exit status 0 when bxb survives the fault, 1 when it does not.
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import Gunicorn, drop_database, pass_or_fail, server_env, setup_django  # noqa: E402

DATABASE_URL = "postgres://postgres@127.0.0.1:5432/bxb_fault_broker"
AT = datetime(2024, 5, 1, 1, tzinfo=UTC)
# The worker's options in production (docker-compose.yml, docs/operations.md).
WORKER_ARGS = "--without-gossip --without-mingle"


class RedisServer:
    """Our own redis-server on loopback: started, frozen, thawed, killed. Never the shared one."""

    started: list[RedisServer] = []

    def __init__(self, port: int) -> None:
        if port == 6379:
            raise SystemExit("refusing to use port 6379: the shared Redis of other work")
        self.port = port
        self.process: subprocess.Popen | None = None
        RedisServer.started.append(self)

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                import redis

                if redis.Redis(port=self.port, socket_timeout=0.5).ping():
                    return
            except Exception:
                time.sleep(0.1)
        raise RuntimeError("redis-server did not start")

    def freeze(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGCONT)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGCONT)
            self.process.kill()
            self.process.wait(10)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


class Receiver(http.server.ThreadingHTTPServer):
    """A webhook receiver on loopback that remembers what it got."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                server.received.append(json.loads(body or b"{}"))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"


def _request(method: str, url: str, key: str, body: dict | None = None, timeout: float = 60) -> tuple[int, float]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Authorization", f"Bearer {key}")
    request.add_header("Content-Type", "application/json")
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except OSError:
        status = 0  # connection reset: gunicorn killed the worker
    return status, time.monotonic() - started


def stall(args: argparse.Namespace) -> bool:
    redis_server = RedisServer(args.redis_port)
    redis_server.start()
    receiver = Receiver()
    os.environ["WEBHOOKS_ALLOW_PRIVATE_TARGETS"] = "1"
    setup_django(DATABASE_URL)
    from customers.services import api_key_create, organization_create
    from webhooks.models import WebhookDelivery, WebhookEndpoint

    organization, _ = organization_create(f"Broker stall {time.time():.0f}")
    _, key = api_key_create(organization, name="fault")
    WebhookEndpoint.objects.create(organization=organization, webhook_url=receiver.url)
    ok = True
    env = {
        "REDIS_URL": redis_server.url,
        "WEBHOOKS_ALLOW_PRIVATE_TARGETS": "1",
        "RATE_LIMIT_REQUESTS_PER_MINUTE": "6000",
    }
    with Gunicorn(DATABASE_URL, 18793, extra_env=env):
        base = "http://127.0.0.1:18793/api/v1/customers"
        status, baseline = _request("POST", base, key, {"customer": {"external_id": "before", "currency": "USD"}})
        print(f"Redis up:     POST /customers -> {status} in {baseline:.2f} s")
        redis_server.freeze()
        try:
            # Allowed: the rate limiter's 0.5 s and a publish of about 2 x BROKER_SOCKET_TIMEOUT, plus noise.
            status, took = _request("POST", base, key, {"customer": {"external_id": "stalled", "currency": "USD"}})
            print(
                f"Redis frozen: POST /customers -> {status} in {took:.2f} s (+{took - baseline:.2f} s; must be 200, < +1.8 s)"
            )
            ok &= status == 200 and took - baseline < 1.8
            status2, took2 = _request("POST", base, key, {"customer": {"external_id": "stalled-2", "currency": "USD"}})
            print(
                f"Redis frozen: POST /customers -> {status2} in {took2:.2f} s (the next request, maybe the other worker)"
            )
            ok &= status2 == 200 and took2 - baseline < 1.8
            ready, took = _request("GET", "http://127.0.0.1:18793/health/ready", key, timeout=10)
            print(f"Redis frozen: GET /health/ready -> {ready} in {took:.2f} s (must be 503)")
            ok &= ready == 503
        finally:
            redis_server.thaw()
    stalled = WebhookDelivery.objects.filter(organization=organization, webhook_type="customer.created")
    print(f"customer.created deliveries recorded: {stalled.count()} (3 customers)")
    ok &= stalled.count() == 3
    # Redis is back: the sweeper (beat, every 5 minutes; here by hand) sends what the hooks could not.
    from django.conf import settings

    settings.CELERY_TASK_ALWAYS_EAGER = True
    from billing_project.celery import app

    app.conf.task_always_eager = True
    from django.core.management import call_command

    call_command("webhooks_sweep")
    deadline = time.time() + 10
    while time.time() < deadline and len(receiver.received) < 3:
        time.sleep(0.1)
    external_ids = sorted(r.get("customer", {}).get("external_id", "?") for r in receiver.received)
    print(f"webhooks received after the sweep: {external_ids}")
    ok &= sorted(set(external_ids)) == ["before", "stalled", "stalled-2"] and len(external_ids) == 3
    redis_server.kill()
    if not args.keep:
        drop_database(DATABASE_URL)
    return ok


def _seed_billing(customers: int) -> object:
    from catalog.models import BillableMetric, Charge, Plan
    from customers.models import Customer
    from customers.services import organization_create
    from subscriptions.models import Subscription

    organization, _ = organization_create(f"Broker restart {time.time():.0f}")
    plan = Plan.objects.create(
        organization=organization, name="p", code="p", interval="monthly", amount_cents=1000, amount_currency="USD"
    )
    metric = BillableMetric.objects.create(organization=organization, name="c", code="c", aggregation_type="count_agg")
    Charge.objects.create(
        organization=organization,
        plan=plan,
        billable_metric=metric,
        charge_model="standard",
        properties={"amount": "1"},
    )
    started = datetime(2024, 4, 1, tzinfo=UTC)
    for i in range(customers):
        customer = Customer.objects.create(
            organization=organization, external_id=f"c{i}", name=f"c{i}", currency="USD", sequential_id=i + 1
        )
        Subscription.objects.create(
            organization=organization, customer=customer, plan=plan, external_id=f"s{i}", status="active",
            subscription_at=started, started_at=started,
        )  # fmt: skip
    return organization


def restart(args: argparse.Namespace) -> bool:
    redis_server = RedisServer(args.redis_port)
    redis_server.start()
    os.environ["REDIS_URL"] = redis_server.url
    media = tempfile.mkdtemp(prefix="bxb-fault-media-")
    os.environ["MEDIA_ROOT"] = media
    setup_django(DATABASE_URL)
    from invoicing.models import BillingRun, Invoice

    organization = _seed_billing(args.customers)
    env = server_env(
        DATABASE_URL, REDIS_URL=redis_server.url, MEDIA_ROOT=media, SECRET_KEY="fault-only-secret", LOG_FORMAT="plain"
    )
    log_path = Path(tempfile.mkstemp(prefix="bxb-fault-worker-", suffix=".log")[1])
    log = log_path.open("w")
    worker = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/celery"),
            "-A",
            "billing_project",
            "worker",
            "--concurrency",
            "2",
            "--loglevel",
            "WARNING",
            *args.worker_args.split(),
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    time.sleep(6)
    from billing_project.celery import app

    app.send_task("invoicing.billing_sweep", args=[AT.isoformat()])
    survived = 0
    for attempt in range(1, args.restarts + 1):
        time.sleep(args.interval)
        redis_server.kill()
        time.sleep(1)
        redis_server.start()
        time.sleep(3)
        alive = worker.poll() is None
        survived += alive
        print(f"restart {attempt}: worker " + ("alive" if alive else f"DEAD (exit {worker.returncode})"))
        if not alive:
            break
        # The queued work was lost with our Redis (no persistence): the hourly sweep sends it again.
        app.send_task("invoicing.billing_sweep", args=[AT.isoformat()])
    ok = survived == args.restarts and worker.poll() is None
    if ok:
        # After the faults: the sweepers beat would run (billing, missing PDFs), then wait for quiet.
        app.send_task("invoicing.billing_sweep", args=[AT.isoformat()])
        app.send_task("invoicing.pdfs_sweep", kwargs={"grace_seconds": 0})
        deadline = time.time() + args.settle
        while time.time() < deadline:
            done = Invoice.objects.filter(organization=organization).exclude(file="").count()
            if done >= args.customers and not BillingRun.objects.filter(status="running").exists():
                break
            time.sleep(2)
            if int(deadline - time.time()) % 20 == 0:
                app.send_task("invoicing.pdfs_sweep", kwargs={"grace_seconds": 0})
    worker.send_signal(signal.SIGTERM)
    try:
        worker.wait(30)
    except subprocess.TimeoutExpired:
        worker.kill()
    log.close()
    invoices = Invoice.objects.filter(organization=organization)
    per_customer = {}
    for customer_id, total in invoices.values_list("customer_id", "total_amount_cents"):
        per_customer.setdefault(customer_id, []).append(total)
    once = sum(1 for totals in per_customer.values() if len(totals) == 1)
    right = sum(1 for totals in per_customer.values() if totals == [1000])
    with_pdf = invoices.exclude(file="").count()
    runs = list(BillingRun.objects.order_by("created_at").values_list("status", "invoices_created", "customers_due"))
    print(f"worker survived {survived} of {args.restarts} restarts")
    print(f"customers invoiced once: {once} of {args.customers}; right amount: {right}; PDFs: {with_pdf}")
    print(f"invoices in the database: {invoices.count()}; billing runs (status, invoices, due): {runs}")
    true_record = sum(r[1] for r in runs) == invoices.count()
    print(f"runs' invoice counts add up to the invoices: {true_record}")
    crashes = [line for line in log_path.read_text().splitlines() if "Traceback" in line or "AttributeError" in line]
    print(f"worker log ({log_path}): {len(crashes)} traceback/AttributeError lines")
    for line in crashes[:5]:
        print("   ", line[:200])
    ok &= once == right == with_pdf == args.customers == invoices.count() and true_record
    redis_server.kill()
    if not args.keep:
        drop_database(DATABASE_URL)
        shutil.rmtree(media, ignore_errors=True)
    return bool(ok)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("fault", choices=["stall", "restart"])
    parser.add_argument("--redis-port", type=int, default=6391)
    parser.add_argument("--restarts", type=int, default=6)
    parser.add_argument("--interval", type=float, default=4.0, help="seconds between restarts")
    parser.add_argument("--customers", type=int, default=120)
    parser.add_argument("--settle", type=float, default=180.0, help="seconds to wait for the sweepers")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument(
        "--worker-args",
        default=WORKER_ARGS,
        help="options of `celery worker` (default: production's, as in docker-compose.yml: %(default)s)",
    )
    args = parser.parse_args()
    pass_or_fail(lambda: stall(args) if args.fault == "stall" else restart(args), RedisServer.started)


if __name__ == "__main__":
    main()
