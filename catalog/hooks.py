"""What the catalog asks of the apps above it, without importing them (billing_project/core/hooks.py).

Some catalog rules depend on subscriptions: Lago freezes a plan's interval and its charges' models
once subscriptions use it, and a plan shows how many customers and subscriptions it has. The
subscriptions app fills `plan_usage` in `SubscriptionsConfig.ready()`; `CatalogConfig.ready()`
registers the start-up check (`catalog.E001`) that it is filled.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from billing_project.core.hooks import Hook

if TYPE_CHECKING:
    from catalog.models import Plan


@runtime_checkable
class PlanUsage(Protocol):
    """How subscriptions use a plan (the plan and its overrides, i.e. child plans)."""

    def in_use(self, plan: Plan) -> bool:
        """Live (active or pending) subscriptions use the plan or one of its overrides."""
        ...

    def counts(self, plan: Plan) -> tuple[int, int]:
        """(active subscriptions, customers with an active subscription) on the plan or one of its
        overrides: the plan object's `active_subscriptions_count` and `customers_count`, in one
        statement."""
        ...

    def counts_json(self, plan_ref: str) -> Any:
        """The same two counts as an expression (the JSON text `[active, customers]`) for the plan
        whose id is the outer query's column `plan_ref`, to read in that query (PostgreSQL)."""
        ...


plan_usage: Hook[PlanUsage] = Hook("catalog.plan_usage", PlanUsage, filled_by="subscriptions")

ALL = (plan_usage,)
