"""In-advance fixed charges on termination and upgrade (docs/billing-semantics.md §5.9): the unused
days are credited (one credit note per invoice, once), and an upgrade's first fee deducts what the
replaced plan paid in advance for the same add-on instead."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from billing_project.core.actor import ACTOR_SYSTEM, Actor, acting_as
from invoicing.billing.run import customer_bill
from invoicing.credits.models import CreditNote
from invoicing.credits.services.credit_notes import credit_note_create_for_termination
from invoicing.models import Fee
from invoicing.services.fixed_charges import fixed_charge_increase_bill
from subscriptions import services
from subscriptions.inputs import SubscriptionCreate
from subscriptions.models import FixedChargeUnits, Subscription
from tests.factories.catalog import AddOnFactory, FixedChargeFactory
from tests.factories.invoicing import make_customer, make_plan, subscribe

pytestmark = pytest.mark.django_db


def at(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def _seats(plan, add_on, *, amount="10", **extra):
    return FixedChargeFactory(
        plan=plan, add_on=add_on, units=Decimal(10), properties={"amount": amount}, pay_in_advance=True, **extra
    )


def _terminate(sub, when, reason="manual"):
    sub.status = "terminated"
    sub.terminated_at = when
    sub.termination_reason = reason
    sub.save()


def test_termination_credits_the_unused_days_of_each_in_advance_fee(organization):
    """10 seats × 10.00 in advance, prorated, from 1 January: 10,000; 25 seats on the 12th → 15 ×
    10.00 × 20/31 → 9,677. Terminated on 20 January (the day is used): the opening fee 10,000 ×
    11/31 = 3,548.39 → 3,548, the increase 9,677 × 11/20 = 5,322.35 → 5,322, one note per invoice."""
    customer = make_customer(organization, currency="USD")
    plan = make_plan(organization, amount_cents=0)
    fixed = _seats(plan, AddOnFactory(organization=organization, code="seats"), prorated=True)
    sub = subscribe(customer, plan, at(2025, 1, 1))
    [starting] = customer_bill(customer.id, at=at(2025, 1, 1, 1))
    FixedChargeUnits.objects.create(
        organization=organization, subscription=sub, fixed_charge=fixed, units=Decimal(25), timestamp=at(2025, 1, 12)
    )
    increase = fixed_charge_increase_bill(sub.id, fixed.id, at=at(2025, 1, 12))
    assert increase is not None and increase.fees_amount_cents == 9677
    _terminate(sub, at(2025, 1, 20, 12))
    note = credit_note_create_for_termination(sub)
    assert note is not None and note.invoice_id == starting.id
    notes = {n.invoice_id: n for n in CreditNote.objects.filter(customer=customer)}
    assert (notes[starting.id].total_amount_cents, notes[increase.id].total_amount_cents) == (3548, 5322)
    assert {n.reason for n in notes.values()} == {"order_cancellation"}
    assert credit_note_create_for_termination(sub) is None  # once
    assert CreditNote.objects.filter(customer=customer).count() == 2
    [closing] = customer_bill(customer.id, at=at(2025, 1, 21))
    assert not closing.fees.filter(fee_type="fixed_charge").exists()  # nothing in advance on closing
    assert closing.credit_notes_amount_cents == 0  # nothing due to consume


def test_not_prorated_fee_credited_by_days_too_and_in_arrears_never(organization):
    """A fixed charge paid in advance in full (not prorated) is credited like the base fee: 10,000
    × 11/31 → 3,548; an in-arrears one has nothing to credit."""
    customer = make_customer(organization, currency="USD")
    plan = make_plan(organization, amount_cents=0)
    seats = _seats(plan, AddOnFactory(organization=organization, code="seats"))
    FixedChargeFactory(
        plan=plan, add_on=AddOnFactory(organization=organization, code="support"), properties={"amount": "5"}
    )
    sub = subscribe(customer, plan, at(2025, 1, 1))
    customer_bill(customer.id, at=at(2025, 1, 1, 1))
    _terminate(sub, at(2025, 1, 20, 12))
    note = credit_note_create_for_termination(sub)
    assert note is not None and note.total_amount_cents == 3548
    assert [i.fee.fixed_charge_id for i in note.items.all()] == [seats.id]


def _change_plan(organization, code, when):
    body = {"external_customer_id": "cust-fc", "plan_code": code, "external_id": "sub-fc"}
    with acting_as(Actor(ACTOR_SYSTEM, label="test")):
        return services.subscription_create(organization, SubscriptionCreate.from_validated(body), now=when)


def _upgrade_setup(organization, *, new_prorated):
    customer = make_customer(organization, external_id="cust-fc", currency="USD")
    seats = AddOnFactory(organization=organization, code="seats")
    old = make_plan(organization, amount_cents=0, code="basic")
    _seats(old, seats, prorated=True)
    new = make_plan(organization, amount_cents=1000, code="premium")
    _seats(new, seats, amount="20", prorated=new_prorated)
    _change_plan(organization, "basic", at(2025, 1, 1))
    [starting] = customer_bill(customer.id, at=at(2025, 1, 1, 1))
    assert starting.fees_amount_cents == 10_000
    return customer


def _upgrade(organization, customer, when):
    """The plan change, then what its on-commit tasks do, at `when`: the old subscription's
    termination credit note, and the closing and opening invoice of both."""
    new = _change_plan(organization, "premium", when)
    old = Subscription.objects.get(id=new.previous_subscription_id)
    credit_note_create_for_termination(old, now=when)
    customer_bill(customer.id, at=when)
    return new, old


def test_upgrade_deducts_what_the_old_plan_paid_for_the_same_add_on(organization):
    """Upgraded on 15 January to seats at 20.00 (prorated): 10 × 20.00 × 17/31 = 10,967.74 → 10,968,
    minus what the old plan paid for 15–31 January, 10,000 × 17/31 = 5,483.87 → 5,484: 5,484 billed;
    the old plan's seats are not credited (no credit note)."""
    customer = _upgrade_setup(organization, new_prorated=True)
    new, old = _upgrade(organization, customer, at(2025, 1, 15, 10))
    new_fee = Fee.objects.get(subscription=new, fee_type="fixed_charge")
    assert new_fee.amount_cents == 5484
    assert new_fee.properties["previous_plan_paid_amount_cents"] == 5484
    assert not CreditNote.objects.filter(customer=customer).exists()
    assert credit_note_create_for_termination(old) is None
    [february] = customer_bill(customer.id, at=at(2025, 2, 1, 1))
    assert february.fees.get(fee_type="fixed_charge", subscription=new).amount_cents == 20_000


def test_upgrade_to_a_not_prorated_fixed_charge_credits_the_old_one(organization):
    """The new plan's seats are not prorated, so it bills them in full (20,000) and deducts nothing;
    the old plan's unused 17 days (the change day belongs to the new plan) are credited:
    10,000 × 17/31 = 5,483.87 → 5,484, `order_change`."""
    customer = _upgrade_setup(organization, new_prorated=False)
    new, _ = _upgrade(organization, customer, at(2025, 1, 15, 10))
    assert Fee.objects.get(subscription=new, fee_type="fixed_charge").amount_cents == 20_000
    [note] = CreditNote.objects.filter(customer=customer)
    assert (note.total_amount_cents, note.reason) == (5484, "order_change")
