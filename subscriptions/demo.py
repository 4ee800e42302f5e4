"""The subscriptions step of `manage.py seed_demo`: demo customers on the catalog's demo plan.

Idempotent: a second run finds the same plan on the same external ids and changes nothing.
"""

from __future__ import annotations

from catalog.models import Plan
from customers.models import Customer, Organization
from subscriptions import services
from subscriptions.models import Subscription

DEMO_PLAN = "startup_monthly"
DEMO_SUBSCRIPTIONS = [
    {"external_customer_id": "demo-acme", "external_id": "demo-acme-main", "name": "Acme main",
     "billing_time": "calendar"},
    {"external_customer_id": "demo-jane", "external_id": "demo-jane-main", "name": "Jane",
     "billing_time": "anniversary"},
]  # fmt: skip


def seed_subscriptions(organization: Organization) -> str | None:
    if not Plan.live.filter(organization=organization, code=DEMO_PLAN, parent__isnull=True).exists():
        return None
    created = 0
    for data in DEMO_SUBSCRIPTIONS:
        if not Customer.objects.filter(
            organization=organization, external_id=data["external_customer_id"], deleted_at__isnull=True
        ).exists():
            continue
        if Subscription.objects.filter(organization=organization, external_id=data["external_id"]).exists():
            continue
        services.subscription_create(organization, {**data, "plan_code": DEMO_PLAN}, actor="system:seed_demo")
        created += 1
    total = Subscription.objects.filter(organization=organization, external_id__startswith="demo-").count()
    return f"subscriptions: {total} demo subscriptions on {DEMO_PLAN} ({created} new)"
