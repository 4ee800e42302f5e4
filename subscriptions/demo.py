"""The subscriptions step of `manage.py seed_demo`: demo customers on the catalog's demo plan.

Idempotent: a second run finds the same plan on the same external ids and changes nothing.
"""

from __future__ import annotations

from billing_project.core.actor import ACTOR_SYSTEM, Actor, acting_as
from catalog.models import Plan
from customers.models import Customer, Organization
from subscriptions import services
from subscriptions.inputs import SubscriptionCreate
from subscriptions.models import Subscription

DEMO_PLAN = "startup_monthly"
DEMO_SUBSCRIPTIONS = [
    SubscriptionCreate(external_customer_id="demo-acme", plan_code=DEMO_PLAN, external_id="demo-acme-main",
                       name="Acme main", billing_time="calendar"),
    SubscriptionCreate(external_customer_id="demo-jane", plan_code=DEMO_PLAN, external_id="demo-jane-main",
                       name="Jane", billing_time="anniversary"),
]  # fmt: skip


def seed_subscriptions(organization: Organization) -> str | None:
    if not Plan.live.filter(organization=organization, code=DEMO_PLAN, parent__isnull=True).exists():
        return None
    created = 0
    for data in DEMO_SUBSCRIPTIONS:
        if not Customer.objects.filter(
            organization=organization, external_id=data.external_customer_id, deleted_at__isnull=True
        ).exists():
            continue
        if Subscription.objects.filter(organization=organization, external_id=data.external_id).exists():
            continue
        with acting_as(Actor(ACTOR_SYSTEM, label="system:seed_demo")):
            services.subscription_create(organization, data)
        created += 1
    total = Subscription.objects.filter(organization=organization, external_id__startswith="demo-").count()
    return f"subscriptions: {total} demo subscriptions on {DEMO_PLAN} ({created} new)"
