"""A billing entity's own settings govern its customers' invoices (docs/billing-semantics.md §6.8):
timezone, net payment term, grace period and zero-amount setting: the customer's own value, else its
entity's (the default entity's are the organization's)."""

from __future__ import annotations

import datetime as dt
from datetime import UTC, datetime

import pytest

from invoicing.billing.run import customer_bill, customers_bill
from invoicing.models import Invoice, InvoiceStatus
from invoicing.services.lifecycle import invoice_finalize_if_due
from tests.factories.credits import make_one_off_invoice
from tests.factories.customers import BillingEntityFactory
from tests.factories.invoicing import make_customer, make_plan, subscribe

pytestmark = pytest.mark.django_db


def at(month: int, day: int, hour: int = 0) -> datetime:
    return datetime(2024, month, day, hour, tzinfo=UTC)


@pytest.fixture
def world(tenant):
    organization = tenant.organization
    us = BillingEntityFactory(
        organization=organization, code="us", timezone="America/New_York", net_payment_term=30,
        invoice_grace_period=3, finalize_zero_amount_invoice=False,
    )  # fmt: skip
    home = make_customer(organization, sequential_id=1)
    ny = make_customer(organization, sequential_id=2, billing_entity=us)
    own = make_customer(
        organization, sequential_id=3, billing_entity=us, timezone="UTC", net_payment_term=5, invoice_grace_period=0,
        finalize_zero_amount_invoice="finalize",
    )  # fmt: skip
    plan = make_plan(organization, amount_cents=1000)
    for customer in (home, ny, own):
        subscribe(customer, plan, at(1, 1, 6))
    return {"api": tenant.client, "org": organization, "us": us, "home": home, "ny": ny, "own": own, "plan": plan}


def test_the_entitys_timezone_decides_when_its_customers_are_billed(world):
    api = world["api"]
    body = api.get(f"/api/v1/customers/{world['ny'].external_id}").json()["customer"]
    assert body["timezone"] is None and body["applicable_timezone"] == "America/New_York"
    assert api.get(f"/api/v1/customers/{world['own'].external_id}").json()["customer"]["applicable_timezone"] == "UTC"
    # 1 February 01:00 UTC is still 31 January in New York: its period has not ended there.
    early = customers_bill([world["home"].id, world["ny"].id, world["own"].id], at=at(2, 1, 1))
    assert len(early.invoices[world["home"].id]) == 1 and len(early.invoices[world["own"].id]) == 1
    assert early.invoices[world["ny"].id] == []
    [late] = customer_bill(world["ny"].id, at=at(2, 1, 6))
    assert late.issuing_date == dt.date(2024, 2, 1)


def test_net_payment_term_and_grace_period_of_the_entity(world):
    batch = customers_bill([world["home"].id, world["ny"].id, world["own"].id], at=at(2, 2))
    [home], [ny], [own] = (batch.invoices[world[k].id] for k in ("home", "ny", "own"))
    assert (home.net_payment_term, home.payment_due_date, home.status) == (0, dt.date(2024, 2, 1), "finalized")
    # The entity's 30 days to pay and 3 days of grace: a draft until then.
    assert ny.status == InvoiceStatus.DRAFT and ny.net_payment_term == 30
    assert ny.payment_due_date == ny.issuing_date + dt.timedelta(days=30)
    assert ny.finalize_at == datetime(2024, 2, 1, 5, tzinfo=UTC) + dt.timedelta(days=3)
    # The customer's own values win over its entity's.
    assert own.status == InvoiceStatus.FINALIZED and own.net_payment_term == 5
    assert own.payment_due_date == own.issuing_date + dt.timedelta(days=5)
    # The grace period over, the draft is finalized with its entity's number.
    invoice_finalize_if_due(ny.id, now=ny.finalize_at + dt.timedelta(minutes=1))
    ny.refresh_from_db()
    assert ny.status == InvoiceStatus.FINALIZED and ny.billing_entity_id == world["us"].id
    # A one-off invoice follows the same settings.
    one_off = make_one_off_invoice(world["ny"], 500)
    assert one_off.net_payment_term == 30 and one_off.payment_due_date == one_off.issuing_date + dt.timedelta(days=30)


def test_the_entitys_zero_amount_setting(world):
    free = make_plan(world["org"], amount_cents=0)
    zero = make_customer(world["org"], sequential_id=4, billing_entity=world["us"], invoice_grace_period=0)
    subscribe(zero, free, at(1, 1, 6))
    [closed] = customer_bill(zero.id, at=at(2, 2))
    assert closed.status == InvoiceStatus.CLOSED  # the entity does not finalize zero-amount invoices
    home_zero = make_customer(world["org"], sequential_id=5)
    subscribe(home_zero, free, at(1, 1, 6))
    [finalized] = customer_bill(home_zero.id, at=at(2, 2))
    assert finalized.status == InvoiceStatus.FINALIZED  # the organization does
    assert Invoice.objects.filter(customer=zero, status=InvoiceStatus.FINALIZED).count() == 0
