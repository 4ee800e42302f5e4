"""seed_demo puts demo customers on the catalog's demo plan, idempotently."""

from __future__ import annotations

import pytest

from customers.demo import seed_demo
from subscriptions.models import Subscription

pytestmark = pytest.mark.django_db


def test_seed_demo_subscriptions_idempotent():
    organization, _, lines = seed_demo()
    assert any(line.startswith("subscriptions: 2 demo subscriptions") for line in lines)
    rows = Subscription.objects.filter(organization=organization)
    assert {(s.external_id, s.status, s.plan.code) for s in rows} == {
        ("demo-acme-main", "active", "startup_monthly"),
        ("demo-jane-main", "active", "startup_monthly"),
    }
    _, _, again = seed_demo()
    assert "subscriptions: 2 demo subscriptions on startup_monthly (0 new)" in again
    assert Subscription.objects.filter(organization=organization).count() == 2
