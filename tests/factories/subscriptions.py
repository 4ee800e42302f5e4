from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import factory

from catalog.models import BillableMetric, Charge, Plan
from subscriptions.models import Subscription, SubscriptionStatus
from tests.factories import ModelFactory
from tests.factories.customers import CustomerFactory, OrganizationFactory


class SubscriptionPlanFactory(ModelFactory[Plan]):
    """A catalog plan, as the subscriptions tests need it (the catalog's own factories may differ)."""

    class Meta:
        model = Plan

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Plan {n}")
    code = factory.Sequence(lambda n: f"plan_{n}")
    interval = "monthly"
    amount_cents = 1000
    amount_currency = "USD"
    pay_in_advance = False
    trial_period = Decimal("0")


def charge_for(plan: Plan, *, code: str = "api_calls", amount: str = "0.05") -> Charge:
    metric = BillableMetric.objects.create(
        organization=plan.organization, name=code, code=f"{code}_{plan.code}", aggregation_type="count_agg"
    )
    return Charge.objects.create(
        organization=plan.organization,
        plan=plan,
        billable_metric=metric,
        code=code,
        charge_model="standard",
        properties={"amount": amount},
    )


class SubscriptionFactory(ModelFactory[Subscription]):
    class Meta:
        model = Subscription

    organization = factory.SubFactory(OrganizationFactory)
    customer = factory.SubFactory(CustomerFactory, organization=factory.SelfAttribute("..organization"))
    plan = factory.SubFactory(SubscriptionPlanFactory, organization=factory.SelfAttribute("..organization"))
    external_id = factory.Sequence(lambda n: f"sub_{n:05d}")
    status = SubscriptionStatus.ACTIVE
    subscription_at = datetime(2024, 1, 1, tzinfo=UTC)
    started_at = datetime(2024, 1, 1, tzinfo=UTC)
