"""Small per-process caches with a time-to-live, for lookups on the request hot path.

A gunicorn sync worker serves one request at a time, and reading the same API key or the same
metric definitions from PostgreSQL on every request costs a round trip and ORM work each time.
`LocalCache` keeps such answers in the worker's memory for a few seconds::

    from billing_project.core.localcache import LocalCache

    _keys = LocalCache("api_keys", ttl_setting="API_KEY_CACHE_SECONDS", default_ttl=5.0)

    value = _keys.get(key)          # None when absent or expired
    value, fresh = _keys.peek(key)  # (None, False) when absent; an expired entry with fresh False
    _keys.set(key, value)
    _keys.discard(key); _keys.clear()

Rules every user follows:
* the TTL bounds how long another process may act on an answer that changed in the database;
  the process that makes the change clears the entry itself (services, or a `post_save`
  receiver), so within one process a change is seen at once;
* a TTL of 0 (the setting) disables the cache: every `get` misses and nothing is stored;
* cache only positive, immutable answers (tuples, frozen dataclasses, copies): a caller must
  never mutate what it got from the cache;
* the cache is bounded (`maxsize`); when full, expired entries are dropped, then the oldest;
* `peek` hands out an expired entry too, for a caller that checks it against the database before
  using it (and `set`s it again, with a new TTL, when it still holds): what is used unchecked is
  still never older than the TTL.

`clear_all()` empties every cache of the process (tests, and receivers that cannot tell which
entry a change concerns).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from django.conf import settings

_registry: list[LocalCache] = []


class LocalCache:
    def __init__(self, name: str, *, ttl_setting: str, default_ttl: float, maxsize: int = 10_000) -> None:
        self.name = name
        self.ttl_setting = ttl_setting
        self.default_ttl = default_ttl
        self.maxsize = maxsize
        self._data: dict[Any, tuple[float, Any]] = {}
        self._lock = threading.Lock()
        _registry.append(self)

    def ttl(self) -> float:
        value = getattr(settings, self.ttl_setting, self.default_ttl)
        return float(self.default_ttl if value is None else value)

    def get(self, key: Any) -> Any:
        entry = self._data.get(key)
        if entry is None:
            return None
        if time.monotonic() >= entry[0]:
            self._data.pop(key, None)
            return None
        return entry[1]

    def peek(self, key: Any) -> tuple[Any, bool]:
        """(value, fresh): the entry even when expired (fresh False), kept until `set` or eviction
        replaces it; (None, False) when absent. A caller checks an expired value before using it."""
        entry = self._data.get(key)
        if entry is None:
            return None, False
        return entry[1], time.monotonic() < entry[0]

    def set(self, key: Any, value: Any) -> None:
        ttl = self.ttl()
        if ttl <= 0:
            return
        now = time.monotonic()
        with self._lock:
            if len(self._data) >= self.maxsize and key not in self._data:
                self._data = {k: v for k, v in self._data.items() if v[0] > now}
                while len(self._data) >= self.maxsize:
                    self._data.pop(next(iter(self._data)))
            self._data[key] = (now + ttl, value)

    def discard(self, key: Any) -> None:
        self._data.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._data = {}

    def __len__(self) -> int:
        return len(self._data)


def clear_all(*args: Any, **kwargs: Any) -> None:
    """Empty every cache of this process (also usable as a signal receiver)."""
    for cache in _registry:
        cache.clear()
