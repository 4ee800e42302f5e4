from __future__ import annotations

from decimal import Decimal

import pytest

from billing_project.core.errors import NotFoundFailure, ValidationFailure
from catalog import selectors, services
from catalog.inputs import ChargeFields, ChargeFilterFields, ChargeOverride, PlanFields, PlanOverrides, TaxFields
from catalog.models import AddOn, BillableMetric, Charge, Coupon, Plan, Tax
from customers.demo import seed_demo
from tests.factories.catalog import (
    AddOnFactory,
    BillableMetricFactory,
    BillableMetricFilterFactory,
    ChargeFactory,
    ChargeFilterFactory,
    PlanFactory,
    TaxFactory,
)
from tests.factories.customers import CustomerFactory

pytestmark = pytest.mark.django_db


def test_fee_taxes_follow_lagos_order(organization):
    org_tax = TaxFactory(organization=organization, code="org", applied_to_organization=True)
    customer_tax = TaxFactory(organization=organization, code="cust")
    plan_tax = TaxFactory(organization=organization, code="plan")
    charge_tax = TaxFactory(organization=organization, code="charge")
    add_on_tax = TaxFactory(organization=organization, code="addon")
    TaxFactory(organization=organization, code="other")
    customer = CustomerFactory(organization=organization)
    plan = PlanFactory(organization=organization)
    charge = ChargeFactory(plan=plan)
    add_on = AddOnFactory(organization=organization)

    def codes(**kwargs):
        return [t.code for t in selectors.fee_taxes(organization, customer=customer, **kwargs)]

    assert codes() == ["org"]
    services.customer_taxes_set(organization, customer=customer, tax_codes=["cust"])
    assert codes(plan=plan, charge=charge) == ["cust"]
    plan.taxes.add(plan_tax)
    assert codes(plan=plan, charge=charge) == ["plan"]
    charge.taxes.add(charge_tax)
    assert codes(plan=plan, charge=charge) == ["charge"]
    add_on.taxes.add(add_on_tax)
    assert codes(add_on=add_on) == ["addon"]
    assert codes(add_on=add_on, tax_codes=["other"]) == ["other"]
    assert org_tax.pk and customer_tax.pk


def test_customer_taxes_set_checks_tenant(organization, other_tenant):
    customer = CustomerFactory(organization=other_tenant.organization)
    with pytest.raises(NotFoundFailure):
        services.customer_taxes_set(organization, customer=customer, tax_codes=[])


def test_plan_override_copies_the_plan_with_overrides(organization):
    vat = TaxFactory(organization=organization, code="vat")
    metric = BillableMetricFactory(organization=organization)
    BillableMetricFilterFactory(billable_metric=metric, key="region", values=["us", "eu"])
    parent = services.plan_create(
        organization,
        data=PlanFields.from_validated(
            {"name": "Pro", "code": "pro", "interval": "monthly", "amount_cents": 1000, "amount_currency": "USD",
             "tax_codes": ["vat"], "usage_thresholds": [{"amount_cents": 500}],
             "minimum_commitment": {"amount_cents": 2000},
             "charges": [{"billable_metric_id": str(metric.id), "charge_model": "standard",
                          "properties": {"amount": "1"},
                          "filters": [{"values": {"region": ["us"]}, "properties": {"amount": "2"}}]}]},
        ),
    )  # fmt: skip
    parent_charge = Charge.live.get(plan=parent)
    child = services.plan_override_create(
        organization,
        parent=parent,
        data=PlanOverrides(
            amount_cents=800, name="Pro (Acme)",
            charges=(ChargeOverride(id=str(parent_charge.id), properties={"amount": "0.5"}),),
        ),
    )  # fmt: skip
    assert (child.code, child.parent_id, child.amount_cents, child.name) == ("pro", parent.pk, 800, "Pro (Acme)")
    assert list(child.taxes.all()) == [vat]
    child_charge = Charge.live.get(plan=child)
    assert child_charge.parent_id == parent_charge.pk
    assert child_charge.charge_model == "standard"  # the model is not overridable (no such override field)
    assert child_charge.properties == {"amount": "0.5"}
    assert [f.values for f in child_charge.filters.all()] == [{"region": ["us"]}]
    assert [t.amount_cents for t in selectors.plan_usage_thresholds(child)] == [500]
    assert selectors.plan_minimum_commitment(child).amount_cents == 2000
    # overrides stay out of the plan list and the parent's code stays its own
    assert [p.code for p in selectors.plan_list(organization)] == ["pro"]
    assert selectors.plan_get(organization, "pro").pk == parent.pk
    assert selectors.plan_get_by_id(organization, child.id).pk == child.pk
    # the parent is unchanged
    parent_charge.refresh_from_db()
    assert parent_charge.properties == {"amount": "1"}
    # deleting the parent deletes its overrides
    services.plan_delete(organization, code="pro")
    child.refresh_from_db()
    assert child.deleted_at is not None and child.pending_deletion


