from __future__ import annotations

from decimal import Decimal
from typing import Any

import factory

from catalog.models import (
    AddOn,
    AppliedCoupon,
    BillableMetric,
    BillableMetricFilter,
    Charge,
    ChargeFilter,
    Coupon,
    FixedCharge,
    Plan,
    Tax,
)
from tests.factories import ModelFactory
from tests.factories.customers import CustomerFactory, OrganizationFactory


class BillableMetricFactory(ModelFactory[BillableMetric]):
    class Meta:
        model = BillableMetric

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Metric {n}")
    code = factory.Sequence(lambda n: f"metric_{n}")
    aggregation_type = "sum_agg"
    field_name = "value"


class BillableMetricFilterFactory(ModelFactory[BillableMetricFilter]):
    class Meta:
        model = BillableMetricFilter

    billable_metric = factory.SubFactory(BillableMetricFactory)
    key = "region"
    values = factory.LazyFunction(lambda: ["us", "eu"])


class TaxFactory(ModelFactory[Tax]):
    class Meta:
        model = Tax

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Tax {n}")
    code = factory.Sequence(lambda n: f"tax_{n}")
    rate = Decimal("20")


class PlanFactory(ModelFactory[Plan]):
    class Meta:
        model = Plan

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Plan {n}")
    code = factory.Sequence(lambda n: f"plan_{n}")
    interval = "monthly"
    amount_cents = 1000
    amount_currency = "USD"


class ChargeFactory(ModelFactory[Charge]):
    class Meta:
        model = Charge

    plan = factory.SubFactory(PlanFactory)
    organization = factory.SelfAttribute("plan.organization")
    billable_metric = factory.SubFactory(BillableMetricFactory, organization=factory.SelfAttribute("..organization"))
    code = factory.Sequence(lambda n: f"charge_{n}")
    charge_model = "standard"
    properties = factory.LazyFunction(lambda: {"amount": "1"})


class ChargeFilterFactory(ModelFactory[ChargeFilter]):
    class Meta:
        model = ChargeFilter

    charge = factory.SubFactory(ChargeFactory)
    organization = factory.SelfAttribute("charge.organization")
    values = factory.LazyFunction(lambda: {"region": ["us"]})
    properties = factory.LazyFunction(lambda: {"amount": "2"})


class AddOnFactory(ModelFactory[AddOn]):
    class Meta:
        model = AddOn

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Add-on {n}")
    code = factory.Sequence(lambda n: f"add_on_{n}")
    amount_cents = 5000
    amount_currency = "USD"


class FixedChargeFactory(ModelFactory[FixedCharge]):
    class Meta:
        model = FixedCharge

    plan = factory.SubFactory(PlanFactory)
    organization = factory.SelfAttribute("plan.organization")
    add_on = factory.SubFactory(AddOnFactory, organization=factory.SelfAttribute("..organization"))
    code = factory.Sequence(lambda n: f"fixed_{n}")
    charge_model = "standard"
    units = Decimal(1)
    properties = factory.LazyFunction(lambda: {"amount": "10"})


class CouponFactory(ModelFactory[Coupon]):
    class Meta:
        model = Coupon

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Coupon {n}")
    code = factory.Sequence(lambda n: f"coupon_{n}")
    coupon_type = "fixed_amount"
    amount_cents = 1000
    amount_currency = "USD"
    frequency = "once"
    expiration = "no_expiration"


class AppliedCouponFactory(ModelFactory[AppliedCoupon]):
    class Meta:
        model = AppliedCoupon

    coupon = factory.SubFactory(CouponFactory)
    organization = factory.SelfAttribute("coupon.organization")
    customer = factory.SubFactory(CustomerFactory, organization=factory.SelfAttribute("..organization"))
    amount_cents = factory.SelfAttribute("coupon.amount_cents")
    amount_cents_remaining = factory.SelfAttribute("coupon.amount_cents")
    amount_currency = factory.SelfAttribute("coupon.amount_currency")
    frequency = "once"


class FixedPlanUsage:
    """A `catalog.hooks.PlanUsage` with fixed answers and no queries, for
    `monkeypatch.setattr(catalog.hooks.plan_usage, "_impl", FixedPlanUsage(in_use=True))`."""

    def __init__(self, *, in_use: bool = False, active_subscriptions: int = 0, customers: int = 0) -> None:
        self._in_use, self._active, self._customers = in_use, active_subscriptions, customers

    def in_use(self, plan: Plan) -> bool:
        return self._in_use

    def counts(self, plan: Plan) -> tuple[int, int]:
        return self._active, self._customers

    def counts_json(self, plan_ref: str) -> Any:
        from django.db.models import TextField, Value

        return Value(f"[{self._active}, {self._customers}]", output_field=TextField())
