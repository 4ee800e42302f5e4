"""The reads of current usage through `billing_project.core.prepared.PreparedQuery`: compiled once, the
same rows as the ORM for any values (the class itself: tests/core/test_prepared.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from catalog.models import ChargeTax, CustomerTax, PlanTax, Tax
from invoicing import selectors
from subscriptions.models import Subscription
from tests.factories.customers import CustomerFactory
from tests.factories.invoicing import make_charge, make_metric, make_plan, make_tax, subscribe

pytestmark = pytest.mark.django_db


def _catalog(organization, name: str):
    customer = CustomerFactory(organization=organization, external_id=f"cust-{name}")
    plan = make_plan(organization)
    first = make_charge(plan, make_metric(organization, f"{name}-a"))
    make_charge(plan, make_metric(organization, f"{name}-b"))
    ChargeTax.objects.create(charge=first, tax=make_tax(organization, "5", code=f"{name}-charge"))
    PlanTax.objects.create(plan=plan, tax=make_tax(organization, "10", code=f"{name}-plan"))
    CustomerTax.objects.create(customer=customer, tax=make_tax(organization, "15", code=f"{name}-customer"))
    make_tax(organization, "20", code=f"{name}-org", applied_to_organization=True)
    sub = subscribe(customer, plan, datetime(2024, 1, 1, tzinfo=UTC), external_id=f"sub-{name}")
    return customer, plan, sub


def test_current_usage_queries_are_prepared_and_match_the_orm(organization):
    from tests.factories.customers import OrganizationFactory

    other = OrganizationFactory()
    for org, name in ((organization, "x"), (organization, "y"), (other, "z")):
        customer, plan, sub = _catalog(org, name)
        [found] = selectors._USAGE_SUBSCRIPTION.fetch(
            organization=org.id, customer=customer.external_id, subscription=sub.external_id
        )
        orm = selectors._USAGE_SUBSCRIPTION.build(
            type("P", (), {"organization": org.id, "customer": customer.external_id, "subscription": sub.external_id})
        )
        [expected] = list(orm)
        assert found.pk == expected.pk == sub.pk
        assert found.plan.code == plan.code and found.customer.external_id == customer.external_id
        assert {f.attname: getattr(found, f.attname) for f in Subscription._meta.concrete_fields} == {
            f.attname: getattr(expected, f.attname) for f in Subscription._meta.concrete_fields
        }

        charges = selectors._USAGE_CHARGES.fetch(plan=plan.id)
        assert [c.id for c in charges] == [c.id for c in plan.charges.order_by("created_at", "id")]
        assert all(c.has_live_filters is False and c.billable_metric.code.startswith(name) for c in charges)

        rows = selectors._USAGE_TAXES.fetch(plan=plan.id, customer=customer.id, organization=org.id)
        kinds = sorted((kind, code) for _, code, _, _, _, kind, _, _ in rows)
        org_codes = Tax.objects.filter(organization=org, applied_to_organization=True).values_list("code", flat=True)
        assert kinds == sorted(
            [("charge", f"{name}-charge"), ("customer", f"{name}-customer"), ("plan", f"{name}-plan")]
            + [("organization", code) for code in org_codes]
        )
    # Other tenants' rows never come back; the values substituted, not the probes'.
    assert selectors._USAGE_SUBSCRIPTION.fetch(organization=other.id, customer="cust-x", subscription="sub-x") == []
    for query in (selectors._USAGE_SUBSCRIPTION, selectors._USAGE_CHARGES, selectors._USAGE_TAXES):
        assert all(entry is not False for entry in query._compiled.values()), "fell back to the ORM"
