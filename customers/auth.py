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
from django.db.models import signals
from django.db.models.base import ModelState
from django.db.models.query_utils import DeferredAttribute
from django.utils import timezone

from billing_project.core.localcache import LocalCache
from customers.models import ApiKey, Organization
from customers.services import _LAST_USED_RESOLUTION_SECONDS, api_key_authenticate, hash_api_key

MAX_KEY_LENGTH = 200

_keys = LocalCache("api_keys", ttl_setting="API_KEY_CACHE_SECONDS", default_ttl=5.0)


def _snapshot(instance: Any) -> tuple[Any, ...]:
    return tuple(getattr(instance, f.attname) for f in instance._meta.concrete_fields)


_Layout = tuple[tuple[str, ...], tuple[str, ...]]
_LAYOUTS: dict[type, _Layout | None] = {}


def _layout(model: Any) -> _Layout | None:
    """(attribute names of the concrete fields, those holding mutable values) when every field is a
    plain stored attribute (Django's `DeferredAttribute` family, which only reads `__dict__`)."""
    if model not in _LAYOUTS:
        fields = model._meta.concrete_fields
        names = tuple(f.attname for f in fields)
        plain = all(isinstance(model.__dict__.get(name), DeferredAttribute) for name in names)
        mutable = tuple(f.attname for f in fields if f.get_internal_type() == "JSONField")
        _LAYOUTS[model] = (names, mutable) if plain else None
    return _LAYOUTS[model]


def _copy_json(value: Any) -> Any:
    """A deep copy of a JSON value (dicts, lists, scalars); anything else through `copy.deepcopy`."""
    kind = type(value)
    if kind is dict:
        return {key: _copy_json(item) for key, item in value.items()}
    if kind is list:
        return [_copy_json(item) for item in value]
    if kind in (str, int, float, bool) or value is None:
        return value
    return copy.deepcopy(value)


def _restore(model: Any, values: tuple[Any, ...]) -> Any:
    """A fresh instance of `model` holding `values`, as `Model.from_db` builds it.

    Building it through `Model.__init__` (argument binding, a `setattr` per field, the
    `pre_init`/`post_init` signals) and deep-copying every value was a visible share of every API
    request's CPU. When no `pre_init`/`post_init` receiver listens to the model and every field is
    a plain attribute, the same instance state is written directly: the values in `__dict__` and a
    loaded `_state`. JSON values are copied, so nothing a request changes in them reaches the cache.
    """
    layout = _layout(model)
    if layout is None or signals.pre_init.has_listeners(model) or signals.post_init.has_listeners(model):
        fresh = tuple(_copy_json(v) if isinstance(v, dict | list) else v for v in values)
        return model.from_db(DEFAULT_DB_ALIAS, None, fresh)
    names, mutable = layout
    instance = model.__new__(model)
    attributes = instance.__dict__
    attributes.update(zip(names, values, strict=True))
    for name in mutable:
        attributes[name] = _copy_json(attributes[name])
    state = ModelState()
    state.adding = False
    state.db = DEFAULT_DB_ALIAS
    instance._state = state
    return instance


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
