"""Property tests of the invoice totals: integer sums, never negative, coupons and credits never
exceed what they have or what they apply to, taxes per rate add up, rounding happens once."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from invoicing.calculation import (
    CouponToApply,
    CreditNoteBalance,
    FeeLine,
    ProgressiveBillingCredit,
    TaxRate,
    WalletBalance,
    calculate_invoice,
    prorate_amount_cents,
)

TAXES = [
    TaxRate("zero", Decimal("0")),
    TaxRate("reduced", Decimal("5.5")),
    TaxRate("ten", Decimal("10")),
    TaxRate("odd", Decimal("17.5")),
    TaxRate("standard", Decimal("20")),
    TaxRate("nyc", Decimal("8.875")),
]
PLANS = ["p1", "p2"]
METRICS = ["m1", "m2", "m3"]


def _half_up(value: Fraction) -> int:
    """Independent oracle: an exact rational rounded half away from zero."""
    sign = -1 if value < 0 else 1
    value = abs(value)
    floor = value.numerator // value.denominator
    return sign * (floor + (1 if value - floor >= Fraction(1, 2) else 0))


@st.composite
def fee_lines(draw):
    count = draw(st.integers(min_value=0, max_value=6))
    fees = []
    for i in range(count):
        fee_type = draw(st.sampled_from(["subscription", "charge", "charge", "fixed_charge", "commitment"]))
        amount = draw(st.one_of(st.integers(0, 10), st.integers(0, 10_000_000)))
        taxes = tuple(draw(st.lists(st.sampled_from(TAXES), max_size=3, unique_by=lambda t: t.code)))
        fees.append(
            FeeLine(
                f"f{i}",
                fee_type,
                amount,
                precise_amount_cents=Decimal(amount)
                + draw(st.sampled_from([Decimal(0), Decimal("0.4"), Decimal("-0.3")])),
                taxes=taxes,
                plan_id=draw(st.sampled_from(PLANS)),
                billable_metric_id=draw(st.sampled_from(METRICS)) if fee_type == "charge" else None,
            )
        )
    return fees


@st.composite
def coupon_list(draw):
    coupons = []
    for i in range(draw(st.integers(0, 4))):
        limitation = draw(st.sampled_from(["none", "plans", "metrics"]))
        limits = {}
        if limitation == "plans":
            limits["plan_ids"] = frozenset(draw(st.lists(st.sampled_from(PLANS), min_size=1, max_size=2)))
        elif limitation == "metrics":
            limits["billable_metric_ids"] = frozenset(draw(st.lists(st.sampled_from(METRICS), min_size=1, max_size=2)))
        frequency = draw(st.sampled_from(["once", "recurring", "forever"]))
        duration = draw(st.integers(1, 3)) if frequency == "recurring" else None
        if draw(st.booleans()):
            amount = draw(st.integers(0, 5_000_000))
            coupons.append(
                CouponToApply(
                    f"c{i}",
                    "fixed_amount",
                    frequency=frequency,
                    amount_cents=amount,
                    amount_currency=draw(st.sampled_from(["EUR", "EUR", "USD"])),
                    amount_cents_remaining=draw(st.integers(0, amount)),
                    frequency_duration_remaining=duration,
                    **limits,
                )
            )
        else:
            rate = draw(st.decimals(min_value=0, max_value=150, places=2))
            coupons.append(
                CouponToApply(
                    f"c{i}",
                    "percentage",
                    frequency=frequency,
                    percentage_rate=rate,
                    frequency_duration_remaining=duration,
                    **limits,
                )
            )
    return coupons


@st.composite
def invoices(draw):
    fees = draw(fee_lines())
    charge_ids = [f.id for f in fees if f.fee_type == "charge"]
    progressive = []
    if charge_ids:
        for i in range(draw(st.integers(0, 2))):
            targets = draw(st.lists(st.sampled_from(charge_ids), min_size=1, max_size=3, unique=True))
            progressive.append(ProgressiveBillingCredit(f"pb{i}", draw(st.integers(0, 10_000_000)), tuple(targets)))
    notes = [CreditNoteBalance(f"cn{i}", draw(st.integers(0, 5_000_000))) for i in range(draw(st.integers(0, 3)))]
    wallets = [
        WalletBalance(
            f"w{i}",
            draw(st.integers(0, 5_000_000)),
            priority=draw(st.integers(1, 50)),
            fee_types=frozenset(draw(st.lists(st.sampled_from(["subscription", "charge", "commitment"]), max_size=2))),
            billable_metric_ids=frozenset(draw(st.lists(st.sampled_from(METRICS), max_size=2))),
        )
        for i in range(draw(st.integers(0, 3)))
    ]
    return {
        "fees": fees,
        "progressive_credits": progressive,
        "coupons": draw(coupon_list()),
        "credit_notes": notes,
        "wallets": wallets,
        "context": draw(st.sampled_from(["finalize", "finalize", "draft"])),
    }


@settings(max_examples=250, deadline=None)
@given(invoices())
def test_totals_are_integer_sums_and_never_negative(case):
    totals = calculate_invoice(currency="EUR", **case)
    amounts = [
        totals.fees_amount_cents,
        totals.progressive_billing_credit_amount_cents,
        totals.coupons_amount_cents,
        totals.sub_total_excluding_taxes_amount_cents,
        totals.taxes_amount_cents,
        totals.sub_total_including_taxes_amount_cents,
        totals.credit_notes_amount_cents,
        totals.prepaid_credit_amount_cents,
        totals.total_amount_cents,
    ]
    assert all(type(a) is int and a >= 0 for a in amounts)
    assert totals.fees_amount_cents == sum(f.amount_cents for f in case["fees"])
    assert totals.progressive_billing_credit_amount_cents == sum(p.amount_cents for p in totals.progressive_credits)
    assert totals.coupons_amount_cents == sum(c.amount_cents for c in totals.coupon_credits)
    assert totals.sub_total_excluding_taxes_amount_cents == (
        totals.fees_amount_cents - totals.progressive_billing_credit_amount_cents - totals.coupons_amount_cents
    )
    assert totals.sub_total_including_taxes_amount_cents == (
        totals.sub_total_excluding_taxes_amount_cents + totals.taxes_amount_cents
    )
    assert totals.total_amount_cents == (
        totals.sub_total_including_taxes_amount_cents
        - totals.credit_notes_amount_cents
        - totals.prepaid_credit_amount_cents
    )
    assert totals.credit_notes_amount_cents == sum(c.amount_cents for c in totals.credit_note_credits)
    assert totals.prepaid_credit_amount_cents == sum(p.amount_cents for p in totals.prepaid_credits)
    assert totals.payment_status == ("pending" if totals.total_amount_cents > 0 else "succeeded")
    if case["context"] == "draft":
        assert totals.coupon_credits == totals.credit_note_credits == totals.prepaid_credits == ()


@settings(max_examples=250, deadline=None)
@given(invoices())
def test_coupons_and_credits_never_exceed_what_they_have_or_their_base(case):
    totals = calculate_invoice(currency="EUR", **case)
    coupons = {c.id: c for c in case["coupons"]}
    for credit in totals.coupon_credits:
        coupon = coupons[credit.applied_coupon_id]
        assert 0 <= credit.amount_cents <= credit.precise_amount_cents
        if coupon.coupon_type == "fixed_amount":
            available = coupon.amount_cents_remaining if coupon.frequency == "once" else coupon.amount_cents
            assert credit.precise_amount_cents <= available
            if coupon.frequency == "once":
                assert credit.amount_cents_remaining == coupon.amount_cents_remaining - credit.amount_cents
        if coupon.frequency == "recurring":
            assert credit.frequency_duration_remaining == coupon.frequency_duration_remaining - 1
            assert credit.terminated == (credit.frequency_duration_remaining == 0)
        if coupon.frequency == "forever":
            assert not credit.terminated
    # The coupons (and progressive credits) never exceed the fees, overall or fee by fee.
    assert totals.coupons_amount_cents + totals.progressive_billing_credit_amount_cents <= totals.fees_amount_cents
    spread = sum((f.precise_coupons_amount_cents for f in totals.fees), Decimal(0))
    # Whole cents are credited, precise shares spread: at most one cent apart per coupon.
    assert (
        abs(spread - totals.coupons_amount_cents - totals.progressive_billing_credit_amount_cents)
        <= len(totals.coupon_credits) + 1
    )
    for fee in totals.fees:
        assert 0 <= fee.precise_coupons_amount_cents <= fee.amount_cents
        assert (
            0
            <= fee.precise_credit_notes_amount_cents
            <= fee.amount_cents - fee.precise_coupons_amount_cents + fee.taxes_amount_cents
        )
    for progressive, given_credit in zip(totals.progressive_credits, case["progressive_credits"], strict=True):
        assert progressive.amount_cents + progressive.unallocated_amount_cents == given_credit.amount_cents
        assert sum(cents for _, cents in progressive.allocations) == progressive.amount_cents
    notes = {n.id: n for n in case["credit_notes"]}
    for credit in totals.credit_note_credits:
        note = notes[credit.credit_note_id]
        assert 0 < credit.amount_cents <= note.balance_amount_cents
        assert credit.balance_amount_cents == note.balance_amount_cents - credit.amount_cents
    wallets = {w.id: w for w in case["wallets"]}
    for credit in totals.prepaid_credits:
        wallet = wallets[credit.wallet_id]
        assert 0 < credit.amount_cents <= wallet.balance_cents
        assert credit.balance_cents == wallet.balance_cents - credit.amount_cents
    used = [p.wallet_id for p in totals.prepaid_credits]
    assert used == [w.id for w in sorted(case["wallets"], key=lambda w: w.priority) if w.id in used]


@settings(max_examples=250, deadline=None)
@given(invoices())
def test_taxes_per_rate_add_up_and_are_rounded_once(case):
    totals = calculate_invoice(currency="EUR", **case)
    # Oracle with exact fractions from the fee shares the calculation reports.
    bases: dict[str, Fraction] = {}
    rates: dict[str, Fraction] = {}
    for line, fee in zip(case["fees"], totals.fees, strict=True):
        base = Fraction(fee.sub_total_excluding_taxes_amount_cents)
        fee_unrounded = Fraction(0)
        for tax in line.taxes:
            bases[tax.code] = bases.get(tax.code, Fraction(0)) + base
            rates[tax.code] = Fraction(tax.rate)
            fee_unrounded += base * Fraction(tax.rate) / 100
        assert fee.taxes_amount_cents == _half_up(fee_unrounded)
        assert [t.amount_cents for t in fee.applied_taxes] == [
            _half_up(base * Fraction(t.rate) / 100) for t in line.taxes
        ]
    assert [t.tax_code for t in totals.applied_taxes] == list(bases)
    unrounded_total = Fraction(0)
    for row in totals.applied_taxes:
        exact = bases[row.tax_code] * rates[row.tax_code] / 100
        assert Fraction(row.precise_amount_cents) == exact
        assert row.amount_cents == _half_up(exact)
        assert row.fees_amount_cents == int(bases[row.tax_code])
        unrounded_total += exact
    # The invoice tax is the unrounded sum rounded once; the rounded rows differ by at most ½ cent each.
    assert totals.taxes_amount_cents == _half_up(unrounded_total)
    assert (
        abs(sum(r.amount_cents for r in totals.applied_taxes) - totals.taxes_amount_cents)
        <= (len(totals.applied_taxes) + 1) / 2
    )


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 10**12), st.integers(1, 366), st.data())
def test_proration_rounds_the_exact_value_once(amount, period_days, data):
    days = data.draw(st.integers(0, period_days))
    result = prorate_amount_cents(amount, days=days, period_days=period_days)
    exact = Fraction(amount * days, period_days)
    assert result.amount_cents == _half_up(exact)
    assert 0 <= result.amount_cents <= amount
    assert abs(Fraction(result.precise_amount_cents) - exact) < Fraction(1, 10**20)
    assert result.amount_cents == int(result.precise_amount_cents.quantize(Decimal(1), rounding=ROUND_HALF_UP))
