"""API logs on the events path: the same event batches in one process, with the log off and batched.

    .venv/bin/python bench/api_logs.py [--database postgres://postgres@127.0.0.1:5432/bxb_bench_api_logs]
                                       [--size 100] [--requests 60] [--rounds 3] [--keep]

Alternates rounds of `--requests` POST /api/v1/events/batch (`--size` events each, Django's test
client, no network) with `API_LOGS_WRITE=off` and `batched`, and prints the process CPU per request
(the request and the writer thread together, `time.process_time()`: what the machine's load does
not change much) and the wall time per request. Each batched round ends with the writer's flush,
so its cost is counted. Alternating rounds in one process keeps both modes under the same load.
The database is created when missing and dropped at the end unless `--keep`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import create_tenant, drop_database, setup_django

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/bxb_bench_api_logs"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", default=DEFAULT_DB)
    parser.add_argument("--size", type=int, default=100, help="events per request")
    parser.add_argument("--requests", type=int, default=60, help="requests per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each mode")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    setup_django(args.database)
    from django.conf import settings
    from django.test import Client

    from audit import api_logs

    settings.ALLOWED_HOSTS = ["*"]
    _, raw_key, _ = create_tenant("api logs bench", 10)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw_key}")

    def one_round(mode: str) -> tuple[float, float]:
        settings.API_LOGS_WRITE = mode
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(args.requests):
            events = [
                {"transaction_id": uuid.uuid4().hex, "external_subscription_id": f"sub_{i % 10}",
                 "code": "bench_calls", "properties": {"n": "1.5", "region": "eu"}}
                for i in range(args.size)
            ]  # fmt: skip
            response = client.post("/api/v1/events/batch", json.dumps({"events": events}), "application/json")
            assert response.status_code == 200, response.content[:300]
        api_logs.writer.flush()
        return (time.process_time() - cpu) / args.requests * 1000, (time.perf_counter() - wall) / args.requests * 1000

    try:
        one_round("off")  # warm-up
        totals: dict[str, list[float]] = {"off": [], "batched": []}
        for _ in range(args.rounds):
            for mode in ("off", "batched"):
                cpu, wall = one_round(mode)
                totals[mode].append(cpu)
                print(f"batch {args.size}: {mode:8s} CPU {cpu:.2f} ms/request  wall {wall:.2f} ms/request", flush=True)
        off, on = (sum(totals[m]) / len(totals[m]) for m in ("off", "batched"))
        print(
            f"mean CPU per request: off {off:.2f} ms, batched {on:.2f} ms ({on - off:+.2f} ms, {(on - off) / off:+.1%})"
        )
    finally:
        if not args.keep:
            from django.db import connections

            connections.close_all()
            drop_database(args.database)


if __name__ == "__main__":
    main()
