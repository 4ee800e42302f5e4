"""Property test: any sequence of lifecycle operations keeps the invariants.

* at most one active and one pending row per external id;
* every state change is in the transition ledger, and only the machine's transitions occur;
* plan-change chains are consistent (a successor starts when its predecessor ends);
* a scheduled downgrade always points at the active row it will replace.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing_project.core.errors import DomainError
from subscriptions import services, state_machine
from subscriptions.inputs import SubscriptionCreate
from subscriptions.models import Subscription, SubscriptionTransition
from tests.factories.customers import OrganizationFactory
from tests.factories.subscriptions import SubscriptionPlanFactory

pytestmark = pytest.mark.django_db

PLANS = {"p0": 100, "p1": 5000, "p2": 10000, "p3": 20000}
START = datetime(2024, 1, 1, tzinfo=UTC)

operations = st.lists(
    st.tuples(
        st.sampled_from(["change", "change_now", "terminate", "cancel_pending", "apply_now", "jobs", "future"]),
        st.sampled_from(["a", "b"]),
        st.sampled_from(sorted(PLANS)),
        st.integers(min_value=0, max_value=40 * 24),  # hours to advance
    ),
    min_size=1,
    max_size=12,
)


def _apply(organization, op, external_id, plan_code, now):
    body = {"external_customer_id": "c", "external_id": external_id, "plan_code": plan_code}
    live = Subscription.objects.filter(organization=organization, external_id=external_id)
    if op == "change":
        services.subscription_create(organization, SubscriptionCreate.from_validated(body), now=now)
    elif op == "change_now":
        services.subscription_create(
            organization, SubscriptionCreate.from_validated({**body, "downgrade_timing": "immediate"}), now=now
        )
    elif op == "future":
        services.subscription_create(
            organization,
            SubscriptionCreate.from_validated({**body, "subscription_at": (now + timedelta(days=3)).isoformat()}),
            now=now,
        )
    elif op == "terminate":
        active = live.filter(status="active").first()
        if active:
            services.subscription_terminate(organization, active, now=now)
    elif op == "cancel_pending":
        pending = live.filter(status="pending").first()
        if pending:
            services.subscription_cancel(organization, pending, now=now)
    elif op == "apply_now":
        active = live.filter(status="active").first()
        if active:
            services.subscription_downgrade_apply_now(organization, active, now=now)
    elif op == "jobs":
        for row in Subscription.objects.filter(status="pending", activation_at__lte=now):
            services.subscription_activate_due(row.pk, at=now)


def _check(organization):
    rows = list(Subscription.objects.filter(organization=organization))
    for external_id in {row.external_id for row in rows}:
        mine = [row for row in rows if row.external_id == external_id]
        assert sum(row.status == "active" for row in mine) <= 1
        assert sum(row.status == "pending" for row in mine) <= 1
    by_id = {row.pk: row for row in rows}
    for row in rows:
        ledger = list(SubscriptionTransition.objects.filter(subscription=row).order_by("occurred_at", "created_at"))
        changes = [t for t in ledger if t.from_status != t.to_status]
        assert changes[0].from_status == "" and changes[0].to_status == "pending"
        for transition in changes[1:]:
            assert state_machine.target_status(transition.from_status, transition.event) == transition.to_status
        assert changes[-1].to_status == row.status
        if row.status == "terminated":
            assert row.terminated_at is not None and row.started_at is not None
            assert row.terminated_at >= row.started_at
        if row.previous_subscription_id and row.status == "active":
            previous = by_id[row.previous_subscription_id]
            assert previous.status == "terminated"
            assert previous.terminated_at == row.started_at
        if row.previous_subscription_id and row.status == "pending":
            assert by_id[row.previous_subscription_id].status == "active"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=operations)
def test_any_sequence_keeps_the_invariants(ops):
    with transaction.atomic():
        organization = OrganizationFactory()
        for code, amount in PLANS.items():
            SubscriptionPlanFactory(organization=organization, code=code, amount_cents=amount)
        now = START
        for op, external_id, plan_code, hours in ops:
            now += timedelta(hours=hours)
            with contextlib.suppress(DomainError):  # refusals are allowed; the invariants must still hold
                _apply(organization, op, external_id, plan_code, now)
            _check(organization)
        transaction.set_rollback(True)
