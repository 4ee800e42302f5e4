"""Shared set-up of the metering benchmarks: a separate PostgreSQL database, a tenant, gunicorn."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn, TypeVar
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/bxb_bench"
T = TypeVar("T")


def setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("SECRET_KEY", "bench-only-secret")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["DJANGO_SETTINGS_MODULE"] = "billing_project.settings"
    sys.path.insert(0, str(ROOT))
    ensure_database(database_url)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def ensure_database(database_url: str) -> None:
    import psycopg

    parsed = urlparse(database_url)
    name = parsed.path.lstrip("/")
    admin = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(database_url: str) -> None:
    """Drop the bench's database (its connections closed first, Django's included when set up)."""
    import psycopg
    from django.conf import settings

    if settings.configured:
        from django.apps import apps
        from django.db import connections

        if apps.ready:
            # The API requests the bench made in this process left their log records waiting for
            # the writer's next flush: write them now, not at exit into a dropped database.
            from audit.api_logs import writer

            writer.flush()
        connections.close_all()
    parsed = urlparse(database_url)
    with psycopg.connect(parsed._replace(path="/postgres").geturl(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parsed.path.lstrip("/")}" WITH (FORCE)')


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds used so far by a process (None once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def children(master_pid: int) -> list[int]:
    """The pids of a process's children (gunicorn's workers of its master)."""
    try:
        return [int(pid) for pid in Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()]
    except OSError:
        return []


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def wsgi_request(
    application: Callable[..., Any], method: str, path: str, key: str, body: bytes | None = None
) -> tuple[int, bytes]:
    """One request through a WSGI application (Django's `WSGIHandler`, as a gunicorn worker calls
    it: the whole middleware, URL resolution, authentication and DRF stack, no socket), with the
    headers Lago's client sends: (status code, body)."""
    import io

    path_info, _, query = path.partition("?")
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path_info,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_AUTHORIZATION": f"Bearer {key}",
        "HTTP_USER_AGENT": "lago-python-client",
        "HTTP_ACCEPT": "*/*",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body or b""),
        "wsgi.errors": sys.stderr,
        "wsgi.version": (1, 0),
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    if body is not None:
        environ["CONTENT_TYPE"] = "application/json"
        environ["CONTENT_LENGTH"] = str(len(body))
    seen: list[str] = []

    def start_response(status: str, headers: list, exc_info: object = None) -> None:
        seen.append(status)

    response = application(environ, start_response)
    try:
        content = b"".join(response)
    finally:
        response.close()
    return int(seen[0].split()[0]), content


def measure_routes(
    call: Callable[[str], int],
    routes: Iterable[str],
    *,
    iterations: int,
    warmup: int,
    profile: int = 0,
    sql: bool = False,
    digits: int = 2,
    profile_timer: Callable[[], float] | None = None,
) -> None:
    """For each route: `warmup` calls, one call whose statements are counted (and printed with
    `sql`), then `iterations` calls timed: this process's CPU, the PostgreSQL backend's CPU and wall
    time per call, one row a route; with `profile`, the N costliest functions of the timed calls."""
    import cProfile
    import io
    import pstats

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend_pid = cursor.fetchone()[0]
    print(f"\n{'route':<17}{'stmts':>6}{'bytes':>8}{'app CPU ms':>12}{'PG CPU ms':>11}{'wall ms':>9}")
    for route in routes:
        for _ in range(warmup):
            call(route)
        with CaptureQueriesContext(connection) as captured:
            size = call(route)
        statements = len(captured.captured_queries)
        if sql:
            for query in captured.captured_queries:
                print(f"    [{query['time']}s] {query['sql'][:400]}")
        profiler = (cProfile.Profile(profile_timer) if profile_timer else cProfile.Profile()) if profile else None
        cpu0, pg0, wall0 = time.process_time(), (cpu_seconds(backend_pid) or 0.0), time.perf_counter()
        if profiler:
            profiler.enable()
        for _ in range(iterations):
            call(route)
        if profiler:
            profiler.disable()
        cpu = (time.process_time() - cpu0) * 1000 / iterations
        pg = ((cpu_seconds(backend_pid) or 0.0) - pg0) * 1000 / iterations
        wall = (time.perf_counter() - wall0) * 1000 / iterations
        print(f"{route:<17}{statements:>6}{size:>8}{cpu:>12.{digits}f}{pg:>11.{digits}f}{wall:>9.2f}", flush=True)
        if profiler:
            out = io.StringIO()
            stats = pstats.Stats(profiler, stream=out)
            stats.sort_stats("tottime").print_stats(profile)
            stats.sort_stats("cumulative").print_stats(profile)
            print(out.getvalue())


def start_clients(
    target: Callable[..., None], clients: int, port: int, key: str, rate: float, duration: float, population: int
) -> tuple[Any, list[Any], float]:
    """`clients` load-generating processes, each `target(i, port, key, rate / clients, duration,
    population, start_at, queue)`, started together one second from now: (queue, processes, start_at)."""
    import multiprocessing

    queue: multiprocessing.Queue = multiprocessing.Queue()
    start_at = time.time() + 1.0
    processes = [
        multiprocessing.Process(
            target=target, args=(i, port, key, rate / clients, duration, population, start_at, queue)
        )
        for i in range(clients)
    ]
    for process in processes:
        process.start()
    return queue, processes, start_at


