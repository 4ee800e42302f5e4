"""bxb on several "nodes" of one machine: a load balancer, two API nodes, two billing workers, one
beat, PgBouncer, Redis and PostgreSQL; an API node and a worker killed mid-run.

    .venv/bin/python scripts/topology.py [--customers 120] [--events 4] [--keep]

What runs (each its own process group, as on its own host):
- HAProxy (Debian's `haproxy`) on 127.0.0.1:8190, round robin over two API nodes with a health check
  on `/health`, `retries` and `option redispatch` (a refused connection is tried on the other node);
- two API nodes: gunicorn (1 sync worker each) on 8191 and 8192;
- two Celery workers named `hostA@…` and `hostB@…`, consuming every queue, and one beat;
- PgBouncer (Debian's `pgbouncer`) in transaction mode on 6435 in front of PostgreSQL; every node
  connects through it (`DATABASE_SERVER_SIDE_BINDING=0`: Debian 12's PgBouncer 1.18 does not carry
  prepared statements; `DATABASE_DISABLE_SERVER_SIDE_CURSORS=1`; docs/operations.md, "PostgreSQL
  at scale");
- its own `redis-server` on 6394 (never the shared one) and its own database `bxb_topology`.

The drive: every customer's events of April 2024 are posted in batches through the load balancer
by four clients, which retry a batch that failed (same `transaction_id`s: the retry stores nothing
twice); a third of the way in, API node A is killed (SIGKILL of its whole process group). Then the
billing run of 2024-05-01 is sent; once a few of its batches have reported, worker A is killed the
same way. The watchdog of the run sends the lost batches again to worker B.

Passes when: every event is stored exactly once (count per subscription), every customer has
exactly one invoice for April with the amount its events make (1,000 cents of subscription plus
100 cents per event), the run says `succeeded` with as many invoices, and every batch got an answer
in the end. It prints how many billing batches the watchdog had to send again (those the killed
worker held). Exit status 0 when it passes, 1 when it does not. About 3 to 5 minutes.
"""

from __future__ import annotations

import argparse
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
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from fault_broker import AT, WORKER_ARGS, RedisServer, _seed_billing  # noqa: E402

from bench.common import drop_database, poll, server_env, setup_django  # noqa: E402

DIRECT_URL = "postgres://postgres@127.0.0.1:5432/bxb_topology"
LB_PORT, NODE_PORTS, PGBOUNCER_PORT, REDIS_PORT = 8190, (8191, 8192), 6435, 6394


class Processes:
    """Every process started, each in its own session (killed as a whole)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.running: dict[str, subprocess.Popen] = {}

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
        log = (self.workdir / f"{name}.log").open("w")
        process = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.running[name] = process
        return process

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        process = self.running.pop(name, None)
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)

    def stop_all(self) -> None:
        for name in list(self.running):
            self.kill(name, signal.SIGTERM)


def _as_postgres(argv: list[str]) -> list[str]:
    """PgBouncer refuses to run as root: run it as the `postgres` user then."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *argv]
    return argv


def _wait_http(url: str, seconds: float = 30) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer")


def _pgbouncer(processes: Processes, workdir: Path) -> None:
    workdir.chmod(0o777)
    ini = workdir / "pgbouncer.ini"
    ini.write_text(
        "[databases]\n"
        "bxb_topology = host=127.0.0.1 port=5432 dbname=bxb_topology user=postgres\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {PGBOUNCER_PORT}\n"
        "auth_type = any\npool_mode = transaction\n"
        "max_client_conn = 200\ndefault_pool_size = 20\n"
        # the statement timeout travels as a startup option PgBouncer does not forward
        "ignore_startup_parameters = options,extra_float_digits\n"
        f"unix_socket_dir =\nlogfile = {workdir / 'pgbouncer-file.log'}\n"
    )
    ini.chmod(0o644)
    processes.start("pgbouncer", _as_postgres([str(tool("pgbouncer")), str(ini)]))
    deadline = time.time() + 15
    import psycopg

    while time.time() < deadline:
        try:
            with psycopg.connect(f"postgres://postgres@127.0.0.1:{PGBOUNCER_PORT}/bxb_topology", connect_timeout=1):
                return
        except psycopg.OperationalError:
            time.sleep(0.2)
    raise RuntimeError("pgbouncer did not start")


