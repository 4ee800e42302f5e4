"""PostgreSQL `timestamptz` values read by psycopg's C loader (`connect()`, on `connection_created`).

Django's PostgreSQL backend reads every `timestamptz` through a loader that subclasses psycopg's
pure-Python `TimestamptzLoader` (to give the values Django's time zone object), so each value is
parsed in Python even when psycopg's C extension is installed: measured (bench/billing_run.py,
2026-12-07), about a tenth of the billing run's Python CPU, on reading its customers' and
subscriptions' rows. `CTimestamptzLoader` does what Django's loader does — the C loader's value
(converted to the connection's time zone, as the Python loader converts it), with
`tzinfo` replaced by Django's time zone (`datetime.timezone.utc` under `USE_TZ`) — about three
times faster. The same values and time zone objects (tests/core/test_timestamps.py). Without the C
extension nothing changes.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from psycopg.adapt import Loader

try:
    from psycopg._cmodule import _psycopg
except ImportError:  # pragma: no cover - psycopg without its C module
    _psycopg = None  # type: ignore[assignment]
if _psycopg is not None and not hasattr(_psycopg, "TimestamptzLoader"):  # pragma: no cover
    _psycopg = None  # type: ignore[assignment]  # its C module lacks the loader: Django's stays


class CTimestamptzLoader(Loader):
    """Django's `BaseTzLoader` (psycopg_any), parsing in C. `timezone`: set by `_loader`."""

    timezone: Any = None

    def __init__(self, oid: int, context: Any = None) -> None:
        super().__init__(oid, context)
        self._load = _psycopg.TimestamptzLoader(oid, context).load

    def load(self, data: Any) -> Any:
        return self._load(data).replace(tzinfo=self.timezone)


@lru_cache
def _loader(tz: Any) -> type[CTimestamptzLoader]:
    return type("SpecificCTimestamptzLoader", (CTimestamptzLoader,), {"timezone": tz})


def use_c_loader(sender: Any, connection: Any, **kwargs: Any) -> None:
    """`connection_created`: the connection's `timestamptz` loader becomes the C one, for the time
    zone Django's loader had (Django then finds its zone on it and keeps it for its cursors)."""
    if connection.vendor != "postgresql" or _psycopg is None:
        return
    from psycopg.pq import Format

    adapters = connection.connection.adapters
    oid = adapters.types["timestamptz"].oid
    current = adapters.get_loader(oid, Format.TEXT)
    if current is None or not hasattr(current, "timezone"):
        return
    adapters.register_loader("timestamptz", _loader(current.timezone))


def connect() -> None:
    from django.db.backends.signals import connection_created

    connection_created.connect(use_c_loader, dispatch_uid="bxb_c_timestamptz_loader")
