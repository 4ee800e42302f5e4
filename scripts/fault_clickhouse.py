"""ClickHouse faults reproduced against a ClickHouse of our own (never the shared one), as production runs bxb.

    .venv/bin/python scripts/fault_clickhouse.py [--clickhouse-port 9110] [--http-port 8133] [--seconds 15] [--keep]

Starts its own ClickHouse (scripts/start-clickhouse.sh on `--clickhouse-port`, data in a temp
directory, removed at the end), its own PostgreSQL database (`bxb_fault_clickhouse`, dropped at
the end unless `--keep`) and gunicorn as production runs it (gunicorn.conf.py: 2 sync workers,
30 s timeout, PROMETHEUS_MULTIPROC_DIR). Customers have usage events stored *before* ClickHouse is
switched on, one draft invoice each (grace period) and usage in the current month.

enable   The reference: every customer's current usage and draft total with ClickHouse off. Then
         gunicorn gets CLICKHOUSE_URL: the same answers before the backfill (the backfill is not
         complete: PostgreSQL answers; before this fix ClickHouse answered 0 usage), the backfill
         (`manage.py clickhouse_backfill --wait`), the same answers again with aggregation now
         reading ClickHouse, and the drafts finalized through the API at the reference totals.
freeze   Our ClickHouse is frozen (SIGSTOP); for `--seconds` the usage API and a draft refresh are
         called without pause. Passes when every answer is 200 with the reference amount within
         a few seconds (before the deadlines and the breaker each one waited 30 s and gunicorn
         killed the worker: a plain-text 500), and once thawed (SIGCONT) reads go back to
         ClickHouse. /metrics then shows no worker timeout and the fallbacks.

Exit status 0 when bxb survives the faults, 1 when it does not.
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
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import Gunicorn, drop_database, pass_or_fail, setup_django  # noqa: E402

DATABASE_URL = "postgres://postgres@127.0.0.1:5432/bxb_fault_clickhouse"
PORT = 18794
TOKEN = "fault-metrics-token"
JANUARY = datetime(2024, 1, 1, tzinfo=UTC)
CUSTOMERS = 4


class OwnClickHouse:
    """Our own clickhouse-server on loopback: started, frozen, thawed, killed. Never the shared one."""

    started: list[OwnClickHouse] = []

    def __init__(self, port: int, http_port: int) -> None:
        if port == 9000 or http_port == 8123:
            raise SystemExit("refusing ports 9000/8123: the shared ClickHouse of other work")
        self.port, self.http_port = port, http_port
        self.pid: int | None = None
        self.directory: str | None = None
        self.url = ""

    def start(self) -> None:
        env = dict(os.environ, CLICKHOUSE_PORT=str(self.port), CLICKHOUSE_HTTP_PORT=str(self.http_port))
        env["CLICKHOUSE_DATABASE"] = "bxb_fault"
        probe = subprocess.run(
            ["clickhouse-client", "--host", "127.0.0.1", "--port", str(self.port), "--query", "SELECT 1"],
            capture_output=True,
            check=False,
        )
        if probe.returncode == 0:
            raise SystemExit(f"a ClickHouse already answers on port {self.port}: choose a free --clickhouse-port")
        output = subprocess.run(
            ["bash", str(ROOT / "scripts/start-clickhouse.sh")], env=env, capture_output=True, text=True, check=True
        ).stdout
        values = dict(line.removeprefix("export ").split("=", 1) for line in output.splitlines() if "=" in line)
        self.url, self.pid, self.directory = (
            values["CLICKHOUSE_URL"],
            int(values["CLICKHOUSE_PID"]),
            values["CLICKHOUSE_DIR"],
        )
        OwnClickHouse.started.append(self)

    def freeze(self) -> None:
        assert self.pid is not None
        os.kill(self.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.pid is not None
        os.kill(self.pid, signal.SIGCONT)

    def kill(self) -> None:
        if self.pid is not None:
            for sig in (signal.SIGCONT, signal.SIGKILL):
                try:
                    os.kill(self.pid, sig)
                except ProcessLookupError:
                    break
            self.pid = None
        if self.directory:
            shutil.rmtree(self.directory, ignore_errors=True)


def request(method: str, path: str, key: str, timeout: float = 60) -> tuple[int, float, dict]:
    req = urllib.request.Request(f"http://127.0.0.1:{PORT}{path}", method=method, data=b"" if method == "PUT" else None)
    req.add_header("Authorization", f"Bearer {key}")
    started = time.monotonic()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read()
    except OSError:
        status, body = 0, b""  # connection reset: gunicorn killed the worker
    took = time.monotonic() - started
    try:
        payload = json.loads(body or b"{}")
    except ValueError:
        payload = {"raw": body[:200].decode(errors="replace")}
    return status, took, payload


def seed() -> tuple[Any, str, list[str]]:
    """An organization whose events are stored with ClickHouse off; one draft per customer."""
    import random

    from catalog.models import BillableMetric, Charge, Plan
    from customers.models import Customer
    from customers.services import api_key_create, organization_create
    from invoicing.billing.run import customer_bill
    from metering.services import events_ingest
    from subscriptions.models import Subscription

    organization, _ = organization_create(f"ClickHouse fault {time.time():.0f}", timezone_name="UTC")
    _, key = api_key_create(organization, name="fault")
    metric = BillableMetric.objects.create(
        organization=organization, name="calls", code="calls", aggregation_type="sum_agg", field_name="n"
    )
    plan = Plan.objects.create(
        organization=organization, name="p", code="p", interval="monthly", amount_cents=1000, amount_currency="USD"
    )
    Charge.objects.create(
        organization=organization, plan=plan, billable_metric=metric, code="calls", charge_model="standard",
        properties={"amount": "0.01"},
    )  # fmt: skip
    rng = random.Random(27)
    now = datetime.now(UTC)
    month = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    customers = []
    for i in range(CUSTOMERS):
        customer = Customer.objects.create(
            organization=organization, external_id=f"cus_{i}", name=f"Customer {i}", currency="USD",
            sequential_id=i + 1, invoice_grace_period=30,
        )  # fmt: skip
        Subscription.objects.create(
            organization=organization, customer=customer, plan=plan, external_id=f"sub_{i}", status="active",
            subscription_at=JANUARY, started_at=JANUARY,
        )  # fmt: skip
        payloads = [
            {
                "transaction_id": f"{when}_{i}_{j}",
                "external_subscription_id": f"sub_{i}",
                "code": "calls",
                "timestamp": int((start + timedelta(seconds=rng.randrange(span))).timestamp()),
                "properties": {"n": rng.randrange(1, 5000)},
            }
            for when, start, span in (
                ("jan", JANUARY, 30 * 86400),
                ("now", month, max(1, int((now - month).total_seconds()))),
            )
            for j in range(300)
        ]
        for start in range(0, len(payloads), 500):
            events_ingest(organization, payloads[start : start + 500])
        customers.append(customer)
    for customer in customers:
        customer_bill(customer.id, at=datetime(2024, 2, 1, 1, tzinfo=UTC))
    return organization, key, [c.external_id for c in customers]


def answers(key: str, external_ids: list[str], drafts: dict[str, str]) -> dict[str, tuple[int, int, float]]:
    """Per customer: (current usage amount, refreshed draft total, slowest answer in s); -1 when not 200."""
    result = {}
    for external_id in external_ids:
        status, took, body = request(
            "GET", f"/api/v1/customers/{external_id}/current_usage?external_subscription_id=sub_{external_id[4:]}", key
        )
        usage = body.get("customer_usage", {}).get("amount_cents", -1) if status == 200 else -1
        status2, took2, body2 = request("PUT", f"/api/v1/invoices/{drafts[external_id]}/refresh", key)
        total = body2.get("invoice", {}).get("fees_amount_cents", -1) if status2 == 200 else -1
        result[external_id] = (usage, total, max(took, took2))
    return result


def reads_clickhouse(organization: Any) -> bool:
    from catalog.models import BillableMetric
    from metering.aggregation import aggregate

    metric = BillableMetric.objects.get(organization=organization, code="calls")
    return (
        aggregate(
            organization, external_subscription_id="sub_0", metric=metric, from_datetime=JANUARY,
            to_datetime=datetime(2024, 2, 1, tzinfo=UTC),
        ).source
        == "clickhouse"
    )  # fmt: skip


def metric_value(text: str, name: str, labels: str = "") -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + ("{" if labels else " ")) and labels in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def run(args: argparse.Namespace) -> bool:
    clickhouse = OwnClickHouse(args.clickhouse_port, args.http_port)
    clickhouse.start()
    print(f"our ClickHouse: {clickhouse.url} (pid {clickhouse.pid})")
    os.environ.pop("CLICKHOUSE_URL", None)
    media = tempfile.mkdtemp(prefix="bxb-fault-media-")
    os.environ["MEDIA_ROOT"] = media
    setup_django(DATABASE_URL)
    from django.conf import settings
    from django.core.management import call_command

    from invoicing.models import Invoice

    settings.CLICKHOUSE_URL = ""
    organization, key, external_ids = seed()
    drafts = {
        inv.customer.external_id: str(inv.id)
        for inv in Invoice.objects.filter(organization=organization, status="draft").select_related("customer")
    }
    print(f"seeded {len(external_ids)} customers, 600 events each (stored with ClickHouse off), {len(drafts)} drafts")
    metrics_dir = tempfile.mkdtemp(prefix="bxb-fault-metrics-")
    env = {
        "METRICS_TOKEN": TOKEN,
        "PROMETHEUS_MULTIPROC_DIR": metrics_dir,
        "MEDIA_ROOT": media,
        "LOG_LEVEL": "ERROR",
        "CLICKHOUSE_BACKFILL_SETTLE_SECONDS": "0",
    }
    ok = True
    with Gunicorn(DATABASE_URL, PORT, extra_env=env):
        reference = answers(key, external_ids, drafts)
    print(f"ClickHouse off (reference): {[(u, t) for u, t, _ in reference.values()]}")
    ok &= all(u > 0 and t > 1000 for u, t, _ in reference.values())

    env["CLICKHOUSE_URL"] = clickhouse.url
    with Gunicorn(DATABASE_URL, PORT, extra_env=env):
        before = answers(key, external_ids, drafts)
        same = all(before[c][:2] == reference[c][:2] for c in external_ids)
        print(
            f"switched on, not backfilled: {[(u, t) for u, t, _ in before.values()]} -> {'same' if same else 'DIFFERENT'}"
        )
        ok &= same

        settings.CLICKHOUSE_URL = clickhouse.url
        settings.CLICKHOUSE_BACKFILL_SETTLE_SECONDS = 0
        call_command("clickhouse_backfill", "--wait", "--no-progress")
        on_clickhouse = reads_clickhouse(organization)
        after = answers(key, external_ids, drafts)
        same = all(after[c][:2] == reference[c][:2] for c in external_ids)
        print(
            f"backfilled (aggregation reads ClickHouse: {on_clickhouse}): {[(u, t) for u, t, _ in after.values()]}"
            f" -> {'same' if same else 'DIFFERENT'}"
        )
        ok &= same and on_clickhouse
        # Every draft but the last is finalized now; the last one is refreshed during the freeze.
        for external_id in external_ids[:-1]:
            status, _, body = request("PUT", f"/api/v1/invoices/{drafts[external_id]}/finalize", key)
            total = body.get("invoice", {}).get("fees_amount_cents")
            print(f"finalize {external_id}: {status}, {total} (reference {reference[external_id][1]})")
            ok &= status == 200 and total == reference[external_id][1]

        clickhouse.freeze()
        print(f"ClickHouse frozen (SIGSTOP pid {clickhouse.pid}) for {args.seconds:.0f} s")
        rounds, slowest, wrong = 0, 0.0, 0
        deadline = time.monotonic() + args.seconds
        try:
            while time.monotonic() < deadline:
                got = answers(key, external_ids[-1:], drafts)
                for external_id, (usage, total, took) in got.items():
                    rounds += 1
                    slowest = max(slowest, took)
                    wrong += (usage, total) != reference[external_id][:2]
        finally:
            clickhouse.thaw()
        limit = 2 * float(settings.CLICKHOUSE_TIMEOUT_SECONDS) + 2
        print(
            f"frozen: {rounds} rounds (usage + draft refresh), {wrong} wrong or failed, slowest {slowest:.2f} s (limit {limit:.1f} s)"
        )
        ok &= rounds > 0 and wrong == 0 and slowest < limit

        time.sleep(float(settings.CLICKHOUSE_BREAKER_SECONDS) + 1)
        thawed = answers(key, external_ids, drafts)
        same = all(thawed[c][:2] == reference[c][:2] for c in external_ids)
        on_clickhouse = reads_clickhouse(organization)
        print(f"thawed: {'same' if same else 'DIFFERENT'}; aggregation reads ClickHouse again: {on_clickhouse}")
        ok &= same and on_clickhouse
        status, _, body = request("PUT", f"/api/v1/invoices/{drafts[external_ids[-1]]}/finalize", key)
        total = body.get("invoice", {}).get("fees_amount_cents")
        print(f"finalize {external_ids[-1]}: {status}, {total} (reference {reference[external_ids[-1]][1]})")
        ok &= status == 200 and total == reference[external_ids[-1]][1]

        scrape = urllib.request.Request(
            f"http://127.0.0.1:{PORT}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}
        )
        with urllib.request.urlopen(scrape, timeout=10) as response:
            text = response.read().decode()
    timeouts = metric_value(text, "bxb_gunicorn_worker_timeouts_total")
    unavailable = metric_value(text, "bxb_clickhouse_fallbacks_total", 'reason="unavailable"')
    breaker_open = metric_value(text, "bxb_clickhouse_fallbacks_total", 'reason="breaker_open"')
    print(
        f"/metrics: worker timeouts {timeouts:.0f}, fallbacks unavailable {unavailable:.0f}, breaker_open {breaker_open:.0f}"
    )
    ok &= timeouts == 0 and unavailable > 0
    shutil.rmtree(metrics_dir, ignore_errors=True)
    shutil.rmtree(media, ignore_errors=True)
    clickhouse.kill()
    if not args.keep:
        drop_database(DATABASE_URL)
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clickhouse-port", type=int, default=9110)
    parser.add_argument("--http-port", type=int, default=8133)
    parser.add_argument("--seconds", type=float, default=15.0, help="how long ClickHouse stays frozen")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    args = parser.parse_args()
    pass_or_fail(lambda: run(args), OwnClickHouse.started)


if __name__ == "__main__":
    main()
