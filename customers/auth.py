"""API key authentication with a short per-process cache (the request hot path).

Every API request authenticates its key. Without a cache that is one PostgreSQL round trip
(key + organization) per request; with it, a worker reads a key from the database at most once
per `API_KEY_CACHE_SECONDS` (default 5; 0 disables the cache) and answers from memory otherwise.

What the cache may make stale, and for how long:
* a key revoked (or whose permissions changed, or whose organization changed) in *this* process
  is refused (or seen changed) on its next request: every `ApiKey` / `Organization` save or
  delete empties the cache of the process (receivers connected in `CustomersConfig.ready()`);
* in *other* processes (the other gunicorn workers) the old answer lives at most
  `API_KEY_CACHE_SECONDS` more; a change written with `QuerySet.update()` (no signal) too;
* unknown or revoked keys are never cached: a new key works at once everywhere;
* every request gets fresh model instances built from the cached row values, so nothing a
  request changes in memory leaks into the next one.

`last_used_at` is still written at most once a minute per key and process.
"""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

from django.db import DEFAULT_DB_ALIAS
from django.utils import timezone

from billing_project.core.localcache import LocalCache
from customers.models import ApiKey, Organization
from customers.services import _LAST_USED_RESOLUTION_SECONDS, api_key_authenticate, hash_api_key

MAX_KEY_LENGTH = 200

_keys = LocalCache("api_keys", ttl_setting="API_KEY_CACHE_SECONDS", default_ttl=5.0)


def _snapshot(instance: Any) -> tuple[Any, ...]:
    return tuple(getattr(instance, f.attname) for f in instance._meta.concrete_fields)


def _restore(model: type, values: tuple[Any, ...]) -> Any:
    fresh = tuple(copy.deepcopy(v) if isinstance(v, dict | list) else v for v in values)
    return model.from_db(DEFAULT_DB_ALIAS, None, fresh)


def _remember(key_hash: str, api_key: ApiKey) -> None:
    _keys.set(key_hash, (_snapshot(api_key), _snapshot(api_key.organization)))


def authenticate(raw_key: str) -> ApiKey | None:
    """The active key for this secret with its organization loaded, or None (see module doc)."""
    if not raw_key or len(raw_key) > MAX_KEY_LENGTH:
        return None
    key_hash = hash_api_key(raw_key)
    cached = _keys.get(key_hash)
    if cached is None:
        api_key = api_key_authenticate(raw_key)
        if api_key is not None:
            _remember(key_hash, api_key)
        return api_key
    api_key = _restore(ApiKey, cached[0])
    ApiKey.organization.field.set_cached_value(api_key, _restore(Organization, cached[1]))
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at > timedelta(seconds=_LAST_USED_RESOLUTION_SECONDS):
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
        _remember(key_hash, api_key)
    return api_key


def forget_all(*args: Any, **kwargs: Any) -> None:
    """Empty the key cache of this process (a `post_save`/`post_delete` receiver)."""
    _keys.clear()
