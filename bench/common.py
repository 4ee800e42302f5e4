"""Shared set-up of the metering benchmarks: a separate PostgreSQL database, a tenant, gunicorn."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/bxb_bench"


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
        from django.db import connections

        connections.close_all()
    parsed = urlparse(database_url)
    with psycopg.connect(parsed._replace(path="/postgres").geturl(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parsed.path.lstrip("/")}" WITH (FORCE)')


def create_tenant(name: str, subscriptions: int, code: str = "bench_calls") -> tuple[object, str, object]:
    """An organization, its API key, a sum metric, and `subscriptions` active subscriptions sub_0..."""
    from datetime import UTC, datetime

    from catalog.models import BillableMetric, Plan
    from customers.inputs import CustomerUpsert
    from customers.services import api_key_create, customer_upsert, organization_create

    organization, _ = organization_create(f"{name} {time.time():.0f}", timezone_name="UTC")
    _, raw_key = api_key_create(organization, name="bench")
    metric = BillableMetric.objects.create(
        organization=organization, name=code, code=code, aggregation_type="sum_agg", field_name="n"
    )
    try:
        from subscriptions.models import Subscription

        customer, _ = customer_upsert(organization, CustomerUpsert(external_id="bench-customer", currency="USD"))
        plan = Plan.objects.create(
            organization=organization, name="bench", code="bench", interval="monthly", amount_currency="USD"
        )
        started = datetime(2020, 1, 1, tzinfo=UTC)
        Subscription.objects.bulk_create(
            [
                Subscription(
                    organization=organization,
                    customer=customer,
                    plan=plan,
                    external_id=f"sub_{i}",
                    status="active",
                    subscription_at=started,
                    started_at=started,
                )
                for i in range(subscriptions)
            ]
        )
    except Exception as exc:  # the bench still runs; events are then reported as unknown subscriptions
        print(f"(no subscriptions created: {exc})")
    return organization, raw_key, metric


class Gunicorn:
    """`gunicorn billing_project.wsgi` on loopback in its own process (2 sync workers by default)."""

    def __init__(
        self,
        database_url: str,
        port: int,
        workers: int = 2,
        extra_env: dict[str, str] | None = None,
        worker_class: str = "sync",
        threads: int = 1,
    ):
        self.database_url, self.port, self.workers = database_url, port, workers
        self.worker_class, self.threads = worker_class, threads
        self.extra_env = extra_env or {}
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Gunicorn:
        env = dict(os.environ)
        env.update(
            DATABASE_URL=self.database_url,
            DEBUG="0",
            SECRET_KEY="bench-only-secret",
            LOG_LEVEL="WARNING",
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
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=1) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("gunicorn did not start")

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]
