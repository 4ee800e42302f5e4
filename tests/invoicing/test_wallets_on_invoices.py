"""Coupons, credit notes and prepaid credits on real invoices (docs/billing-semantics.md §6.1, §7, §9), to the cent."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from catalog.models import AppliedCoupon
from invoicing.billing.run import customer_bill
from invoicing.credits.models import CreditNote, TransactionStatus, Wallet, WalletTransaction
from invoicing.credits.services.wallets import ledger_totals
from invoicing.services import invoice_void
from tests.factories.catalog import AppliedCouponFactory, CouponFactory
from tests.factories.credits import make_credit_note, make_one_off_invoice, make_wallet
from tests.factories.invoicing import (
    add_events,
    make_charge,
    make_customer,
    make_metric,
    make_plan,
    make_tax,
    subscribe,
    tax_plan,
)

pytestmark = pytest.mark.django_db


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def _subscription_50_plus_20_usage(organization, customer, *, tax: str | None = "10"):
    plan = make_plan(organization, amount_cents=5000)
    metric = make_metric(organization, "calls")
    make_charge(plan, metric, properties={"amount": "1"})
    if tax:
        tax_plan(plan, make_tax(organization, tax))
    sub = subscribe(customer, plan, at(2024, 1, 1))
    add_events(sub, "calls", [at(2024, 1, 10)] * 20)
    return sub


def test_docs_example_50_plus_20_minus_coupon_tax_credit_notes_prepaid_is_16(organization):
    """Lago's docs: 50 + 20 − coupon 10 = 60 → +10 % = 66 − credit notes 20 − prepaid 30 = 16."""
    customer = make_customer(organization, currency="USD")
    coupon = CouponFactory(organization=organization, amount_cents=1000)
    AppliedCouponFactory(coupon=coupon, organization=organization, customer=customer)
    earlier = make_one_off_invoice(customer, 2000)
    note = make_credit_note(earlier, credit=2000)
    wallet = make_wallet(customer, granted="30")
    _subscription_50_plus_20_usage(organization, customer)

    [invoice] = customer_bill(customer.id, at=at(2024, 2, 1, 1))

    assert invoice.fees_amount_cents == 7000
    assert invoice.coupons_amount_cents == 1000
    assert invoice.sub_total_excluding_taxes_amount_cents == 6000
    assert invoice.taxes_amount_cents == 600
    assert invoice.sub_total_including_taxes_amount_cents == 6600
    assert invoice.credit_notes_amount_cents == 2000
    assert invoice.prepaid_credit_amount_cents == 3000
    assert invoice.total_amount_cents == 1600
    assert {c["item_type"] for c in invoice.credits} >= {"coupon", "credit_note"}

    note.refresh_from_db()
    assert (note.balance_amount_cents, note.credit_status) == (0, "consumed")
    wallet.refresh_from_db()
    assert wallet.balance_cents == 0 and wallet.credits_balance == 0
    assert wallet.consumed_credits == Decimal("30")
    line = WalletTransaction.objects.get(wallet=wallet, transaction_status=TransactionStatus.INVOICED)
    assert (line.invoice_id, line.amount_cents, line.status) == (invoice.id, 3000, "settled")
    assert ledger_totals(wallet) == (0, Decimal(0))


def test_void_gives_back_wallet_credits_credit_notes_and_coupon(organization):
    customer = make_customer(organization, currency="USD")
    coupon = CouponFactory(organization=organization, amount_cents=1000)
    applied = AppliedCouponFactory(coupon=coupon, organization=organization, customer=customer)
    note = make_credit_note(make_one_off_invoice(customer, 2000), credit=2000)
    wallet = make_wallet(customer, granted="30")
    _subscription_50_plus_20_usage(organization, customer)
    [invoice] = customer_bill(customer.id, at=at(2024, 2, 1, 1))
    assert invoice.total_amount_cents == 1600

    invoice_void(organization, invoice_id=invoice.id)
    invoice_void_twice = pytest.raises(Exception)
    with invoice_void_twice:
        invoice_void(organization, invoice_id=invoice.id)

    wallet.refresh_from_db()
    note.refresh_from_db()
    applied.refresh_from_db()
    assert wallet.balance_cents == 3000 and wallet.credits_balance == Decimal("30")
    assert ledger_totals(wallet) == (3000, Decimal("30"))
    assert WalletTransaction.objects.filter(wallet=wallet, voided_invoice=invoice).count() == 1
    assert (note.balance_amount_cents, note.credit_status) == (2000, "available")
    assert applied.status == "active" and applied.amount_cents_remaining == 1000


