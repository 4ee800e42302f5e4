"""Reads that may go to a PostgreSQL read replica (`DATABASE_REPLICA_URL`): reporting and exports.

Code that tolerates a replica's lag (analytics, CSV exports) runs its queries inside
`replica_reads()`; the router then sends every read of that block to the `replica` database when
one is configured, and to `default` otherwise. Writes always go to `default`, inside the block too
(the export's own row, its file); the replica's connection is also opened read-only
(`default_transaction_read_only`), so a write that reached it would fail rather than diverge.
Migrations run on `default` only. Everything else (billing, payments, the API's own reads)
never reads the replica: it must see what it just wrote. docs/operations.md, "PostgreSQL at scale".
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.conf import settings

REPLICA = "replica"

_reading_replica: ContextVar[bool] = ContextVar("bxb_reading_replica", default=False)


def replica_configured() -> bool:
    return REPLICA in settings.DATABASES


@contextmanager
def replica_reads() -> Iterator[str]:
    """Reads inside go to the replica when there is one; yields the alias they use."""
    token = _reading_replica.set(True)
    try:
        yield REPLICA if replica_configured() else "default"
    finally:
        _reading_replica.reset(token)


class ReplicaRouter:
    """`DATABASE_ROUTERS`: reads inside `replica_reads()` to the replica, everything else default."""

    def db_for_read(self, model: Any, **hints: Any) -> str | None:
        if _reading_replica.get() and replica_configured():
            return REPLICA
        return None

    def db_for_write(self, model: Any, **hints: Any) -> str:
        return "default"

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        return True  # the replica holds the same rows as default

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:
        return db != REPLICA