def _haproxy(processes: Processes, workdir: Path) -> None:
    cfg = workdir / "haproxy.cfg"
    servers = "\n".join(
        f"  server node{i} 127.0.0.1:{port} check inter 500 fall 2 rise 2" for i, port in enumerate(NODE_PORTS)
    )
    cfg.write_text(
        "global\n  maxconn 512\n"
        "defaults\n  mode http\n  timeout connect 2s\n  timeout client 60s\n  timeout server 60s\n"
        "  retries 3\n  option redispatch\n"
        f"listen api\n  bind 127.0.0.1:{LB_PORT}\n  balance roundrobin\n"
        "  option httpchk GET /health\n  http-check expect status 200\n"
        f"{servers}\n"
    )
    processes.start("haproxy", [str(tool("haproxy")), "-f", str(cfg), "-db"])
    _wait_http(f"http://127.0.0.1:{LB_PORT}/health")


def _post(url: str, key: str, body: dict) -> int:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    request.add_header("Authorization", f"Bearer {key}")
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0  # connection reset: the node died under the request


class Drive:
    """Clients posting batches through the load balancer; a failed batch is sent again."""

    def __init__(self, key: str, batches: list[list[dict]]) -> None:
        self.key, self.batches = key, batches
        self.next = 0
        self.lock = threading.Lock()
        self.sent = 0
        self.retries = 0
        self.unanswered = 0
        self.statuses: dict[int, int] = {}

    def _take(self) -> list[dict] | None:
        with self.lock:
            if self.next >= len(self.batches):
                return None
            batch = self.batches[self.next]
            self.next += 1
            return batch

    def client(self) -> None:
        url = f"http://127.0.0.1:{LB_PORT}/api/v1/events/batch"
        while (batch := self._take()) is not None:
            for attempt in range(20):
                status = _post(url, self.key, {"events": batch})
                with self.lock:
                    self.statuses[status] = self.statuses.get(status, 0) + 1
                if 200 <= status < 300:
                    break
                with self.lock:
                    self.retries += 1
                time.sleep(0.2 * (attempt + 1))
            else:
                with self.lock:
                    self.unanswered += 1
            with self.lock:
                self.sent += 1


def tool(name: str) -> str | None:
    """A program on PATH or in /usr/sbin (Debian puts haproxy and pgbouncer there)."""
    return shutil.which(name) or shutil.which(name, path="/usr/sbin")