def test_prepaid_credits_spec_39_credits_then_two_invoices(organization):
    """invoicing_with_prepaid_credits_spec: 39 credits; 17.72 paid by credits → 21.28; 17.69 → 3.59."""
    customer = make_customer(organization, currency="USD")
    plan = make_plan(organization, amount_cents=1772)
    sub = subscribe(customer, plan, at(2024, 1, 1))
    wallet = make_wallet(customer, granted="39")
    [first] = customer_bill(customer.id, at=at(2024, 2, 1, 1))
    assert (first.prepaid_credit_amount_cents, first.total_amount_cents, first.payment_status) == (
        1772,
        0,
        "succeeded",
    )
    wallet.refresh_from_db()
    assert wallet.credits_balance == Decimal("21.28") and wallet.balance_cents == 2128
    plan.amount_cents = 1769
    plan.save()
    sub.refresh_from_db()
    [second] = customer_bill(customer.id, at=at(2024, 3, 1, 1))
    assert second.prepaid_credit_amount_cents == 1769
    wallet.refresh_from_db()
    assert wallet.credits_balance == Decimal("3.59") and wallet.balance_cents == 359
    assert ledger_totals(wallet) == (359, Decimal("3.59"))


def test_wallets_by_priority_and_currency(organization):
    """Priority 1 first, then creation order; a EUR wallet never pays a USD invoice."""
    customer = make_customer(organization, currency="USD")
    plan = make_plan(organization, amount_cents=5000)
    subscribe(customer, plan, at(2024, 1, 1))
    late_low = make_wallet(customer, granted="30", priority=50, name="default")
    eur = make_wallet(customer, granted="100", priority=1, currency="EUR", name="eur")
    high = make_wallet(customer, granted="20", priority=1, name="high")
    second_default = make_wallet(customer, granted="40", priority=50, name="second")
    [invoice] = customer_bill(customer.id, at=at(2024, 2, 1, 1))
    assert invoice.prepaid_credit_amount_cents == 5000
    assert invoice.total_amount_cents == 0
    balances = {w.name: Wallet.objects.get(id=w.id).balance_cents for w in (late_low, eur, high, second_default)}
    assert balances == {"high": 0, "default": 0, "second": 4000, "eur": 10000}


def test_wallet_applies_to_fee_types_only_pays_those_fees(organization):
    customer = make_customer(organization, currency="USD")
    _subscription_50_plus_20_usage(organization, customer, tax=None)
    wallet = make_wallet(customer, granted="100", applies_to={"fee_types": ["charge"]})
    [invoice] = customer_bill(customer.id, at=at(2024, 2, 1, 1))
    assert invoice.prepaid_credit_amount_cents == 2000
    assert invoice.total_amount_cents == 5000
    wallet.refresh_from_db()
    assert wallet.balance_cents == 8000


def test_wallet_applies_to_billable_metric(organization):
    customer = make_customer(organization, currency="USD")
    _subscription_50_plus_20_usage(organization, customer, tax=None)
    make_metric(organization, "other")
    make_wallet(customer, granted="100", applies_to={"billable_metric_codes": ["other"]})
    [invoice] = customer_bill(customer.id, at=at(2024, 2, 1, 1))
    assert invoice.prepaid_credit_amount_cents == 0
    assert invoice.total_amount_cents == 7000


def test_one_off_invoice_takes_no_coupon_credit_note_or_prepaid_credits(organization):
    customer = make_customer(organization, currency="USD")
    coupon = CouponFactory(organization=organization, amount_cents=1000)
    AppliedCouponFactory(coupon=coupon, organization=organization, customer=customer)
    make_credit_note(make_one_off_invoice(customer, 2000), credit=2000)
    make_wallet(customer, granted="30")
    invoice = make_one_off_invoice(customer, 5000)
    assert (invoice.coupons_amount_cents, invoice.credit_notes_amount_cents, invoice.prepaid_credit_amount_cents) == (
        0,
        0,
        0,
    )
    assert invoice.total_amount_cents == 5000
    assert AppliedCoupon.objects.get(customer=customer).amount_cents_remaining == 1000
    assert CreditNote.objects.get(customer=customer).balance_amount_cents == 2000
