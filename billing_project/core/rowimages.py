"""Before-images of rows, handed to the audit trail explicitly, never as attributes on the instance.

The audit trail (`audit/recorder.py`) diffs a saved row against the row as it was in the database.
Two pieces of state travel with an instance for that, and neither is stored on it:

- the recorder's own before-image, from its `pre_save` receiver to its `post_save` receiver
  (an `InstanceMap` the recorder owns);
- the row a service read with `select_for_update()` in the transaction of the save: that read is
  the database's row until the service saves it, so the recorder need not read it again. The
  service hands it over with `remember_locked_row(instance)`; the recorder's `pre_save` takes it
  with `take_locked_row(instance)` (a service cannot import the audit app, which sits above it,
  so the hand-over lives here, in the kernel).

An `InstanceMap` is keyed by the object's identity (not its primary key: two instances of one row
are two entries) and holds it weakly: an entry is removed when it is taken or when its object is
garbage collected (a save that failed, a service that refused its input after the locked read), so
nothing outlives the instance it describes and no entry reaches another instance of the row.
"""

from __future__ import annotations

import copy
import weakref
from typing import Any, Generic, TypeVar

from django.db import models

V = TypeVar("V")


class _KeyedRef(weakref.ref):  # type: ignore[type-arg]
    __slots__ = ("key",)
    key: int


class InstanceMap(Generic[V]):
    """Values attached to objects by identity, without touching the objects (see the module doc)."""

    def __init__(self) -> None:
        self._entries: dict[int, tuple[_KeyedRef, V]] = {}

    def _drop(self, ref: _KeyedRef) -> None:
        entry = self._entries.get(ref.key)
        if entry is not None and entry[0] is ref:
            self._entries.pop(ref.key, None)

    def put(self, obj: object, value: V) -> None:
        ref = _KeyedRef(obj, self._drop)
        ref.key = id(obj)
        self._entries[ref.key] = (ref, value)

    def pop(self, obj: object) -> V | None:
        """The value attached to `obj`, removed; None when there is none."""
        entry = self._entries.get(id(obj))
        if entry is None or entry[0]() is not obj:
            return None
        self._entries.pop(id(obj), None)
        return entry[1]

    def __len__(self) -> int:
        return len(self._entries)


# {attname: value} of an instance's concrete fields, as read under `select_for_update()`.
_LOCKED_ROWS: InstanceMap[dict[str, Any]] = InstanceMap()


def remember_locked_row(instance: models.Model) -> None:
    """Record `instance`'s fields as loaded (call it right after the `select_for_update()` read, before
    any change) as its row in the database; the next save of this instance consumes it."""
    row = {}
    for field in instance._meta.concrete_fields:
        value = getattr(instance, field.attname)
        if isinstance(field, models.FileField):
            # The stored name, as a read of the column gives it: the descriptor's `FieldFile` is the
            # object `file.save()` renames in place, so it would show the change as the row before it.
            value = value.name if value is not None else None
        row[field.attname] = copy.deepcopy(value) if isinstance(value, dict | list) else value
    _LOCKED_ROWS.put(instance, row)


def take_locked_row(instance: models.Model) -> dict[str, Any] | None:
    """The row `remember_locked_row` recorded for this instance (removed), or None."""
    return _LOCKED_ROWS.pop(instance)
