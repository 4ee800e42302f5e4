"""Factories for metering tests: metrics (catalog rows created directly), events, fake subscriptions."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any

from catalog.models import BillableMetric, BillableMetricFilter
from subscriptions import selectors as subscription_selectors
from subscriptions.selectors import SubscriptionRef


def make_metric(
    organization: Any,
    code: str,
    aggregation_type: str = "count_agg",
    *,
    field_name: str | None = None,
    filters: dict[str, list[str]] | None = None,
    **extra: Any,
) -> BillableMetric:
    metric = BillableMetric.objects.create(
        organization=organization,
        name=code,
        code=code,
        aggregation_type=aggregation_type,
        field_name=field_name,
        **extra,
    )
    for key, values in (filters or {}).items():
        BillableMetricFilter.objects.create(billable_metric=metric, key=key, values=values)
    return metric


class FakeSubscriptions:
    """Stands in for `subscriptions.selectors.subscription_refs` and `charges_period_of_ref` (what
    metering reads of subscriptions), backed by a dict: `fake.add(org, "sub_1", started_at)`."""

    def __init__(self, *, known_by_default: bool = False) -> None:
        """`known_by_default`: every external id is a subscription (started 2000-01-01) unless it
        starts with "ghost"; otherwise only the ids added with `add`."""
        self.refs: dict[tuple[Any, str], SubscriptionRef] = {}
        self.known_by_default = known_by_default

    def add(
        self,
        organization: Any,
        external_id: str,
        started_at: datetime,
        terminated_at: datetime | None = None,
        plan_id: Any = None,
    ):
        ref = SubscriptionRef(
            id=uuid.uuid4(),
            external_id=external_id,
            customer_id=uuid.uuid4(),
            plan_id=plan_id or uuid.uuid4(),
            started_at=started_at,
            terminated_at=terminated_at,
        )
        self.refs[(organization.id, external_id)] = ref
        return ref

    def __call__(self, organization: Any, external_ids: Collection[str]) -> dict[str, SubscriptionRef]:
        if self.known_by_default:
            for ext in external_ids:
                if not ext.startswith("ghost") and (organization.id, ext) not in self.refs:
                    self.add(organization, ext, datetime(2000, 1, 1, tzinfo=UTC))
        return {ext: self.refs[(organization.id, ext)] for ext in external_ids if (organization.id, ext) in self.refs}

    @staticmethod
    def charges_period(organization: Any, ref: SubscriptionRef, at: datetime) -> tuple[datetime, datetime]:
        """The fake's billing periods: UTC calendar months, from the start when it falls inside."""
        start = at.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        end = start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)
        return max(start, ref.started_at), end

    _previous: list = []

    def install(self) -> FakeSubscriptions:
        FakeSubscriptions._previous.append(
            (subscription_selectors.subscription_refs, subscription_selectors.charges_period_of_ref)
        )
        subscription_selectors.subscription_refs = self  # type: ignore[assignment]
        subscription_selectors.charges_period_of_ref = self.charges_period  # type: ignore[assignment]
        return self

    @staticmethod
    def uninstall() -> None:
        """Put back the functions replaced before (the subscriptions app's own, in the suite)."""
        while FakeSubscriptions._previous:
            lookup, period = FakeSubscriptions._previous.pop()
            subscription_selectors.subscription_refs = lookup  # type: ignore[method-assign]
            subscription_selectors.charges_period_of_ref = period  # type: ignore[method-assign]


def event_payload(transaction_id: str, code: str = "calls", sub: str = "sub_1", **extra: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {"transaction_id": transaction_id, "code": code, "external_subscription_id": sub}
    payload.update(extra)
    return payload
