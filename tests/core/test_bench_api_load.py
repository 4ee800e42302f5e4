"""The load instrument of issue #10 runs end to end (a few seconds at a low rate, not a measurement):
bench/api_load.py seeds its own PostgreSQL database, starts gunicorn with production's settings,
drives the mix, reports and drops the database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_api_load_bench_runs_and_reports():
    if connection.vendor != "postgresql":
        pytest.skip("bench/api_load.py needs PostgreSQL")
    settings = connection.settings_dict
    user = settings.get("USER") or "postgres"
    host = settings.get("HOST") or "127.0.0.1"
    port = settings.get("PORT") or "5432"
    database = f"postgres://{user}@{host}:{port}/bxb_bench_smoke_{os.getpid()}"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "CLICKHOUSE_URL")}
    completed = subprocess.run(
        [
            sys.executable, "bench/api_load.py", "--database", database, "--duration", "4", "--rate", "20",
            "--clients", "2", "--customers", "10", "--invoices", "50", "--redis", "", "--autovacuum", "1",
            "--port", str(18700 + os.getpid() % 200),
        ],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output
    assert "errors: 0" in output
    for expected in ("current_usage", "invoices_list", "customer_upsert", "events_batch", "reads p95 per 30 s"):
        assert expected in output
    assert "gunicorn 2 bxb sync worker(s)" in output  # production's gunicorn.conf.py defaults (its worker class)
    assert "target (reads p95 < 50 ms" in output
    assert "worker CPU split" in output
    assert "dropped" in output
    with connection.cursor() as cursor:
        cursor.execute("SHOW autovacuum")
        if cursor.fetchone()[0] == "off":  # the bench stands in for it (here, 4 s at one run a second)
            assert "the bench ran VACUUM (ANALYZE)" in output
