"""What the operations layer costs per request: rate limiter, JSON log line, metrics.

    .venv/bin/python bench/ops_overhead.py [--redis redis://127.0.0.1:6379/14]

Prints microseconds per call for `ratelimit.hit` (in-process and, when reachable, Redis),
formatting one JSON log line, recording one request in the Prometheus metrics, and the median
time of a full `GET /api/v1/customers` through Django's test client with the per-key limit on and
off (best of three alternating runs, SQLite in memory, so the difference is the middleware and limiter, not the database).
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def per_call_us(fn, n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - started) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--requests", type=int, default=400)
    args = parser.parse_args()

    os.environ.update({"DATABASE_URL": "sqlite://:memory:", "SECRET_KEY": "bench", "LOG_LEVEL": "WARNING"})
    os.environ["DJANGO_SETTINGS_MODULE"] = "billing_project.settings"
    os.environ.setdefault("ALLOWED_HOSTS", "testserver")
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import override_settings
    from django.test.client import RequestFactory
    from rest_framework.test import APIClient

    from billing_project.core import logging as bxb_logging
    from billing_project.core import metrics, ratelimit
    from customers.services import organization_create

    call_command("migrate", verbosity=0)

    with override_settings(REDIS_URL=""):
        print(f"ratelimit.hit, in-process     {per_call_us(lambda: ratelimit.hit('b', 10**9, 60), 50_000):8.1f} us")
    prefix = f"bench:{uuid.uuid4().hex}:"
    with override_settings(REDIS_URL=args.redis, RATE_LIMIT_KEY_PREFIX=prefix):
        ratelimit.reset_local()
        if ratelimit.hit("probe", 10**9, 60).remaining == 10**9 - 1 and ratelimit._redis_down_until == 0.0:
            print(f"ratelimit.hit, Redis          {per_call_us(lambda: ratelimit.hit('b', 10**9, 60), 3_000):8.1f} us")
            import redis

            client = redis.Redis.from_url(args.redis)
            keys = list(client.scan_iter(f"{prefix}*"))
            if keys:
                client.delete(*keys)
        else:
            print("ratelimit.hit, Redis          (Redis unreachable, skipped)")

    formatter, context_filter = bxb_logging.JsonFormatter(), bxb_logging.ContextFilter()
    bxb_logging.start_context(request_id=uuid.uuid4().hex, organization_id=str(uuid.uuid4()))
    record = logging.LogRecord("bxb.access", logging.INFO, __file__, 1, "GET %s %s", ("route", 200), None)
    record.status, record.duration_ms = 200, 1.5

    def one_line() -> None:
        context_filter.filter(record)
        formatter.format(record)

    print(f"one JSON log line             {per_call_us(one_line, 20_000):8.1f} us")
    bxb_logging.clear_context()
    request = RequestFactory().get("/api/v1/customers")
    request.resolver_match = None
    print(
        f"metrics.observe_request       {per_call_us(lambda: metrics.observe_request(request, 200, 0.01), 20_000):8.1f} us"
    )

    _, raw_key = organization_create(f"bench {time.time():.0f}")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")

    def median_request_ms(**overrides: object) -> float:
        with override_settings(REDIS_URL="", **overrides):  # type: ignore[arg-type]
            ratelimit.reset_local()
            for _ in range(20):
                api.get("/api/v1/customers")
            times = []
            for _ in range(args.requests):
                started = time.perf_counter()
                assert api.get("/api/v1/customers").status_code == 200
                times.append((time.perf_counter() - started) * 1000)
        return statistics.median(times)

    # alternate the two settings so machine load affects both alike
    offs, ons = [], []
    for _ in range(3):
        ons.append(median_request_ms(RATE_LIMIT_REQUESTS_PER_MINUTE=10**9))
        offs.append(median_request_ms(RATE_LIMIT_REQUESTS_PER_MINUTE=0))
        print(f"  run: on {ons[-1]:.3f} ms, off {offs[-1]:.3f} ms")
    off, on = min(offs), min(ons)
    print(f"GET /api/v1/customers, limit off  median {off:.3f} ms")
    print(f"GET /api/v1/customers, limit on   median {on:.3f} ms  (in-process counter)")


if __name__ == "__main__":
    main()