Request = tuple[str, str, str, bytes | str | None]  # (label, method, path, body)
Result = tuple[str, float, float, int, float]  # (label, service ms, from-schedule ms, status, sent at s)


def gather_clients(queue: Any, processes: list[Any]) -> tuple[list[Result], int, float, list[float]]:
    """The outcomes of the `start_clients` processes, each of which puts its `open_loop` tuple on
    `queue`, summed once all are joined: (results, unsent, client CPU seconds, connect ms)."""
    results: list[Result] = []
    connects: list[float] = []
    unsent = 0
    client_cpu = 0.0
    for _ in processes:
        part, missed, used, opened = queue.get()
        results.extend(part)
        connects.extend(opened)
        unsent += missed
        client_cpu += used
    for process in processes:
        process.join()
    return results, unsent, client_cpu, connects


def add_binding_option(parser: Any) -> None:
    """`--binding server|client`: the run's DATABASE_SERVER_SIDE_BINDING (`apply_binding`)."""
    parser.add_argument(
        "--binding",
        choices=("server", "client"),
        help="override DATABASE_SERVER_SIDE_BINDING (default: the setting, server-side with prepared statements)",
    )


def apply_binding(binding: str | None) -> None:
    if binding:
        os.environ["DATABASE_SERVER_SIDE_BINDING"] = "1" if binding == "server" else "0"


def open_loop(
    port: int,
    *,
    seed: int,
    rate: float,
    duration: float,
    start_at: float,
    headers: dict[str, str],
    next_request: Callable[[Any, int], Request],
    check: Callable[[str, bytes], Any] | None = None,
) -> tuple[list[Result], int, float, list[float]]:
    """One load process's open loop: `next_request(rng, n)` sent on its own schedule at `rate`
    requests/s from `start_at` for `duration` seconds, over one kept-alive connection opened again
    when the server closes it. `check(label, body)` reads a 200's body (an error counts as status 0).

    Returns the results (the latency from the scheduled instant too: time queued behind a busy
    server counts, no coordinated omission), how many scheduled requests were never sent, this
    process's CPU seconds and the milliseconds spent opening connections."""
    import http.client
    import random

    rng = random.Random(seed)
    results: list[Result] = []
    connects: list[float] = []
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    while time.time() < start_at:
        time.sleep(0.005)
    cpu_start = time.process_time()
    interval = 1.0 / rate
    next_at = start_at + rng.random() * interval
    counter = 0
    end = start_at + duration
    while next_at < end and time.time() < end + 2:
        pause = next_at - time.time()
        if pause > 0:
            time.sleep(pause)
        label, method, path, body = next_request(rng, counter)
        counter += 1
        sent_at = time.time() - start_at  # later than `next_at` when this process fell behind
        started = time.perf_counter()
        status = 0
        try:
            if conn.sock is None:
                conn.connect()
                connects.append((time.perf_counter() - started) * 1000)
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            payload = response.read()
            status = response.status
            if check is not None and status == 200:
                check(label, payload)
            if response.will_close:
                conn.close()
        except (OSError, http.client.HTTPException, KeyError, ValueError):
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        service = (time.perf_counter() - started) * 1000
        scheduled = max(service, (time.time() - next_at) * 1000)
        results.append((label, service, scheduled, status, sent_at))
        next_at += interval
    unsent = max(0, int((end - next_at) / interval) + 1) if next_at < end else 0
    return results, unsent, time.process_time() - cpu_start, connects


