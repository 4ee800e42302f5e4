"""What the subscriptions app asks of the apps above it, without importing them (billing_project/core/hooks.py).

The console's change of a subscription's fixed charge units shows, before it is confirmed, what
the change bills: that is invoicing's arithmetic. Invoicing fills `fixed_charge_preview` in
`InvoicingConfig.ready()`. The subscription's admin page shows its usage alerts and thresholds:
usage monitoring fills `usage_monitoring_summary` in `UsageMonitoringConfig.ready()`.
`SubscriptionsConfig.ready()` registers the start-up check (`subscriptions.E001`) that both are
filled.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from billing_project.core.hooks import Hook

if TYPE_CHECKING:
    from catalog.models import FixedCharge
    from subscriptions.models import Subscription


@dataclass(frozen=True)
class UnitsChangePreview:
    """What a change of units applied at once bills, before taxes, in the subscription's currency:
    paid in advance, `billed_now_cents` for `billed_now_units` (a decrease bills and credits
    nothing); paid in arrears, the current period's fee before and after the change, billed at
    `period_end`."""

    currency: str
    held_units: Decimal
    units: Decimal
    billed_now_cents: int = 0
    billed_now_units: Decimal = Decimal(0)
    period_fee_before_cents: int | None = None
    period_fee_after_cents: int | None = None
    period_end: dt.datetime | None = None


@runtime_checkable
class FixedChargePreview(Protocol):
    def __call__(
        self, subscription: Subscription, fixed_charge: FixedCharge, *, units: Decimal, at: dt.datetime
    ) -> UnitsChangePreview: ...


fixed_charge_preview: Hook[FixedChargePreview] = Hook(
    "subscriptions.fixed_charge_preview", FixedChargePreview, filled_by="invoicing"
)


@runtime_checkable
class UsageMonitoringSummary(Protocol):
    """The subscription page's panel of usage alerts and progressive-billing thresholds (HTML)."""

    def __call__(self, subscription: Subscription, /) -> str: ...


usage_monitoring_summary: Hook[UsageMonitoringSummary] = Hook(
    "subscriptions.usage_monitoring_summary", UsageMonitoringSummary, filled_by="usage_monitoring"
)

ALL = (fixed_charge_preview, usage_monitoring_summary)
