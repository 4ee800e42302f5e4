"""Typed hooks: how a lower app asks a higher one without importing it (docs/architecture.md, "Hooks").

A lower app declares each hook once, in its own `hooks.py`, with the `Protocol` an implementation
must satisfy and the app that fills it:

    plan_usage: Hook[PlanUsage] = Hook("catalog.plan_usage", PlanUsage, filled_by="subscriptions")

The named app fills it in its `AppConfig.ready()` (`plan_usage.fill(...)`, once), and the lower app
registers `hooks_check(...)` as a Django system check in its own `AppConfig.ready()`: a hook that is
empty, or filled with something that is not its protocol, fails `manage.py check` and start-up.
Calling an empty hook raises `ImproperlyConfigured`, never answers a guess.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from django.core import checks
from django.core.exceptions import ImproperlyConfigured

T = TypeVar("T")


class Hook(Generic[T]):
    """One typed slot, filled once by `filled_by` (an app label) in its `AppConfig.ready()`."""

    def __init__(self, name: str, protocol: type, *, filled_by: str) -> None:
        self.name = name
        self.protocol = protocol
        self.filled_by = filled_by
        self._impl: T | None = None

    def fill(self, impl: T) -> None:
        if not isinstance(impl, self.protocol):
            raise ImproperlyConfigured(f"{self.name}: {impl!r} is not a {self.protocol.__name__}")
        self._impl = impl

    @property
    def filled(self) -> bool:
        return self._impl is not None

    def get(self) -> T:
        if self._impl is None:
            raise ImproperlyConfigured(f"hook {self.name} is not filled (is {self.filled_by!r} in INSTALLED_APPS?)")
        return self._impl

    def __repr__(self) -> str:
        return f"Hook({self.name!r}, filled_by={self.filled_by!r}, filled={self.filled})"


def hooks_check(app_label: str, hooks: Sequence[Hook[Any]]) -> Callable[..., list[checks.CheckMessage]]:
    """A system check (`<app_label>.E001`) that every hook in `hooks` is filled with its protocol."""

    def check(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
        errors: list[checks.CheckMessage] = []
        for hook in hooks:
            impl = hook._impl
            if impl is None or not isinstance(impl, hook.protocol):
                errors.append(
                    checks.Error(
                        f"hook {hook.name} is not filled with a {hook.protocol.__name__}",
                        hint=f"The {hook.filled_by!r} app fills it in its AppConfig.ready(); is it in INSTALLED_APPS?",
                        id=f"{app_label}.E001",
                    )
                )
        return errors

    check.__name__ = f"{app_label}_hooks_check"
    return check