def pass_or_fail(check: Callable[[], bool], servers: list[Any]) -> NoReturn:
    """A fault scenario (scripts/fault_*.py): `check()` run, the servers it started (a list it fills)
    killed whatever happens, PASS or FAIL printed, and the exit status 0 or 1."""
    try:
        ok = check()
    finally:
        for server in servers:
            server.kill()
    print("PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


def run_on_database(database_url: str, run: Callable[[], T], *, keep: bool) -> T:
    """Django set up on the bench's own database (created, migrated), `run()`, then the database
    dropped unless `keep`."""
    setup_django(database_url)
    try:
        return run()
    finally:
        if not keep:
            drop_database(database_url)
            print(f"(database {urlparse(database_url).path.lstrip('/')} dropped)")


def active_subscriptions(organization: Any, plan: Any, customers: Iterable[Any], started: datetime) -> list[Any]:
    """One active subscription `sub_<i>` to `plan` per customer (the i-th), started at `started`."""
    from subscriptions.models import Subscription

    rows = [
        Subscription(
            organization=organization,
            customer=customer,
            plan=plan,
            external_id=f"sub_{i}",
            status="active",
            subscription_at=started,
            started_at=started,
        )
        for i, customer in enumerate(customers)
    ]
    return Subscription.objects.bulk_create(rows)


def monthly_plan(organization: Any, code: str, amount_cents: int = 0) -> Any:
    """A monthly USD plan named after its code (the benches' fixture)."""
    from catalog.models import Plan

    return Plan.objects.create(
        organization=organization, name=code, code=code, interval="monthly", amount_cents=amount_cents,
        amount_currency="USD",
    )  # fmt: skip


def create_tenant(name: str, subscriptions: int, code: str = "bench_calls") -> tuple[object, str, object]:
    """An organization, its API key, a sum metric, and `subscriptions` active subscriptions sub_0..."""
    from datetime import UTC

    from catalog.models import BillableMetric
    from customers.inputs import CustomerUpsert
    from customers.services import api_key_create, customer_upsert, organization_create

    organization, _ = organization_create(f"{name} {time.time():.0f}", timezone_name="UTC")
    _, raw_key = api_key_create(organization, name="bench")
    metric = BillableMetric.objects.create(
        organization=organization, name=code, code=code, aggregation_type="sum_agg", field_name="n"
    )
    try:
        customer, _ = customer_upsert(organization, CustomerUpsert(external_id="bench-customer", currency="USD"))
        plan = monthly_plan(organization, "bench")
        started = datetime(2020, 1, 1, tzinfo=UTC)
        active_subscriptions(organization, plan, [customer] * subscriptions, started)
    except Exception as exc:  # the bench still runs; events are then reported as unknown subscriptions
        print(f"(no subscriptions created: {exc})")
    return organization, raw_key, metric


def server_env(database_url: str, **settings: str) -> dict[str, str]:
    """The environment of a server or worker that a bench or a fault scenario starts: this
    process's, on `database_url`, with production settings (DEBUG off, a throwaway secret key,
    warnings only) and `settings` on top."""
    production = {"DEBUG": "0", "SECRET_KEY": "bench-only-secret", "LOG_LEVEL": "WARNING"}
    return {**os.environ, "DATABASE_URL": database_url, **production, **settings}


def poll(read: Callable[[], T], done: Callable[[T], bool], seconds: float, every: float = 0.2) -> T:
    """`read()` every `every` seconds until `done` says yes of what it read or `seconds` have
    passed; the last value read."""
    deadline = time.monotonic() + seconds
    value = read()
    while not done(value) and time.monotonic() < deadline:
        time.sleep(every)
        value = read()
    return value


# The worker class production runs (gunicorn.conf.py): gunicorn's sync worker that closes a connection
# whose request was read in full without waiting for the client to close first. "sync" is gunicorn's own.
BXB_WORKER_CLASS = "billing_project.core.gunicorn_worker.SyncWorker"


class Gunicorn:
    """`gunicorn billing_project.wsgi` on loopback in its own process (2 of production's sync workers by
    default; the command line overrides gunicorn.conf.py, read from the project directory)."""

    def __init__(
        self,
        database_url: str,
        port: int,
        workers: int = 2,
        extra_env: dict[str, str] | None = None,
        worker_class: str = BXB_WORKER_CLASS,
        threads: int = 1,
    ):
        self.database_url, self.port, self.workers = database_url, port, workers
        self.worker_class, self.threads = worker_class, threads
        self.extra_env = extra_env or {}
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Gunicorn:
        env = server_env(
            self.database_url,
            RATE_LIMIT_REQUESTS_PER_MINUTE="0",
            RATE_LIMIT_EVENTS_PER_MINUTE="0",
            DB_CONN_MAX_AGE="600",
            ALLOWED_HOSTS="127.0.0.1,localhost",
        )
        env.pop("REDIS_URL", None)
        env.update(self.extra_env)
        self.process = subprocess.Popen(
            [
                str(ROOT / ".venv/bin/gunicorn"),
                "billing_project.wsgi",
                "--workers",
                str(self.workers),
                "--worker-class",
                self.worker_class,
                "--threads",
                str(self.threads),
                "--bind",
                f"127.0.0.1:{self.port}",
                "--log-level",
                "warning",
                "--backlog",
                "2048",
            ],
            cwd=ROOT,
            env=env,
        )
        # A loaded machine can take long to import Django in two workers; give it 90 s, and stop
        # the server before raising so that a failed start leaves no gunicorn behind.
        deadline = time.time() + 90
        while time.time() < deadline:
            if self.process.poll() is not None:
                break
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=1) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.2)
        self.__exit__()
        raise RuntimeError(f"gunicorn did not start on port {self.port}")

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def backend_cpu() -> Callable[[], float]:
    """A function giving the CPU seconds (user + system) used so far by the Django connection's
    PostgreSQL backend, read from /proc (the server runs on this machine)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    ticks = os.sysconf("SC_CLK_TCK")

    def read() -> float:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / ticks

    return read


def clickhouse_pids() -> list[int]:
    """The pids of the local clickhouse-server processes (their CPU is read from /proc)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as comm:
                    if comm.read().strip().startswith("clickhouse-serv"):
                        pids.append(int(entry))
            except OSError:
                continue
    return pids