def test_plan_override_refuses_bad_prices_and_foreign_plans(organization, other_tenant):
    parent = PlanFactory(organization=organization)
    charge = ChargeFactory(plan=parent)
    with pytest.raises(ValidationFailure) as refused:
        services.plan_override_create(
            organization,
            parent=parent,
            data=PlanOverrides(charges=(ChargeOverride(id=str(charge.id), properties={"amount": "-1"}),)),
        )
    assert refused.value.details == {"charges.properties": ["invalid_amount"]}  # the charge override named
    assert Plan.objects.filter(parent=parent).count() == 0
    with pytest.raises(NotFoundFailure):
        services.plan_override_create(other_tenant.organization, parent=parent, data=PlanOverrides())


def test_charge_filter_sync_keeps_rows_with_same_values(organization):
    metric = BillableMetricFactory(organization=organization)
    BillableMetricFilterFactory(billable_metric=metric, key="region", values=["us", "eu"])
    plan = PlanFactory(organization=organization, code="p")
    charge = ChargeFactory(plan=plan, billable_metric=metric, code="c")
    kept = ChargeFilterFactory(charge=charge, values={"region": ["us"]})
    dropped = ChargeFilterFactory(charge=charge, values={"region": ["eu"]})
    services.plan_charge_update(
        organization, plan_code="p", charge_code="c",
        data=ChargeFields(filters=[ChargeFilterFields(values={"region": ["us"]}, properties={"amount": "9"})]),
    )  # fmt: skip
    kept.refresh_from_db()
    dropped.refresh_from_db()
    assert kept.deleted_at is None and kept.properties == {"amount": "9"}
    assert dropped.deleted_at is not None


def test_seed_demo_is_idempotent():
    organization, _, lines = seed_demo()
    assert any(line.startswith("catalog:") for line in lines)
    counts = (
        BillableMetric.live.filter(organization=organization).count(),
        Plan.live.filter(organization=organization).count(),
        Charge.live.filter(organization=organization).count(),
        Tax.objects.filter(organization=organization).count(),
        Coupon.live.filter(organization=organization).count(),
        AddOn.live.filter(organization=organization).count(),
    )
    assert counts == (3, 1, 3, 1, 1, 1)
    seed_demo()
    assert (
        BillableMetric.live.filter(organization=organization).count(),
        Plan.live.filter(organization=organization).count(),
        Charge.live.filter(organization=organization).count(),
        Tax.objects.filter(organization=organization).count(),
        Coupon.live.filter(organization=organization).count(),
        AddOn.live.filter(organization=organization).count(),
    ) == counts
    plan = selectors.plan_get(organization, "startup_monthly")
    assert {c.charge_model for c in selectors.plan_charges(plan)} == {"standard", "graduated", "package"}


def test_tax_rate_is_stored_exactly(organization):
    tax = services.tax_create(organization, data=TaxFields(name="NY", code="ny", rate=Decimal("8.875")))
    tax.refresh_from_db()
    assert tax.rate == Decimal("8.875")
    with pytest.raises(ValidationFailure):
        services.tax_create(organization, data=TaxFields(name="bad", code="bad", rate=8.875))  # type: ignore[arg-type]  # a float is refused
