"""Two simultaneous plan changes on one subscription leave one consistent outcome (PostgreSQL)."""

from __future__ import annotations

import itertools
import threading

import pytest
from django.db import connection, connections

from subscriptions import services
from subscriptions.inputs import SubscriptionCreate
from subscriptions.models import Subscription
from tests.factories.subscriptions import SubscriptionPlanFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _race(functions):
    barrier = threading.Barrier(len(functions))
    results: list[object] = [None] * len(functions)

    def run(index, fn):
        try:
            barrier.wait()
            results[index] = fn()
        except Exception as exc:  # the outcome is inspected below
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(functions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
@pytest.mark.parametrize("codes", [("premium", "gold"), ("premium", "starter"), ("starter", "tiny")])
def test_simultaneous_plan_changes(organization, codes):
    for code, amount in (("basic", 10000), ("premium", 20000), ("gold", 30000), ("starter", 5000), ("tiny", 100)):
        SubscriptionPlanFactory(organization=organization, code=code, amount_cents=amount)
    services.subscription_create(
        organization,
        SubscriptionCreate.from_validated({"external_customer_id": "c", "plan_code": "basic", "external_id": "s"}),
    )

    def change(code):
        return lambda: services.subscription_create(
            organization,
            SubscriptionCreate.from_validated({"external_customer_id": "c", "plan_code": code, "external_id": "s"}),
        )

    results = _race([change(code) for code in codes])
    assert all(isinstance(result, Subscription) for result in results), results
    rows = list(Subscription.objects.filter(external_id="s").select_related("plan", "previous_subscription"))
    active = [row for row in rows if row.status == "active"]
    pending = [row for row in rows if row.status == "pending"]
    assert len(active) == 1 and len(pending) <= 1
    # One consistent chain: each non-canceled row follows the one before it.
    chain = sorted((row for row in rows if row.status != "canceled"), key=lambda row: row.created_at)
    for before, after in itertools.pairwise(chain):
        assert after.previous_subscription_id == before.pk
    # Every terminated row was replaced by the next one, at the same instant.
    for row in rows:
        if row.status == "terminated":
            successor = next(r for r in rows if r.previous_subscription_id == row.pk and r.status != "canceled")
            assert successor.started_at == row.terminated_at


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
def test_simultaneous_creates_of_one_external_id(organization):
    SubscriptionPlanFactory(organization=organization, code="basic", amount_cents=10000)

    def create():
        return services.subscription_create(
            organization,
            SubscriptionCreate.from_validated({"external_customer_id": "c", "plan_code": "basic", "external_id": "s"}),
        )

    results = _race([create, create, create])
    assert all(isinstance(result, Subscription) for result in results), results
    assert Subscription.objects.filter(external_id="s").count() == 1
