"""A request that outlives gunicorn's timeout: the worker is killed, and that is logged in JSON and
counted in /metrics (gunicorn.conf.py's worker_abort hook, billing_project/core/gunicorn_hooks.py).

Runs gunicorn as production does (gunicorn.conf.py) with a 2 s timeout and a request made to hang
inside Django, then reads the log and /metrics of the replacement worker.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(url: str, headers: dict[str, str] | None = None, timeout: float = 5) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def wait_until(predicate, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if predicate():
                return True
        except OSError:
            pass
        time.sleep(0.2)
    return False


def test_a_worker_timeout_is_logged_in_json_and_counted(tmp_path):
    port = free_port()
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "CLICKHOUSE_URL", "GUNICORN_BIND")}
    env.update(
        DJANGO_SETTINGS_MODULE="tests.core.gunicorn_hang_settings",
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
        LOG_FORMAT="json",
        LOG_LEVEL="INFO",
        METRICS_TOKEN="scrape-token",
        WEB_CONCURRENCY="1",
        GUNICORN_TIMEOUT="2",
        GUNICORN_GRACEFUL_TIMEOUT="2",
    )
    log_path = tmp_path / "gunicorn.log"
    base = f"http://127.0.0.1:{port}"
    with open(log_path, "w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}",
             "billing_project.wsgi:application"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        assert wait_until(lambda: get(f"{base}/health")[0] == 200, 60), log_path.read_text()
        started = time.monotonic()
        try:
            status, _ = get(
                f"{base}/api/v1/customers/cus_secret_42",
                headers={"X-Test-Hang": "1", "X-Request-Id": "req-timeout-1"},
                timeout=30,
            )
        except (ConnectionError, urllib.error.URLError):
            status = 0  # the connection was dropped with the worker
        assert time.monotonic() - started < 20
        assert status in (0, 500)

        def counted() -> bool:
            status, text = get(f"{base}/metrics", headers={"Authorization": "Bearer scrape-token"})
            return status == 200 and "bxb_gunicorn_worker_timeouts_total 1.0" in text

        assert wait_until(counted, 60), log_path.read_text()[-3000:]
    finally:
        server.terminate()
        server.wait(30)
    lines = []
    for line in log_path.read_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("event") == "worker_timeout":
            lines.append(record)
    assert len(lines) == 1, log_path.read_text()[-4000:]
    [record] = lines
    assert record["level"] == "ERROR"
    assert record["logger"] == "bxb.gunicorn"
    assert record["request_id"] == "req-timeout-1"
    assert record["method"] == "GET"
    assert record["route"] == "api/v1/customers/<str:external_id>"
    assert record["timeout_seconds"] == 2
    assert any("gunicorn_hang_settings.py" in frame and "__call__" in frame for frame in record["stack"])
    assert "cus_secret_42" not in json.dumps(record)  # the route, never the raw path
