"""Credit-note amounts (invoicing.calculation.credit_notes) with Lago's worked numbers (§5.6, §5.7, §9)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from invoicing.calculation import (
    CouponToApply,
    CreditedFee,
    CreditNoteItem,
    CreditNoteValidationError,
    FeeLine,
    TaxRate,
    calculate_invoice,
    check_credit_note_split,
    credit_note_amounts,
    prorate_amount_cents,
)

D = Decimal
VAT20 = TaxRate("vat_20", D("20"), name="VAT")
VAT10 = TaxRate("vat_10", D("10"), name="VAT reduced")


def test_termination_credit_note_for_unused_days():
    """terminate_pay_in_advance_spec: 5,000/month in advance with 20 % tax, terminated on the day it
    started (8 February 2023): 20 unused days → sub-total 3,571, tax 714, total 4,285."""
    unused = prorate_amount_cents(5000, days=20, period_days=28).precise_amount_cents
    amounts = credit_note_amounts([CreditedFee("fee", 5000, taxes=(VAT20,))], [CreditNoteItem("fee", unused)])
    assert amounts.items[0].amount_cents == 3571
    assert amounts.sub_total_excluding_taxes_amount_cents == 3571
    assert amounts.taxes_amount_cents == 714
    assert amounts.total_amount_cents == 4285
    assert [(t.tax_code, t.base_amount_cents, t.amount_cents) for t in amounts.applied_taxes] == [("vat_20", 3571, 714)]
    assert amounts.taxes_rate == D("20.00000")
    check_credit_note_split(amounts, credit_amount_cents=4285)


def test_upgrade_credit_note():
    """multiple_upgrade_spec: 1,000 in advance, upgraded on 12 March → 1000/31 × 20 with 25 % tax = 806."""
    unused = prorate_amount_cents(1000, days=20, period_days=31).precise_amount_cents
    amounts = credit_note_amounts(
        [CreditedFee("fee", 1000, taxes=(TaxRate("t25", D("25")),))], [CreditNoteItem("fee", unused)]
    )
    assert amounts.total_amount_cents == 806


def test_coupon_adjustment_gives_back_the_coupon_share():
    """A fee of 10,000 carrying 500 of coupons (taxes_on_invoice_spec): crediting half of it gives
    back 250 of coupon, so the credit is 4,750 + 10 % = 5,225."""
    invoice = calculate_invoice(
        [
            FeeLine("subscription", "subscription", 10_000, taxes=(VAT10,)),
            FeeLine("fx", "charge", 5000, billable_metric_id="fx"),
            FeeLine("cards", "charge", 5000, taxes=(VAT20,), billable_metric_id="cards"),
        ],
        currency="EUR",
        coupons=[CouponToApply("c", "fixed_amount", amount_cents=1000, amount_currency="EUR")],
    )
    fees = [CreditedFee.from_totals(fee) for fee in invoice.fees]
    amounts = credit_note_amounts(fees, [CreditNoteItem("subscription", 5000)])
    assert amounts.precise_coupons_adjustment_amount_cents == 250
    assert amounts.coupons_adjustment_amount_cents == 250
    assert amounts.sub_total_excluding_taxes_amount_cents == 4750
    assert amounts.taxes_amount_cents == 475
    assert amounts.total_amount_cents == 5225

    # Crediting every fee in full gives back exactly what the invoice charged.
    everything = credit_note_amounts(fees, [CreditNoteItem(f.id, f.amount_cents) for f in invoice.fees])
    assert everything.sub_total_excluding_taxes_amount_cents == invoice.sub_total_excluding_taxes_amount_cents
    assert everything.taxes_amount_cents == invoice.taxes_amount_cents
    assert everything.total_amount_cents == invoice.sub_total_including_taxes_amount_cents
    assert {t.tax_code for t in everything.applied_taxes} == {"vat_10", "vat_20"}


def test_mixed_rates_blend_the_taxes_rate():
    fees = [CreditedFee("a", 1000, taxes=(VAT20,)), CreditedFee("b", 1000, taxes=(VAT10,)), CreditedFee("c", 2000)]
    amounts = credit_note_amounts(fees, [CreditNoteItem("a", 1000), CreditNoteItem("b", 500), CreditNoteItem("c", 500)])
    assert amounts.taxes_amount_cents == 250
    assert amounts.total_amount_cents == 2250
    # (1000 × 20 + 500 × 10) / 2000
    assert amounts.taxes_rate == D("12.50000")


def test_split_must_match_the_total_within_one_cent():
    amounts = credit_note_amounts([CreditedFee("fee", 5000, taxes=(VAT20,))], [CreditNoteItem("fee", 1000)])
    assert amounts.total_amount_cents == 1200
    check_credit_note_split(amounts, credit_amount_cents=700, refund_amount_cents=300, offset_amount_cents=200)
    check_credit_note_split(amounts, credit_amount_cents=1201)  # ±1 cent
    with pytest.raises(CreditNoteValidationError) as error:
        check_credit_note_split(amounts, credit_amount_cents=1000)
    assert error.value.errors == {"base": ["does_not_match_item_amounts"]}
    with pytest.raises(CreditNoteValidationError) as error:
        check_credit_note_split(amounts, refund_amount_cents=1200, max_refundable_amount_cents=0)
    assert error.value.errors == {"refund_amount_cents": ["higher_than_remaining_invoice_amount"]}
    with pytest.raises(CreditNoteValidationError) as error:
        check_credit_note_split(amounts, credit_amount_cents=1300, refund_amount_cents=-100)
    assert error.value.errors == {"refund_amount_cents": ["invalid_value"]}


def test_items_cannot_exceed_what_is_left_to_credit():
    fee = CreditedFee("fee", 5000, taxes=(VAT20,), creditable_amount_cents=1000)
    credit_note_amounts([fee], [CreditNoteItem("fee", 1000)])
    cases = [
        ([CreditNoteItem("fee", 1001)], {"amount_cents": ["higher_than_remaining_fee_amount"]}),
        ([CreditNoteItem("fee", -1)], {"amount_cents": ["invalid_value"]}),
        ([CreditNoteItem("other", 1)], {"fee": ["not_found"]}),
        ([], {"items": ["must_be_an_array"]}),
    ]
    for items, errors in cases:
        with pytest.raises(CreditNoteValidationError) as error:
            credit_note_amounts([fee], items)
        assert error.value.errors == errors


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(1, 1_000_000), st.integers(0, 100), st.sampled_from([None, VAT10, VAT20])),
        min_size=1,
        max_size=5,
    ),
    st.data(),
)
def test_credit_notes_never_exceed_the_invoice(fee_specs, data):
    """Whatever is credited, a credit note never gives back more than the invoice charged for those
    fees, and its parts are integer sums."""
    lines = [
        FeeLine(f"f{i}", "charge", amount, taxes=(tax,) if tax else (), billable_metric_id="m")
        for i, (amount, _, tax) in enumerate(fee_specs)
    ]
    coupon_cents = data.draw(st.integers(0, sum(a for a, _, _ in fee_specs)))
    invoice = calculate_invoice(
        lines,
        currency="EUR",
        coupons=[CouponToApply("c", "fixed_amount", amount_cents=coupon_cents, amount_currency="EUR")],
    )
    fees = [CreditedFee.from_totals(fee) for fee in invoice.fees]
    items = [
        CreditNoteItem(fee.id, fee.amount_cents * pct // 100) for fee, (_, pct, _) in zip(fees, fee_specs, strict=True)
    ]
    amounts = credit_note_amounts(fees, items)
    assert amounts.sub_total_excluding_taxes_amount_cents + amounts.taxes_amount_cents == amounts.total_amount_cents
    assert amounts.items_amount_cents == sum(i.amount_cents for i in amounts.items)
    assert 0 <= amounts.coupons_adjustment_amount_cents <= invoice.coupons_amount_cents + 1
    # At most one cent of rounding per tax row beyond the invoice's own total.
    assert amounts.total_amount_cents <= invoice.sub_total_including_taxes_amount_cents + len(amounts.applied_taxes) + 1
    full = credit_note_amounts(fees, [CreditNoteItem(f.id, f.amount_cents) for f in fees])
    assert abs(full.total_amount_cents - invoice.sub_total_including_taxes_amount_cents) <= 1
