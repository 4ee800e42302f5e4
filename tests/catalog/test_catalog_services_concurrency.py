"""Two requests at once: the database decides (PostgreSQL only; SQLite serializes whole writes)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections

from billing_project.core.errors import ValidationFailure
from catalog import services
from catalog.inputs import AppliedCouponFields, PlanFields
from catalog.models import AppliedCoupon, Plan
from tests.factories.catalog import CouponFactory
from tests.factories.customers import CustomerFactory, OrganizationFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs row locks (PostgreSQL)"),
]


def _race(*calls):
    barrier = threading.Barrier(len(calls))
    outcomes: list[object] = []

    def run(call):
        try:
            barrier.wait()
            outcomes.append(call())
        except Exception as exc:  # the outcome is what the test checks
            outcomes.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_a_non_reusable_coupon_is_applied_once_under_concurrency():
    organization = OrganizationFactory()
    CouponFactory(organization=organization, code="once", reusable=False)
    CustomerFactory(organization=organization, external_id="acme")
    data = AppliedCouponFields(external_customer_id="acme", coupon_code="once")
    outcomes = _race(*[lambda: services.applied_coupon_create(organization, data=data)] * 4)
    assert sum(isinstance(o, AppliedCoupon) for o in outcomes) == 1
    refusals = [o for o in outcomes if isinstance(o, ValidationFailure)]
    assert len(refusals) == 3
    assert all(r.details == {"coupon": ["coupon_is_not_reusable"]} for r in refusals)
    assert AppliedCoupon.objects.count() == 1


def test_two_plans_with_one_code_at_once():
    organization = OrganizationFactory()
    data = PlanFields(name="P", code="same", interval="monthly", amount_cents=1, amount_currency="USD")
    outcomes = _race(*[lambda: services.plan_create(organization, data=data)] * 3)
    assert sum(isinstance(o, Plan) for o in outcomes) == 1
    assert all(o.details == {"code": ["value_already_exist"]} for o in outcomes if isinstance(o, ValidationFailure))
    assert Plan.objects.filter(organization=organization).count() == 1
