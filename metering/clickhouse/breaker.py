"""The per-process circuit breaker of ClickHouse reads.

After a read fails (a timeout, a refused connection, an error), the process reads PostgreSQL for
`CLICKHOUSE_BREAKER_SECONDS` without trying ClickHouse; the first aggregation after that tries it
again (one request pays at most `CLICKHOUSE_TIMEOUT_SECONDS` to find it still down). A frozen
ClickHouse therefore costs each process one short wait every few seconds, never a request's whole
time budget.

The breaker only decides *where* aggregation reads. PostgreSQL is the source of truth and every
ClickHouse answer equals its answer (tests compare them), so the state held here, per process and
in memory, can never change an amount.
"""

from __future__ import annotations

import threading
import time

from django.conf import settings


class Breaker:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open_until = 0.0

    def allows(self) -> bool:
        """ClickHouse may be tried now (closed, or the pause after the last failure is over)."""
        return time.monotonic() >= self._open_until

    def trip(self, seconds: float | None = None) -> None:
        """A read failed: read PostgreSQL for `seconds` (CLICKHOUSE_BREAKER_SECONDS by default)."""
        pause = float(settings.CLICKHOUSE_BREAKER_SECONDS if seconds is None else seconds)
        with self._lock:
            self._open_until = max(self._open_until, time.monotonic() + pause)

    def reset(self) -> None:
        with self._lock:
            self._open_until = 0.0

    def remaining(self) -> float:
        return max(0.0, self._open_until - time.monotonic())


breaker = Breaker()
