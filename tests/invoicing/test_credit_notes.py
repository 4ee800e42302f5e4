"""Credit notes (docs/billing-semantics.md §9, §5.6, §5.7; docs/credits.md), to the cent."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from billing_project.core.errors import NotAllowedFailure, ValidationFailure
from invoicing.billing.run import customer_bill
from invoicing.credits.inputs import CreditNoteCreate, CreditNoteEstimate
from invoicing.credits.models import CreditNote
from invoicing.credits.services import credit_notes
from invoicing.services import invoice_update
from subscriptions.models import SubscriptionStatus
from tests.factories.catalog import AppliedCouponFactory, CouponFactory
from tests.factories.credits import make_credit_note, make_one_off_invoice
from tests.factories.invoicing import make_customer, make_plan, make_tax, subscribe, tax_plan

pytestmark = pytest.mark.django_db


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def _invoice_5000_coupon_1000_tax_20(organization):
    """Fee 5,000, coupon 1,000 → 4,000 + 20 % = 4,800."""
    customer = make_customer(organization, currency="USD")
    plan = make_plan(organization, amount_cents=5000)
    tax_plan(plan, make_tax(organization, "20"))
    coupon = CouponFactory(organization=organization, amount_cents=1000)
    AppliedCouponFactory(coupon=coupon, organization=organization, customer=customer)
    subscribe(customer, plan, at(2024, 1, 1))
    [invoice] = customer_bill(customer.id, at=at(2024, 2, 1, 1))
    assert invoice.total_amount_cents == 4800
    return customer, invoice, invoice.fees.get()


def test_estimate_computes_coupon_adjustment_and_taxes(organization):
    _, invoice, fee = _invoice_5000_coupon_1000_tax_20(organization)
    estimate = credit_notes.credit_note_estimate(
        organization,
        CreditNoteEstimate.from_body(
            {"invoice_id": invoice.id, "items": [{"fee_id": str(fee.id), "amount_cents": 2500}]}
        ),
    )
    assert estimate["coupons_adjustment_amount_cents"] == 500
    assert estimate["sub_total_excluding_taxes_amount_cents"] == 2000
    assert estimate["taxes_amount_cents"] == 400
    assert estimate["max_creditable_amount_cents"] == 2400
    assert estimate["max_refundable_amount_cents"] == 0  # not paid
    assert estimate["max_offsettable_amount_cents"] == 2400
    assert estimate["taxes_rate"] == 20
    assert estimate["applied_taxes"][0]["base_amount_cents"] == 2000


def test_create_credit_split_and_number(organization):
    _, invoice, fee = _invoice_5000_coupon_1000_tax_20(organization)
    note = credit_notes.credit_note_create(
        organization,
        CreditNoteCreate.from_body(
            {
                "invoice_id": invoice.id,
                "items": [{"fee_id": str(fee.id), "amount_cents": 2500}],
                "credit_amount_cents": 2000,
                "offset_amount_cents": 400,
                "reason": "product_unsatisfactory",
            }
        ),
    )
    assert note.number == f"{invoice.number}-CN001"
    assert (note.total_amount_cents, note.credit_amount_cents, note.offset_amount_cents) == (2400, 2000, 400)
    assert (note.balance_amount_cents, note.credit_status, note.refund_status) == (2000, "available", None)
    assert (note.taxes_amount_cents, note.coupons_adjustment_amount_cents) == (400, 500)
    assert note.items.get().amount_cents == 2500
    invoice.refresh_from_db()
    assert (invoice.total_offsetted_credit_note_amount_cents, invoice.total_due_amount_cents) == (400, 4400)
    second = make_credit_note(invoice, items=[{"fee_id": str(fee.id), "amount_cents": 1250}], credit=1200)
    assert second.number == f"{invoice.number}-CN002"


def test_split_must_match_the_total_within_one_cent(organization):
    _, invoice, fee = _invoice_5000_coupon_1000_tax_20(organization)
    items = [{"fee_id": str(fee.id), "amount_cents": 2500}]
    with pytest.raises(ValidationFailure) as exc:
        credit_notes.credit_note_create(
            organization,
            CreditNoteCreate.from_body({"invoice_id": invoice.id, "items": items, "credit_amount_cents": 2000}),
        )
    assert exc.value.details == {"base": ["does_not_match_item_amounts"]}
    note = credit_notes.credit_note_create(
        organization,
        CreditNoteCreate.from_body({"invoice_id": invoice.id, "items": items, "credit_amount_cents": 2401}),
    )
    assert note.total_amount_cents == 2401


def test_creditable_amount_is_never_exceeded(organization):
    _, invoice, fee = _invoice_5000_coupon_1000_tax_20(organization)
    make_credit_note(invoice, items=[{"fee_id": str(fee.id), "amount_cents": 4000}], credit=3840)
    with pytest.raises(ValidationFailure) as exc:
        make_credit_note(invoice, items=[{"fee_id": str(fee.id), "amount_cents": 1001}], credit=961)
    assert exc.value.details == {"amount_cents": ["higher_than_remaining_fee_amount"]}
    make_credit_note(invoice, items=[{"fee_id": str(fee.id), "amount_cents": 1000}], credit=960)
    assert sum(n.total_amount_cents for n in CreditNote.objects.filter(invoice=invoice)) == 4800


def test_refund_needs_a_paid_invoice_and_stays_pending(organization):
    _, invoice, fee = _invoice_5000_coupon_1000_tax_20(organization)
    items = [{"fee_id": str(fee.id), "amount_cents": 2500}]
    with pytest.raises(ValidationFailure) as exc:
        credit_notes.credit_note_create(
            organization,
            CreditNoteCreate.from_body({"invoice_id": invoice.id, "items": items, "refund_amount_cents": 2400}),
        )
    assert exc.value.details == {"refund_amount_cents": ["higher_than_remaining_invoice_amount"]}
    invoice_update(organization, invoice_id=invoice.id, payment_status="succeeded")
    with pytest.raises(ValidationFailure):  # nothing left to offset once paid
        credit_notes.credit_note_create(
            organization,
            CreditNoteCreate.from_body({"invoice_id": invoice.id, "items": items, "offset_amount_cents": 2400}),
        )
    note = credit_notes.credit_note_create(
        organization,
        CreditNoteCreate.from_body({"invoice_id": invoice.id, "items": items, "refund_amount_cents": 2400}),
    )
    assert (note.refund_status, note.credit_status) == ("pending", None)
    settled = credit_notes.credit_note_refund_settle(note.id, succeeded=True)
    assert settled.refund_status == "succeeded" and settled.refunded_at
    assert credit_notes.credit_note_refund_settle(note.id, succeeded=False).refund_status == "succeeded"


def test_void_sets_balance_to_zero_once(organization):
    _, invoice, fee = _invoice_5000_coupon_1000_tax_20(organization)
    note = make_credit_note(invoice, items=[{"fee_id": str(fee.id), "amount_cents": 1250}], credit=1200)
    voided = credit_notes.credit_note_void(organization, credit_note_id=note.id)
    assert (voided.credit_status, voided.balance_amount_cents) == ("voided", 0)
    with pytest.raises(NotAllowedFailure):
        credit_notes.credit_note_void(organization, credit_note_id=note.id)


def test_only_finalized_invoices_and_known_fees(organization):
    customer = make_customer(organization, currency="USD")
    invoice = make_one_off_invoice(customer, 1000)
    other = make_one_off_invoice(customer, 1000)
    with pytest.raises(Exception) as exc:
        make_credit_note(invoice, items=[{"fee_id": str(other.fees.get().id), "amount_cents": 100}], credit=100)
    assert getattr(exc.value, "code", None) == "fee_not_found"
    with pytest.raises(ValidationFailure):
        make_credit_note(invoice, items=[{"fee_id": str(invoice.fees.get().id), "amount_cents": -1}], credit=0)
    from invoicing.services import invoice_void

    invoice_void(organization, invoice_id=invoice.id)
    with pytest.raises(NotAllowedFailure):
        make_credit_note(invoice, credit=100)


def test_credit_note_balance_is_consumed_by_later_invoices_across_two(organization):
    customer = make_customer(organization, currency="USD")
    note = make_credit_note(make_one_off_invoice(customer, 3000), credit=3000)
    plan = make_plan(organization, amount_cents=2000)
    subscribe(customer, plan, at(2024, 1, 1))
    [january] = customer_bill(customer.id, at=at(2024, 2, 1, 1))
    assert (january.credit_notes_amount_cents, january.total_amount_cents) == (2000, 0)
    note.refresh_from_db()
    assert (note.balance_amount_cents, note.credit_status) == (1000, "available")
    [february] = customer_bill(customer.id, at=at(2024, 3, 1, 1))
    assert (february.credit_notes_amount_cents, february.total_amount_cents) == (1000, 1000)
    note.refresh_from_db()
    assert (note.balance_amount_cents, note.credit_status) == (0, "consumed")


def test_termination_of_in_advance_plan_credits_unused_days(organization):
    """terminate_pay_in_advance_spec: 5,000/month in advance, created and terminated on 8 Feb 2023
    → credit note for 20 days: sub-total 3,571, tax 714, total 4,285."""
    customer = make_customer(organization, currency="USD")
    plan = make_plan(organization, amount_cents=5000, pay_in_advance=True)
    tax_plan(plan, make_tax(organization, "20"))
    sub = subscribe(customer, plan, at(2023, 2, 8, 10))
    [invoice] = customer_bill(customer.id, at=at(2023, 2, 8, 11))
    assert invoice.total_amount_cents == 4500
    sub.status = SubscriptionStatus.TERMINATED
    sub.terminated_at = at(2023, 2, 8, 12)
    sub.save()
    note = credit_notes.credit_note_create_for_termination(sub)
    assert note is not None
    assert note.sub_total_excluding_taxes_amount_cents == 3571
    assert note.taxes_amount_cents == 714
    assert note.total_amount_cents == 4285
    assert (note.credit_amount_cents, note.reason, note.automatic) == (4285, "order_cancellation", True)
    assert credit_notes.credit_note_create_for_termination(sub) is None  # once


def test_upgrade_in_advance_credit_note_spec(organization):
    """multiple_upgrade_spec: 1,000 in advance, upgraded on 12 March → credit 1000/31 × 20 × 1.25 = 806."""
    customer = make_customer(organization, currency="USD")
    plan = make_plan(organization, amount_cents=1000, pay_in_advance=True)
    tax_plan(plan, make_tax(organization, "25"))
    sub = subscribe(customer, plan, at(2024, 3, 1))
    [invoice] = customer_bill(customer.id, at=at(2024, 3, 1, 1))
    assert invoice.fees_amount_cents == 1000
    sub.status = SubscriptionStatus.TERMINATED
    sub.terminated_at = at(2024, 3, 12, 10)
    sub.termination_reason = "upgraded"
    sub.save()
    note = credit_notes.credit_note_create_for_termination(sub)
    assert note.total_amount_cents == 806
    assert note.reason == "order_change"


@pytest.mark.parametrize("reason", ["downgraded", "downgraded_now"])
def test_downgrade_credit_note_gives_the_change_day_to_the_next_plan(organization, reason):
    """A downgrade (bxb's immediate one included) credits like an upgrade: 20 unused days → 806."""
    customer = make_customer(organization, currency="USD")
    plan = make_plan(organization, amount_cents=1000, pay_in_advance=True)
    tax_plan(plan, make_tax(organization, "25"))
    sub = subscribe(customer, plan, at(2024, 3, 1))
    customer_bill(customer.id, at=at(2024, 3, 1, 1))
    sub.status = SubscriptionStatus.TERMINATED
    sub.terminated_at = at(2024, 3, 12, 10)
    sub.termination_reason = reason
    sub.save()
    note = credit_notes.credit_note_create_for_termination(sub)
    assert note.total_amount_cents == 806
    assert note.reason == "order_change"


def test_termination_credit_note_can_refund_or_skip(organization):
    customer = make_customer(organization, currency="USD")
    plan = make_plan(organization, amount_cents=3100, pay_in_advance=True)
    sub = subscribe(customer, plan, at(2024, 1, 1))
    [invoice] = customer_bill(customer.id, at=at(2024, 1, 1, 1))
    sub.status = SubscriptionStatus.TERMINATED
    sub.terminated_at = at(2024, 1, 10, 5)
    sub.save()
    assert credit_notes.credit_note_create_for_termination(sub, method="skip") is None
    invoice_update(organization, invoice_id=invoice.id, payment_status="succeeded")
    note = credit_notes.credit_note_create_for_termination(sub, method="refund")
    assert (note.refund_amount_cents, note.credit_amount_cents, note.refund_status) == (2100, 0, "pending")


def test_a_refund_is_handed_to_payments_by_signal(organization):
    from invoicing.signals import credit_note_refund_requested

    received = []

    def receiver(sender, credit_note, organization, **kwargs):
        received.append((credit_note.id, organization.id))

    credit_note_refund_requested.connect(receiver)
    try:
        customer = make_customer(organization, currency="USD")
        invoice = make_one_off_invoice(customer, 1000)
        invoice_update(organization, invoice_id=invoice.id, payment_status="succeeded")
        credit_only = make_credit_note(invoice, credit=200)
        refunded = make_credit_note(invoice, refund=300)
    finally:
        credit_note_refund_requested.disconnect(receiver)
    assert received == [(refunded.id, organization.id)]
    assert credit_only.refund_status is None and refunded.refund_status == "pending"


def test_terminating_an_in_advance_subscription_issues_the_credit_note(
    organization, django_capture_on_commit_callbacks
):
    """The subscriptions app's signal → task → credit note, through `subscription_terminate`."""
    from subscriptions.services.lifecycle import subscription_terminate

    customer = make_customer(organization, currency="USD")
    plan = make_plan(organization, amount_cents=5000, pay_in_advance=True)
    tax_plan(plan, make_tax(organization, "20"))
    sub = subscribe(customer, plan, at(2023, 2, 8, 10))
    customer_bill(customer.id, at=at(2023, 2, 8, 11))
    with django_capture_on_commit_callbacks(execute=True):
        subscription_terminate(organization, sub, now=at(2023, 2, 8, 12))
    note = CreditNote.objects.get(customer=customer)
    assert (note.total_amount_cents, note.credit_status, note.automatic) == (4285, "available", True)
