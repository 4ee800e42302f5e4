"""A Celery worker killed (SIGKILL: the OOM killer, a lost node) in the middle of a billing run.

    .venv/bin/python scripts/fault_worker.py [--customers 300] [--batch-size 20] [--redis-port 6391] [--keep]

Starts its own `redis-server` (`--save "" --appendonly no`, loopback, never the shared one) and
its own PostgreSQL database (`bxb_fault_worker`, dropped at the end unless `--keep`), seeds
`--customers` customers due for billing, starts a worker as production runs it, sends the billing
sweep, and kills the worker's whole process group with SIGKILL once a few batches have reported:
the batches it held are lost to it (their messages stay unacknowledged in Redis until the
visibility timeout, 30 minutes). A new worker is started at once (the supervisor's restart).

Passes when, without waiting for the next hourly sweep or the visibility timeout: the run's
watchdog marks the run `incomplete` with the missing customers and sends their batches again, the
run ends `succeeded` with counts equal to the invoices, every customer has exactly one invoice of
the right amount, and (after the PDF sweeper) every invoice has its PDF. Before the watchdog, the
run said `succeeded` a minute after the fan-out and the killed batches' customers waited an hour.
Exit status 0 when it passes, 1 when it does not. Takes about 5 minutes (the watchdog looks a
minute after the fan-out, then every 2 minutes).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from fault_broker import AT, WORKER_ARGS, RedisServer, _seed_billing  # noqa: E402

from bench.common import drop_database, pass_or_fail, poll, server_env, setup_django  # noqa: E402

DATABASE_URL = "postgres://postgres@127.0.0.1:5432/bxb_fault_worker"


def _worker(env: dict[str, str], log: object) -> subprocess.Popen:
    return subprocess.Popen(
        [str(ROOT / ".venv/bin/celery"), "-A", "billing_project", "worker", "--concurrency", "2", *WORKER_ARGS.split()],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: killed whole, children included
    )


def run(args: argparse.Namespace) -> bool:
    redis_server = RedisServer(args.redis_port)
    redis_server.start()
    media = tempfile.mkdtemp(prefix="bxb-fault-media-")
    os.environ.update(REDIS_URL=redis_server.url, MEDIA_ROOT=media, BILLING_BATCH_SIZE=str(args.batch_size))
    setup_django(DATABASE_URL)
    from billing_project.celery import app
    from invoicing.models import BillingRun, Invoice

    organization = _seed_billing(args.customers)
    env = server_env(DATABASE_URL, SECRET_KEY="fault-only-secret", LOG_FORMAT="plain")
    log_path = Path(tempfile.mkstemp(prefix="bxb-fault-worker-", suffix=".log")[1])
    log = log_path.open("w")
    worker = _worker(env, log)
    time.sleep(6)
    app.send_task("invoicing.billing_sweep", args=[AT.isoformat()])
    started = time.monotonic()
    run_row = poll(
        lambda: BillingRun.objects.filter(trigger="beat").first(),
        lambda row: row is not None and row.batches_reported >= 3,
        120,
    )
    if run_row is None:
        print("the billing run never started")
        return False
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(10)
    run_row.refresh_from_db()
    print(
        f"worker killed: {run_row.batches_reported} of {run_row.batches_total} batches reported, "
        f"{run_row.invoices_created} invoices"
    )
    worker = _worker(env, log)  # the supervisor restarts it
    statuses: list[str] = []
    deadline = time.monotonic() + args.settle
    while time.monotonic() < deadline:
        run_row.refresh_from_db()
        if not statuses or statuses[-1] != run_row.status:
            statuses.append(run_row.status)
            print(
                f"+{time.monotonic() - started:5.0f}s run {run_row.status}: batches {run_row.batches_reported}/"
                f"{run_row.batches_total}, invoices {run_row.invoices_created}, missing {run_row.customers_missing}, "
                f"retries {run_row.retries}"
            )
        if run_row.status in ("succeeded", "failed"):
            break
        time.sleep(2)
    app.send_task("invoicing.pdfs_sweep", kwargs={"grace_seconds": 0})  # the lost PDF tasks
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and Invoice.objects.filter(organization=organization, file="").exists():
        time.sleep(2)
    os.killpg(worker.pid, signal.SIGTERM)
    try:
        worker.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(worker.pid, signal.SIGKILL)
    log.close()
    invoices = Invoice.objects.filter(organization=organization)
    totals: dict = {}
    for customer_id, total in invoices.values_list("customer_id", "total_amount_cents"):
        totals.setdefault(customer_id, []).append(total)
    once = sum(1 for t in totals.values() if len(t) == 1)
    right = sum(1 for t in totals.values() if t == [1000])
    with_pdf = invoices.exclude(file="").count()
    run_row.refresh_from_db()
    print(f"statuses seen: {' -> '.join(statuses)}; retries {run_row.retries}")
    print(f"customers invoiced once: {once} of {args.customers}; right amount: {right}; PDFs: {with_pdf}")
    print(f"run's invoices_created {run_row.invoices_created} = invoices {invoices.count()}")
    ok = (
        run_row.status == "succeeded"
        and once == right == with_pdf == args.customers == invoices.count() == run_row.invoices_created
    )
    redis_server.kill()
    if not args.keep:
        drop_database(DATABASE_URL)
        shutil.rmtree(media, ignore_errors=True)
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=20)
    parser.add_argument("--redis-port", type=int, default=6391)
    parser.add_argument("--settle", type=float, default=600.0, help="seconds to wait for the run to close")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    args = parser.parse_args()
    pass_or_fail(lambda: run(args), RedisServer.started)


if __name__ == "__main__":
    main()
