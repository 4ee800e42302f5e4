"""POST /events/estimate_fees applies taxes in Lago's precedence (docs/billing-semantics.md §6.2)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from catalog.models import CustomerTax
from subscriptions.selectors import SubscriptionRef
from tests.factories.catalog import ChargeFactory, PlanFactory, TaxFactory
from tests.factories.customers import CustomerFactory
from tests.factories.metering import make_metric

pytestmark = pytest.mark.django_db

NOW = int(datetime.now(UTC).timestamp())


@pytest.fixture
def setup(tenant, known_subscriptions):
    organization = tenant.organization
    metric = make_metric(organization, "calls")
    plan = PlanFactory(organization=organization)
    charge = ChargeFactory(
        plan=plan,
        billable_metric=metric,
        pay_in_advance=True,
        charge_model="standard",
        properties={"amount": "10.05"},
    )
    customer = CustomerFactory(organization=organization)
    known_subscriptions.refs[(organization.id, "sub_tax")] = SubscriptionRef(
        id=plan.id,  # any id: the estimate reads the customer, plan and charges
        external_id="sub_tax",
        customer_id=customer.id,
        plan_id=plan.id,
        started_at=datetime(2020, 1, 1, tzinfo=UTC),
        terminated_at=None,
    )
    return organization, plan, charge, customer


def estimate(api):
    payload = {"transaction_id": "est", "external_subscription_id": "sub_tax", "code": "calls", "timestamp": NOW}
    response = api.post("/api/v1/events/estimate_fees", {"event": payload}, format="json")
    assert response.status_code == 200, response.content
    (fee,) = response.json()["fees"]
    return fee


def test_no_tax_anywhere(api, setup):
    fee = estimate(api)
    assert (fee["amount_cents"], fee["taxes_amount_cents"], fee["taxes_rate"], fee["total_amount_cents"]) == (
        1005,
        0,
        0,
        1005,
    )
    assert fee["applied_taxes"] == []


def test_organization_default_taxes_apply_last(api, setup):
    organization, *_ = setup
    TaxFactory(organization=organization, code="vat", rate=Decimal("20"), applied_to_organization=True)
    TaxFactory(organization=organization, code="unused", rate=Decimal("50"))
    fee = estimate(api)
    # 1005 × 20 % = 201
    assert (fee["taxes_amount_cents"], fee["taxes_rate"], fee["total_amount_cents"]) == (201, 20, 1206)
    assert [(t["tax_code"], t["tax_rate"], t["amount_cents"]) for t in fee["applied_taxes"]] == [("vat", 20, 201)]


def test_customer_taxes_win_over_organization_defaults(api, setup):
    organization, _, _, customer = setup
    TaxFactory(organization=organization, code="vat", rate=Decimal("20"), applied_to_organization=True)
    local = TaxFactory(organization=organization, code="local", rate=Decimal("8.5"))
    CustomerTax.objects.create(customer=customer, tax=local)
    fee = estimate(api)
    # 1005 × 8.5 % = 85.425 -> 85
    assert (fee["taxes_amount_cents"], fee["taxes_rate"], fee["total_amount_cents"]) == (85, 8.5, 1090)


def test_plan_taxes_win_over_customer_and_charge_taxes_win_over_plan(api, setup):
    organization, plan, charge, customer = setup
    CustomerTax.objects.create(customer=customer, tax=TaxFactory(organization=organization, code="c", rate=Decimal(1)))
    plan.taxes.add(TaxFactory(organization=organization, code="p", rate=Decimal(10)))
    assert estimate(api)["taxes_amount_cents"] == 101  # 100.5 -> 101 (half-up)
    charge.taxes.add(
        TaxFactory(organization=organization, code="a", rate=Decimal("2.5")),
        TaxFactory(organization=organization, code="b", rate=Decimal("2.5")),
    )
    fee = estimate(api)
    # Two rows of 25.125 each (25 shown per row); the fee rounds their sum once: 50.25 -> 50.
    assert [(t["tax_code"], t["amount_cents"]) for t in fee["applied_taxes"]] == [("a", 25), ("b", 25)]
    assert (fee["taxes_amount_cents"], fee["taxes_rate"], fee["total_amount_cents"]) == (50, 5, 1055)


def test_another_organizations_default_taxes_never_apply(api, setup, other_tenant):
    TaxFactory(organization=other_tenant.organization, code="vat", rate=Decimal("20"), applied_to_organization=True)
    assert estimate(api)["taxes_amount_cents"] == 0