def run(args: argparse.Namespace) -> bool:
    for name in ("haproxy", "pgbouncer", "redis-server"):
        if tool(name) is None:
            print(f"{name} is missing (apt-get install -y haproxy pgbouncer redis-server)")
            return False
    workdir = Path(tempfile.mkdtemp(prefix="bxb-topology-"))
    processes = Processes(workdir)
    redis_server = RedisServer(REDIS_PORT)
    redis_server.start()
    media = workdir / "media"
    media.mkdir()
    try:
        os.environ.update(REDIS_URL=redis_server.url, MEDIA_ROOT=str(media), BILLING_BATCH_SIZE=str(args.batch_size))
        drop_database(DIRECT_URL)  # a kept database of an earlier run is started afresh
        setup_django(DIRECT_URL)
        from billing_project.celery import app
        from customers.services import api_key_create
        from invoicing.models import BillingRun, Invoice
        from metering.models import Event

        organization: Any = _seed_billing(args.customers)
        _, key = api_key_create(organization, name="topology")
        _pgbouncer(processes, workdir)
        env = server_env(
            f"postgres://postgres@127.0.0.1:{PGBOUNCER_PORT}/bxb_topology",
            DATABASE_SERVER_SIDE_BINDING="0",
            DATABASE_DISABLE_SERVER_SIDE_CURSORS="1",
            SECRET_KEY="topology-only-secret",
            ALLOWED_HOSTS="*",
            LOG_FORMAT="plain",
            WEB_CONCURRENCY="1",
        )
        env.pop("CLICKHOUSE_URL", None)
        gunicorn = str(ROOT / ".venv/bin/gunicorn")
        celery = str(ROOT / ".venv/bin/celery")
        for i, port in enumerate(NODE_PORTS):
            node_env = dict(env, GUNICORN_BIND=f"127.0.0.1:{port}")
            processes.start(f"api{'AB'[i]}", [gunicorn, "billing_project.wsgi:application"], node_env)
        for port in NODE_PORTS:
            _wait_http(f"http://127.0.0.1:{port}/health", 60)
        _haproxy(processes, workdir)
        for host in "AB":
            processes.start(
                f"worker{host}",
                [celery, "-A", "billing_project", "worker", "-n", f"host{host}@%h", "--concurrency", "1",
                 *WORKER_ARGS.split()],
                env,
            )  # fmt: skip
        processes.start("beat", [celery, "-A", "billing_project", "beat", "-s", str(workdir / "beat")], env)
        time.sleep(5)

        # 1. Events through the load balancer; API node A dies a third of the way in.
        april = datetime(2024, 4, 2, tzinfo=UTC)
        events = [
            {
                "transaction_id": f"t{i}-{j}",
                "code": "c",
                "external_subscription_id": f"s{i}",
                "timestamp": str(int((april + timedelta(hours=i % 500, minutes=j)).timestamp())),
                "properties": {},
            }
            for i in range(args.customers)
            for j in range(args.events)
        ]
        batches = [events[k : k + 20] for k in range(0, len(events), 20)]
        drive = Drive(key, batches)
        clients = [threading.Thread(target=drive.client) for _ in range(4)]
        started = time.monotonic()
        for thread in clients:
            thread.start()
        while drive.sent < len(batches) // 3 and any(t.is_alive() for t in clients):
            time.sleep(0.05)
        processes.kill("apiA")
        print(f"API node A killed after {drive.sent} of {len(batches)} batches")
        for thread in clients:
            thread.join()
        print(
            f"ingestion: {len(batches)} batches in {time.monotonic() - started:.1f}s, answers {drive.statuses}, "
            f"{drive.retries} retried, {drive.unanswered} never answered"
        )

        # 2. The billing day; worker A dies once a few batches have reported.
        from django.utils import timezone

        sent_at = timezone.now()
        app.send_task("invoicing.billing_sweep", args=[AT.isoformat()])
        run_row = poll(
            lambda: BillingRun.objects.filter(created_at__gte=sent_at).order_by("created_at").first(),
            lambda row: row is not None and row.batches_reported >= 1,
            120,
        )
        if run_row is None:
            print("the billing run never started")
            return False
        processes.kill("workerA")
        run_row.refresh_from_db()
        print(f"worker A killed: {run_row.batches_reported} of {run_row.batches_total} batches reported")
        deadline = time.monotonic() + args.settle
        while time.monotonic() < deadline:
            run_row.refresh_from_db()
            if run_row.status in ("succeeded", "failed"):
                break
            time.sleep(2)
        print(
            f"run {run_row.status}: batches {run_row.batches_reported}/{run_row.batches_total}, "
            f"invoices {run_row.invoices_created}, batches sent again by the watchdog: {run_row.retries}"
        )

        # 3. Nothing lost, nothing doubled.
        stored = Event.objects.filter(organization=organization).count()
        invoices = Invoice.objects.filter(organization=organization, issuing_date=AT.date())
        totals: dict = {}
        for customer_id, total in invoices.values_list("customer_id", "total_amount_cents"):
            totals.setdefault(customer_id, []).append(total)
        expected = 1000 + 100 * args.events
        once = sum(1 for t in totals.values() if len(t) == 1)
        right = sum(1 for t in totals.values() if t == [expected])
        print(f"events stored {stored} of {len(events)} sent once each")
        print(f"customers invoiced once: {once} of {args.customers}; with {expected} cents: {right}")
        return (
            drive.unanswered == 0
            and stored == len(events)
            and run_row.status == "succeeded"
            and once == right == args.customers == invoices.count() == run_row.invoices_created
        )
    finally:
        processes.stop_all()
        redis_server.kill()
        if not args.keep:
            drop_database(DIRECT_URL)
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"logs and configuration kept in {workdir}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=240)
    parser.add_argument("--events", type=int, default=3, help="events per customer")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=40,
        help="customers per billing batch (a batch long enough that the killed worker dies holding one)",
    )
    parser.add_argument("--settle", type=float, default=420.0, help="seconds to wait for the run to close")
    parser.add_argument("--keep", action="store_true", help="keep the database, logs and configuration")
    args = parser.parse_args()
    try:
        ok = run(args)
    finally:
        for server in RedisServer.started:
            server.kill()
    print("PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
