"""Seams that apps above the catalog fill in from their AppConfig.ready().

The catalog may not import `subscriptions` or `invoicing`, yet some catalog rules depend on them
(Lago freezes a plan's interval once subscriptions use it; a metric's aggregation once it is
billed). Those apps register small predicates here; the catalog asks without importing them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from catalog.models import Plan

_plan_in_use: list[Callable[[Plan], bool]] = []
_plan_counters: dict[str, Callable[[Plan], int]] = {}


def register_plan_in_use(check: Callable[[Plan], bool]) -> None:
    """`check(plan)` answers True when subscriptions use the plan (or one of its overrides)."""
    if check not in _plan_in_use:
        _plan_in_use.append(check)


def plan_attached_to_subscriptions(plan: Plan) -> bool:
    return any(check(plan) for check in _plan_in_use)


def register_plan_counter(name: str, counter: Callable[[Plan], int]) -> None:
    """Counts shown on a plan (`customers_count`, `active_subscriptions_count`, `draft_invoices_count`)."""
    _plan_counters[name] = counter


def plan_count(plan: Plan, name: str) -> int:
    counter = _plan_counters.get(name)
    return counter(plan) if counter else 0
