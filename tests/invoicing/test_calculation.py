"""Invoice totals (invoicing/calculation.py) against Lago's worked numbers, to the cent.

Sources: docs/billing-semantics.md §1, §5, §6, §7, §8, §9, §10 and the Lago specs they cite
(taxes_on_invoice_spec, coupons_breakdown_spec, progressive_billing_spec,
invoicing_with_prepaid_credits_spec, terminate_pay_in_advance_spec, upgrade specs).
Pure functions: no database.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from billing_project.core.money import UnknownCurrency
from invoicing.calculation import (
    CalculationError,
    CouponLimitationError,
    CouponToApply,
    CreditNoteBalance,
    FeeLine,
    ProgressiveBillingCredit,
    TaxRate,
    WalletBalance,
    allocate_prepaid_credits,
    calculate_invoice,
    order_coupons,
    prorate_amount_cents,
    prorate_by_fraction,
)

D = Decimal
VAT10 = TaxRate("vat_10", D("10"), name="VAT 10%")
VAT20 = TaxRate("vat_20", D("20"), name="VAT 20%")
VAT0 = TaxRate("sales_tax_fr", D("0"), name="Sales tax - FR")


def fixed(id_: str, cents: int, currency: str = "EUR", **kwargs) -> CouponToApply:
    return CouponToApply(id_, "fixed_amount", amount_cents=cents, amount_currency=currency, **kwargs)


def percent(id_: str, rate: str, **kwargs) -> CouponToApply:
    return CouponToApply(id_, "percentage", percentage_rate=D(rate), **kwargs)


# ---------------------------------------------------------------------------------- §6.1 totals


def test_docs_example_subscription_usage_coupon_tax_credit_notes_prepaid_is_16_dollars():
    """doc guide/wallet-and-prepaid-credits/overview.mdx: 50 + 20 − 10 = 60, +10 % = 66, −20 −30 = 16."""
    totals = calculate_invoice(
        [
            FeeLine("subscription", "subscription", 5000, taxes=(VAT10,)),
            FeeLine("usage", "charge", 2000, taxes=(VAT10,), billable_metric_id="bm"),
        ],
        currency="USD",
        coupons=[fixed("coupon", 1000, "USD")],
        credit_notes=[CreditNoteBalance("cn", 2000)],
        wallets=[WalletBalance("wallet", 3000)],
    )
    assert totals.fees_amount_cents == 7000
    assert totals.coupons_amount_cents == 1000
    assert totals.sub_total_excluding_taxes_amount_cents == 6000
    assert totals.taxes_amount_cents == 600
    assert totals.sub_total_including_taxes_amount_cents == 6600
    assert totals.credit_notes_amount_cents == 2000
    assert totals.prepaid_credit_amount_cents == 3000
    assert totals.total_amount_cents == 1600
    assert totals.payment_status == "pending"
    assert [(c.item_type, c.amount_cents, c.before_taxes) for c in totals.credits] == [
        ("coupon", 1000, True),
        ("credit_note", 2000, False),
    ]
    assert totals.prepaid_credits[0].balance_cents == 0
    assert totals.credit_note_credits[0].consumed is True
    assert [(t.tax_code, t.amount_cents, t.fees_amount_cents) for t in totals.applied_taxes] == [("vat_10", 600, 6000)]
    # The coupon is spread pro rata: 1000 × 5000/7000 and 1000 × 2000/7000.
    assert totals.fee("subscription").precise_coupons_amount_cents == D("714.28571")
    assert totals.fee("usage").precise_coupons_amount_cents == D("285.71429")


def test_taxes_on_invoice_spec_mixed_rates_and_coupon_spread():
    """taxes_on_invoice_spec: plan 10,000 (10 %), fx 5,000 (0 %), cards 3,000 + true-up 2,000 (20 %),
    coupon 1,000 spread 500/250/150/100, taxes 950/0/570/380 → 1,900, total 20,900."""
    fees = [
        FeeLine("subscription", "subscription", 10_000, taxes=(VAT10,), plan_id="p"),
        FeeLine("fx", "charge", 5000, taxes=(VAT0,), plan_id="p", billable_metric_id="fx"),
        FeeLine("cards", "charge", 3000, taxes=(VAT20,), plan_id="p", billable_metric_id="cards"),
        FeeLine("cards_true_up", "charge", 2000, taxes=(VAT20,), plan_id="p", billable_metric_id="cards"),
    ]
    totals = calculate_invoice(fees, currency="EUR", coupons=[fixed("coupon1", 1000)])
    expected = {
        "subscription": (D(500), 950, D(10)),
        "fx": (D(250), 0, D(0)),
        "cards": (D(150), 570, D(20)),
        "cards_true_up": (D(100), 380, D(20)),
    }
    for fee_id, (coupons, taxes, rate) in expected.items():
        fee = totals.fee(fee_id)
        assert (fee.precise_coupons_amount_cents, fee.taxes_amount_cents, fee.taxes_rate) == (coupons, taxes, rate)
    assert totals.fees_amount_cents == 20_000
    assert totals.coupons_amount_cents == 1000
    assert totals.taxes_amount_cents == 1900
    assert totals.sub_total_excluding_taxes_amount_cents == 19_000
    assert totals.sub_total_including_taxes_amount_cents == 20_900
    assert totals.total_amount_cents == 20_900
    assert [(t.tax_code, t.amount_cents, t.fees_amount_cents) for t in totals.applied_taxes] == [
        ("vat_10", 950, 9500),
        ("sales_tax_fr", 0, 4750),
        ("vat_20", 950, 4750),
    ]
    assert totals.coupon_credits[0].terminated is True
    assert totals.coupon_credits[0].amount_cents_remaining == 0


def test_taxes_on_invoice_spec_coupons_covering_all_fees():
    """Second case of the spec: coupons 1,000 then 11,000 on a 10,000 fee → precise coupons 10,000,
    fee tax 0; the second coupon takes 9,000 and keeps 2,000 for the next invoice."""
    totals = calculate_invoice(
        [FeeLine("subscription", "subscription", 10_000, taxes=(VAT10,))],
        currency="EUR",
        coupons=[fixed("coupon1", 1000), fixed("coupon2", 11_000)],
    )
    fee = totals.fee("subscription")
    assert fee.precise_coupons_amount_cents == 10_000
    assert fee.taxes_amount_cents == 0
    assert fee.taxes_rate == 10
    assert totals.coupons_amount_cents == 10_000
    assert totals.total_amount_cents == 0
    assert totals.payment_status == "succeeded"
    second = totals.coupon_credits[1]
    assert (second.amount_cents, second.amount_cents_remaining, second.terminated) == (9000, 2000, False)


def test_coupons_breakdown_spec_metric_then_plan_then_unlimited():
    """coupons_breakdown_spec: two subscriptions of four charges each; a metric-limited coupon
    (2,000 on bm1+bm2), a plan-limited one (1,000 on plan 2), an unlimited one (500). Coupons 3,500,
    sub-total 16,500, taxes 1,889 (rows 1,411 + 479 round separately), total 18,389."""
    spec = [
        ("bm1", 1000, VAT10, "p1"),
        ("bm2", 2000, VAT20, "p1"),
        ("bm3", 3000, VAT10, "p1"),
        ("bm4", 4000, VAT10, "p1"),
        ("bm5", 1000, VAT10, "p2"),
        ("bm6", 2000, VAT20, "p2"),
        ("bm7", 3000, VAT10, "p2"),
        ("bm8", 4000, VAT10, "p2"),
    ]
    fees = [FeeLine(m, "charge", a, taxes=(t,), plan_id=p, billable_metric_id=m) for m, a, t, p in spec]
    # Given in application order: the unlimited one first, to prove the function reorders them.
    coupons = [
        fixed("coupon3", 500),
        fixed("coupon2", 1000, plan_ids={"p2"}),
        fixed("coupon1", 2000, billable_metric_ids={"bm1", "bm2"}),
    ]
    totals = calculate_invoice(fees, currency="EUR", coupons=coupons)
    expected = {
        "bm1": ("676.47059", 32),
        "bm2": ("1352.94117", 129),
        "bm3": ("88.23529", 291),
        "bm4": ("117.64706", 388),
        "bm5": ("126.47059", 87),
        "bm6": ("252.94118", 349),
        "bm7": ("379.41176", 262),
        "bm8": ("505.88235", 349),
    }
    for fee_id, (coupons_cents, taxes) in expected.items():
        fee = totals.fee(fee_id)
        assert fee.precise_coupons_amount_cents == D(coupons_cents), fee_id
        assert fee.taxes_amount_cents == taxes, fee_id
    assert [c.applied_coupon_id for c in totals.coupon_credits] == ["coupon1", "coupon2", "coupon3"]
    assert [c.amount_cents for c in totals.coupon_credits] == [2000, 1000, 500]
    assert totals.fees_amount_cents == 20_000
    assert totals.coupons_amount_cents == 3500
    assert totals.sub_total_excluding_taxes_amount_cents == 16_500
    assert totals.taxes_amount_cents == 1889
    assert [t.amount_cents for t in totals.applied_taxes] == [1411, 479]
    assert totals.total_amount_cents == 18_389


# --------------------------------------------------------------------------------- §6.2 taxes


def test_invoice_tax_is_rounded_from_unrounded_rows_not_summed_from_fee_taxes():
    """Four 1-cent fees at 40 %: each fee tax rounds to 0, the invoice tax is round(1.6) = 2."""
    rate40 = TaxRate("t40", D("40"))
    totals = calculate_invoice([FeeLine(f"f{i}", "charge", 1, taxes=(rate40,)) for i in range(4)], currency="EUR")
    assert [f.taxes_amount_cents for f in totals.fees] == [0, 0, 0, 0]
    assert totals.taxes_amount_cents == 2
    assert totals.total_amount_cents == 6


def test_tax_half_cent_rounds_up_per_fee_and_per_invoice():
    """180 cents at 17.5 % = 31.5 → 32; two 90-cent fees: 15.75 → 16 each, invoice 31.5 → 32."""
    rate = TaxRate("t175", D("17.5"))
    one = calculate_invoice([FeeLine("a", "charge", 180, taxes=(rate,))], currency="EUR")
    assert one.fee("a").taxes_amount_cents == 32
    assert one.taxes_amount_cents == 32
    two = calculate_invoice([FeeLine(i, "charge", 90, taxes=(rate,)) for i in "ab"], currency="EUR")
    assert [f.taxes_amount_cents for f in two.fees] == [16, 16]
    assert two.taxes_amount_cents == 32
    assert two.applied_taxes[0].precise_amount_cents == D("31.5")


def test_several_taxes_on_one_fee_add_up_and_fee_total_is_rounded_once():
    a = TaxRate("a", D("5.5"))
    b = TaxRate("b", D("2.5"))
    totals = calculate_invoice([FeeLine("f", "subscription", 1010, taxes=(a, b))], currency="EUR")
    fee = totals.fee("f")
    # 55.55 → 56 and 25.25 → 25 per row, but the fee total is round(80.8) = 81.
    assert [(t.tax_code, t.amount_cents) for t in fee.applied_taxes] == [("a", 56), ("b", 25)]
    assert fee.taxes_amount_cents == 81
    assert fee.taxes_rate == 8
    assert fee.total_amount_cents == 1091
    assert totals.taxes_amount_cents == 81
    assert totals.taxes_rate == D("8.00000")


def test_fee_tax_precise_amount_uses_precise_amount():
    totals = calculate_invoice(
        [FeeLine("f", "charge", 10, precise_amount_cents=D("10.1"), taxes=(VAT20,))], currency="USD"
    )
    fee = totals.fee("f")
    assert fee.taxes_amount_cents == 2
    assert fee.taxes_precise_amount_cents == D("2.02")
    assert fee.applied_taxes[0].precise_amount_cents == D("2.02")


def test_credit_fees_are_never_taxed():
    totals = calculate_invoice([FeeLine("c", "credit", 5000, taxes=(VAT20,))], currency="EUR", invoice_type="credit")
    assert totals.taxes_amount_cents == 0
    assert totals.applied_taxes == ()
    assert totals.total_amount_cents == 5000


def test_taxes_rate_is_blended_over_the_sub_total():
    totals = calculate_invoice(
        [FeeLine("a", "charge", 7, taxes=(TaxRate("t", D("5.5")),)), FeeLine("b", "charge", 153)], currency="EUR"
    )
    # Exact decimals: 7/160 × 5.5 = 0.240625 → 0.24063 (Lago's float gives 0.24062).
    assert totals.taxes_rate == D("0.24063")


def test_taxes_rate_when_sub_total_is_zero_counts_fees():
    totals = calculate_invoice(
        [FeeLine("a", "charge", 0, taxes=(VAT20,)), FeeLine("b", "charge", 0)],
        currency="EUR",
    )
    assert totals.taxes_rate == D("10.00000")
    assert totals.total_amount_cents == 0
    assert totals.payment_status == "succeeded"


# ---------------------------------------------------------------------------------- §8 coupons


def test_coupon_shares_are_kept_at_five_places():
    """27 cents over fees of 13 and 179: 351/192 = 1.828125 → 1.82813; 4833/192 = 25.171875 → 25.17188."""
    totals = calculate_invoice(
        [FeeLine("a", "charge", 13), FeeLine("b", "charge", 179)], currency="EUR", coupons=[fixed("c", 27)]
    )
    assert totals.fee("a").precise_coupons_amount_cents == D("1.82813")
    assert totals.fee("b").precise_coupons_amount_cents == D("25.17188")
    assert totals.coupons_amount_cents == 27
    assert totals.total_amount_cents == 165


def test_percentage_coupon_rounds_half_up_once():
    """17.5 % of 180 = 31.5 → 32 (Lago's float product gives 31 for an unlimited coupon)."""
    totals = calculate_invoice([FeeLine("a", "charge", 180)], currency="EUR", coupons=[percent("c", "17.5")])
    assert totals.coupons_amount_cents == 32
    assert totals.coupon_credits[0].terminated is True  # a `once` percentage is used up by one invoice
    assert totals.coupon_credits[0].amount_cents_remaining is None


def test_percentage_coupon_of_100_or_more_takes_the_base():
    totals = calculate_invoice(
        [FeeLine("a", "charge", 999, taxes=(VAT20,))], currency="EUR", coupons=[percent("c", "150")]
    )
    assert totals.coupons_amount_cents == 999
    assert totals.taxes_amount_cents == 0
    assert totals.total_amount_cents == 0


def test_each_coupon_applies_to_what_the_earlier_ones_left():
    totals = calculate_invoice(
        [FeeLine("a", "subscription", 10_000)],
        currency="EUR",
        coupons=[fixed("first", 2000), percent("second", "10", frequency="forever")],
    )
    assert [c.amount_cents for c in totals.coupon_credits] == [2000, 800]
    assert totals.total_amount_cents == 7200


def test_once_fixed_coupon_carries_its_remainder_over():
    first = calculate_invoice([FeeLine("a", "subscription", 3000)], currency="EUR", coupons=[fixed("c", 5000)])
    credit = first.coupon_credits[0]
    assert (credit.amount_cents, credit.amount_cents_remaining, credit.terminated) == (3000, 2000, False)
    second = calculate_invoice(
        [FeeLine("a", "subscription", 3000)],
        currency="EUR",
        coupons=[fixed("c", 5000, amount_cents_remaining=credit.amount_cents_remaining)],
    )
    credit = second.coupon_credits[0]
    assert (credit.amount_cents, credit.amount_cents_remaining, credit.terminated) == (2000, 0, True)
    assert second.total_amount_cents == 1000


def test_recurring_fixed_coupon_applies_in_full_each_time_and_counts_down():
    coupon = fixed("c", 1000, frequency="recurring", frequency_duration_remaining=2)
    first = calculate_invoice([FeeLine("a", "subscription", 600)], currency="EUR", coupons=[coupon])
    credit = first.coupon_credits[0]
    # 600 used out of 1000: the unused part is lost, one period is used.
    assert (credit.amount_cents, credit.frequency_duration_remaining, credit.terminated) == (600, 1, False)
    last = calculate_invoice(
        [FeeLine("a", "subscription", 5000)],
        currency="EUR",
        coupons=[fixed("c", 1000, frequency="recurring", frequency_duration_remaining=1)],
    )
    credit = last.coupon_credits[0]
    assert (credit.amount_cents, credit.frequency_duration_remaining, credit.terminated) == (1000, 0, True)


def test_forever_coupon_never_terminates():
    totals = calculate_invoice(
        [FeeLine("a", "subscription", 5000)], currency="EUR", coupons=[percent("c", "20", frequency="forever")]
    )
    assert totals.coupon_credits[0].amount_cents == 1000
    assert totals.coupon_credits[0].terminated is False


def test_coupon_in_another_currency_or_without_target_fee_is_skipped():
    totals = calculate_invoice(
        [FeeLine("a", "subscription", 5000, plan_id="p1")],
        currency="EUR",
        coupons=[
            fixed("usd", 1000, "USD"),
            fixed("other_plan", 1000, plan_ids={"p2"}),
            fixed("metric", 1000, billable_metric_ids={"bm"}),  # targets charge fees only
        ],
    )
    assert totals.coupon_credits == ()
    assert totals.coupons_amount_cents == 0
    assert totals.total_amount_cents == 5000


def test_plan_limited_coupon_only_touches_that_plans_fees():
    fees = [
        FeeLine("p1_sub", "subscription", 4000, taxes=(VAT20,), plan_id="p1"),
        FeeLine("p1_use", "charge", 1000, taxes=(VAT20,), plan_id="p1", billable_metric_id="bm"),
        FeeLine("p2_sub", "subscription", 5000, taxes=(VAT20,), plan_id="p2"),
    ]
    totals = calculate_invoice(fees, currency="EUR", coupons=[fixed("c", 2500, plan_ids={"p1"})])
    assert totals.fee("p1_sub").precise_coupons_amount_cents == 2000
    assert totals.fee("p1_use").precise_coupons_amount_cents == 500
    assert totals.fee("p2_sub").precise_coupons_amount_cents == 0
    assert totals.taxes_amount_cents == 1500  # 20 % of 7,500
    assert totals.total_amount_cents == 9000


def test_limited_coupon_on_a_fractional_base_credits_whole_cents_only():
    """A metric coupon after an unlimited one sees a fractional base; it credits its whole cents."""
    fees = [FeeLine("a", "charge", 100, billable_metric_id="m"), FeeLine("b", "charge", 200, billable_metric_id="n")]
    # The metric coupon goes first (Lago's order), so give the fractional base through two metric coupons.
    totals = calculate_invoice(
        fees,
        currency="EUR",
        coupons=[fixed("m1", 1, billable_metric_ids={"m", "n"}), fixed("m2", 1000, billable_metric_ids={"m"})],
    )
    # m1 spreads 1 cent: a gets 0.33333, b 0.66667; m2's base is 99.66667 → credits 99, fee a fully discounted.
    assert totals.fee("a").precise_coupons_amount_cents == 100
    second = totals.coupon_credits[1]
    assert second.precise_amount_cents == D("99.66667")
    assert second.amount_cents == 99
    assert second.amount_cents_remaining == 901
    assert totals.coupons_amount_cents == 100
    assert totals.total_amount_cents == 200


def test_coupons_stop_once_the_sub_total_is_zero():
    totals = calculate_invoice(
        [FeeLine("a", "subscription", 1000)],
        currency="EUR",
        coupons=[fixed("big", 5000), percent("untouched", "10")],
    )
    assert [c.applied_coupon_id for c in totals.coupon_credits] == ["big"]
    assert totals.total_amount_cents == 0


def test_no_coupon_on_a_zero_fee_invoice():
    totals = calculate_invoice([FeeLine("a", "subscription", 0)], currency="EUR", coupons=[percent("c", "10")])
    assert totals.coupon_credits == ()


def test_metric_limited_percentage_on_fully_discounted_fees_credits_zero_and_terminates():
    fees = [FeeLine("a", "charge", 500, billable_metric_id="m"), FeeLine("b", "subscription", 500)]
    totals = calculate_invoice(
        fees,
        currency="EUR",
        coupons=[fixed("m_all", 500, billable_metric_ids={"m"}), percent("m_pct", "10", billable_metric_ids={"m"})],
    )
    pct = totals.coupon_credits[1]
    assert (pct.amount_cents, pct.terminated) == (0, True)
    assert totals.total_amount_cents == 500


def test_order_coupons_is_stable_within_groups():
    coupons = [
        fixed("u1", 1),
        fixed("p1", 1, plan_ids={"p"}),
        fixed("m1", 1, billable_metric_ids={"m"}),
        fixed("u2", 1),
        fixed("m2", 1, billable_metric_ids={"m"}),
        fixed("p2", 1, plan_ids={"p"}),
    ]
    assert [c.id for c in order_coupons(coupons)] == ["m1", "m2", "p1", "p2", "u1", "u2"]


# ----------------------------------------------------------------------------- §10 progressive


def test_progressive_billing_spec_period_end_invoice():
    """progressive_billing_spec: plan 3,100 + usage 40,000 − 20,000 already billed → 23,100."""
    totals = calculate_invoice(
        [
            FeeLine("sub", "subscription", 3100, plan_id="p"),
            FeeLine("usage", "charge", 40_000, plan_id="p", billable_metric_id="m"),
        ],
        currency="USD",
        progressive_credits=[ProgressiveBillingCredit("pb_invoice", 20_000, ("usage",), number="INV-001")],
    )
    assert totals.progressive_billing_credit_amount_cents == 20_000
    assert totals.sub_total_excluding_taxes_amount_cents == 23_100
    assert totals.total_amount_cents == 23_100
    assert totals.fee("usage").precise_coupons_amount_cents == 20_000
    assert totals.credits[0].item_type == "invoice"
    assert totals.credits[0].code == "INV-001"


def test_progressive_billing_spec_termination_closing_invoice():
    """§5.7: terminated 18 December → base 3100/31 × 18 = 1,800; usage 20,000; credit −20,000 → 1,800."""
    base = prorate_amount_cents(3100, days=18, period_days=31)
    totals = calculate_invoice(
        [
            FeeLine("sub", "subscription", base.amount_cents, precise_amount_cents=base.precise_amount_cents),
            FeeLine("usage", "charge", 20_000, billable_metric_id="m"),
        ],
        currency="USD",
        progressive_credits=[ProgressiveBillingCredit("pb", 20_000, ("usage",))],
    )
    assert base.amount_cents == 1800
    assert totals.total_amount_cents == 1800


def test_progressive_credit_is_capped_by_matching_fees_and_taxes_follow():
    totals = calculate_invoice(
        [FeeLine("usage", "charge", 15_000, taxes=(VAT20,), billable_metric_id="m")],
        currency="USD",
        progressive_credits=[ProgressiveBillingCredit("pb", 20_000, ("usage",))],
    )
    applied = totals.progressive_credits[0]
    assert (applied.amount_cents, applied.unallocated_amount_cents) == (15_000, 5000)
    assert totals.taxes_amount_cents == 0
    assert totals.total_amount_cents == 0


def test_progressive_credit_applies_to_drafts_but_coupons_do_not():
    totals = calculate_invoice(
        [FeeLine("usage", "charge", 30_000, taxes=(VAT10,), billable_metric_id="m")],
        currency="USD",
        context="draft",
        progressive_credits=[ProgressiveBillingCredit("pb", 10_000, ("usage",))],
        coupons=[fixed("c", 1000, "USD")],
        credit_notes=[CreditNoteBalance("cn", 500)],
        wallets=[WalletBalance("w", 500)],
    )
    assert totals.progressive_billing_credit_amount_cents == 10_000
    assert totals.coupons_amount_cents == 0
    assert totals.credit_notes_amount_cents == 0
    assert totals.prepaid_credit_amount_cents == 0
    assert totals.total_amount_cents == 22_000


def test_progressive_credit_refuses_unknown_or_non_charge_fees():
    with pytest.raises(CalculationError):
        calculate_invoice(
            [FeeLine("usage", "charge", 100)],
            currency="USD",
            progressive_credits=[ProgressiveBillingCredit("pb", 10, ("nope",))],
        )
    with pytest.raises(CalculationError):
        calculate_invoice(
            [FeeLine("sub", "subscription", 100)],
            currency="USD",
            progressive_credits=[ProgressiveBillingCredit("pb", 10, ("sub",))],
        )


# ----------------------------------------------------------------------------- §9 credit notes


def test_credit_notes_are_consumed_oldest_first_after_tax():
    totals = calculate_invoice(
        [FeeLine("a", "subscription", 10_000, taxes=(VAT20,))],
        currency="EUR",
        credit_notes=[CreditNoteBalance("old", 5000, "INV-1-CN001"), CreditNoteBalance("new", 9000, "INV-2-CN001")],
    )
    assert totals.sub_total_including_taxes_amount_cents == 12_000
    assert [
        (c.credit_note_id, c.amount_cents, c.balance_amount_cents, c.consumed) for c in totals.credit_note_credits
    ] == [
        ("old", 5000, 0, True),
        ("new", 7000, 2000, False),
    ]
    assert totals.credit_notes_amount_cents == 12_000
    assert totals.total_amount_cents == 0
    assert totals.fee("a").precise_credit_notes_amount_cents == 12_000


def test_credit_note_share_is_spread_over_fees_after_tax():
    totals = calculate_invoice(
        [FeeLine("a", "charge", 13), FeeLine("b", "charge", 179)],
        currency="EUR",
        credit_notes=[CreditNoteBalance("cn", 27)],
    )
    assert totals.fee("a").precise_credit_notes_amount_cents == D("1.82813")
    assert totals.fee("b").precise_credit_notes_amount_cents == D("25.17188")
    assert totals.total_amount_cents == 165


def test_one_off_invoice_gets_taxes_only():
    totals = calculate_invoice(
        [FeeLine("addon", "add_on", 10_000, taxes=(VAT20,))],
        currency="EUR",
        invoice_type="one_off",
        coupons=[fixed("c", 1000)],
        credit_notes=[CreditNoteBalance("cn", 1000)],
        wallets=[WalletBalance("w", 1000)],
    )
    assert (totals.coupons_amount_cents, totals.credit_notes_amount_cents, totals.prepaid_credit_amount_cents) == (
        0,
        0,
        0,
    )
    assert totals.total_amount_cents == 12_000


# -------------------------------------------------------------------------------- §7 wallets


def test_prepaid_credits_spec_two_invoices_drain_the_wallet():
    """invoicing_with_prepaid_credits_spec: 39 credits at rate 1 (3,900); 17.72 paid → 21.28; 17.69 → 3.59."""
    first = calculate_invoice([FeeLine("a", "subscription", 1772)], currency="EUR", wallets=[WalletBalance("w", 3900)])
    assert (first.prepaid_credit_amount_cents, first.total_amount_cents) == (1772, 0)
    assert first.prepaid_credits[0].balance_cents == 2128
    assert first.payment_status == "succeeded"
    second = calculate_invoice([FeeLine("a", "subscription", 1769)], currency="EUR", wallets=[WalletBalance("w", 2128)])
    assert second.prepaid_credits[0].balance_cents == 359
    assert second.total_amount_cents == 0


def test_wallets_are_used_by_priority_then_creation_order():
    wallets = [
        WalletBalance("created_first_p50", 1000),
        WalletBalance("p1", 300, priority=1),
        WalletBalance("created_last_p50", 1000),
    ]
    totals = calculate_invoice([FeeLine("a", "subscription", 1500)], currency="EUR", wallets=wallets)
    assert [(p.wallet_id, p.amount_cents, p.balance_cents) for p in totals.prepaid_credits] == [
        ("p1", 300, 0),
        ("created_first_p50", 1000, 0),
        ("created_last_p50", 200, 800),
    ]
    assert totals.total_amount_cents == 0


def test_wallet_limited_to_fee_types_pays_only_those_fees_with_their_taxes():
    fees = [
        FeeLine("sub", "subscription", 5000, taxes=(VAT20,)),
        FeeLine("usage", "charge", 3000, taxes=(VAT20,), billable_metric_id="m"),
    ]
    totals = calculate_invoice(fees, currency="EUR", wallets=[WalletBalance("w", 100_000, fee_types={"charge"})])
    assert totals.prepaid_credit_amount_cents == 3600
    assert totals.total_amount_cents == 6000


def test_wallet_limited_to_metrics_pays_only_their_charge_fees():
    fees = [
        FeeLine("sub", "subscription", 5000),
        FeeLine("m_fee", "charge", 3000, billable_metric_id="m"),
        FeeLine("n_fee", "charge", 2000, billable_metric_id="n"),
    ]
    only_m = calculate_invoice(fees, currency="EUR", wallets=[WalletBalance("w", 100_000, billable_metric_ids={"m"})])
    assert only_m.prepaid_credit_amount_cents == 3000
    with_types = calculate_invoice(
        fees,
        currency="EUR",
        wallets=[WalletBalance("w", 100_000, billable_metric_ids={"m"}, fee_types={"subscription", "charge"})],
    )
    # Limited to metric m for charges; "charge" in fee types does not open other metrics' charges.
    assert with_types.prepaid_credit_amount_cents == 8000
    assert with_types.total_amount_cents == 2000


def test_limited_wallets_share_buckets_with_earlier_wallets():
    fees = [FeeLine("sub", "subscription", 1000), FeeLine("use", "charge", 1000, billable_metric_id="m")]
    wallets = [WalletBalance("all", 1500, priority=1), WalletBalance("charges", 5000, fee_types={"charge"})]
    totals = calculate_invoice(fees, currency="EUR", wallets=wallets)
    # The first wallet used the subscription bucket (1,000) then 500 of the charge bucket.
    assert [(p.wallet_id, p.amount_cents) for p in totals.prepaid_credits] == [("all", 1500), ("charges", 500)]
    assert totals.total_amount_cents == 0


def test_wallets_are_not_used_on_a_fully_credited_invoice_or_with_empty_balance():
    totals = calculate_invoice(
        [FeeLine("a", "subscription", 1000)],
        currency="EUR",
        credit_notes=[CreditNoteBalance("cn", 5000)],
        wallets=[WalletBalance("w", 1000)],
    )
    assert totals.prepaid_credits == ()
    empty = calculate_invoice([FeeLine("a", "subscription", 1000)], currency="EUR", wallets=[WalletBalance("w", 0)])
    assert empty.prepaid_credits == ()
    assert empty.total_amount_cents == 1000


def test_allocate_prepaid_credits_seam_matches_the_pipeline():
    fees = [
        FeeLine("sub", "subscription", 5000, taxes=(VAT20,)),
        FeeLine("usage", "charge", 3000, taxes=(VAT10,), billable_metric_id="m"),
    ]
    wallets = [WalletBalance("w1", 2000, priority=2), WalletBalance("w2", 1000, priority=1, fee_types={"charge"})]
    without = calculate_invoice(fees, currency="EUR", coupons=[fixed("c", 800)])
    with_wallets = calculate_invoice(fees, currency="EUR", coupons=[fixed("c", 800)], wallets=wallets)
    assert allocate_prepaid_credits(without, wallets) == list(with_wallets.prepaid_credits)
    assert with_wallets.total_amount_cents == without.total_amount_cents - 3000


# ----------------------------------------------------------------------------- §5.2 proration


@pytest.mark.parametrize(
    ("amount", "days", "period_days", "expected"),
    [
        (5000, 21, 28, 3750),  # terminate_pay_in_advance_spec: starts 8 February 2023
        (5000, 22, 28, 3929),  # same, customer in America/Los_Angeles
        (10_000, 14, 31, 4516),  # upgrades doc: 14/31 × €100 = €45.16
        (20_000, 17, 31, 10_968),  # upgrades doc: 17/31 × €200 = €109.68
        (100, 20, 31, 65),  # upgrade_spec in arrears: round(100 × 20/31)
        (1500, 20, 31, 968),  # multiple_upgrade_spec: 1500/31 × 20
        (3100, 18, 31, 1800),  # progressive_billing_spec: terminated 18 December
        (91_000, 32, 91, 32_000),  # upgrade_proration_spec: quarterly, 1,000/day, 32 days
        (1000, 13, 31, 419),  # fixed charges $1 × 10 units from 19 July
        (1500, 13, 31, 629),  # fixed charges $3 × 5 units from 19 July
        (1000, 16, 30, 533),  # 10 € from 15 April (the docs round this to "5 €")
        (5000, 28, 28, 5000),
        (5000, 0, 28, 0),
    ],
)
def test_prorate_amount_cents(amount, days, period_days, expected):
    assert prorate_amount_cents(amount, days=days, period_days=period_days).amount_cents == expected


def test_prorated_fees_with_taxes_match_lago_totals():
    """terminate_pay_in_advance_spec: 3,750 + 20 % = 4,500; Los Angeles: 3,929 + 786 = 4,715;
    the credit note for 20 unused days: 3,571 + 714 = 4,285; multiple_upgrade_spec credit note:
    1000/31 × 20 = 645 + 25 % → 806."""
    cases = [(5000, 21, 28, VAT20, 4500), (5000, 22, 28, VAT20, 4715), (5000, 20, 28, VAT20, 4285)]
    cases.append((1000, 20, 31, TaxRate("t25", D("25")), 806))
    for amount, days, period_days, tax, total in cases:
        fee = prorate_amount_cents(amount, days=days, period_days=period_days)
        totals = calculate_invoice(
            [
                FeeLine(
                    "f", "subscription", fee.amount_cents, precise_amount_cents=fee.precise_amount_cents, taxes=(tax,)
                )
            ],
            currency="EUR",
        )
        assert totals.total_amount_cents == total


def test_prorate_keeps_the_precise_amount_and_accepts_a_fraction():
    result = prorate_by_fraction(1500, Fraction(20, 31))
    assert result.amount_cents == 968
    assert result.precise_amount_cents.quantize(D("0.00001")) == D("967.74194")
    assert prorate_amount_cents(1, days=1, period_days=2).amount_cents == 1  # 0.5 rounds half-up


def test_prorate_refuses_bad_inputs():
    with pytest.raises(CalculationError):
        prorate_amount_cents(100, days=1, period_days=0)
    with pytest.raises(CalculationError):
        prorate_amount_cents(100.0, days=1, period_days=2)  # type: ignore[arg-type]
    with pytest.raises(CalculationError):
        prorate_by_fraction(100, Fraction(-1, 2))


# ------------------------------------------------------------------------- currencies, inputs


def test_zero_decimal_currency_works_in_minor_units():
    totals = calculate_invoice([FeeLine("a", "subscription", 1001, taxes=(VAT10,))], currency="JPY")
    assert totals.taxes_amount_cents == 100  # 100.1 yen → 100
    assert totals.total_amount_cents == 1101


def test_invalid_inputs_are_refused():
    with pytest.raises(UnknownCurrency):
        calculate_invoice([], currency="XXX")
    with pytest.raises(CalculationError):
        calculate_invoice([FeeLine("a", "charge", 1), FeeLine("a", "charge", 2)], currency="EUR")
    with pytest.raises(CalculationError):
        FeeLine("a", "charge", 1.5)  # type: ignore[arg-type]
    with pytest.raises(CalculationError):
        FeeLine("a", "charge", -1)
    with pytest.raises(CalculationError):
        FeeLine("a", "charge", 1, precise_amount_cents=1.0)  # type: ignore[arg-type]
    with pytest.raises(CalculationError):
        FeeLine("a", "charge", 1, taxes=(VAT10, VAT10))
    with pytest.raises(ValueError):
        FeeLine("a", "nonsense", 1)
    with pytest.raises(CalculationError):
        TaxRate("t", 0.2)  # type: ignore[arg-type]
    with pytest.raises(CouponLimitationError):
        fixed("c", 1, plan_ids={"p"}, billable_metric_ids={"m"})
    with pytest.raises(CalculationError):
        CouponToApply("c", "fixed_amount", amount_cents=100)  # no currency
    with pytest.raises(CalculationError):
        CouponToApply("c", "percentage")
    with pytest.raises(CalculationError):
        CouponToApply("c", "fixed_amount", amount_cents=1, amount_currency="EUR", frequency="recurring")
    with pytest.raises(CalculationError):
        CreditNoteBalance("cn", -1)


def test_empty_invoice():
    totals = calculate_invoice([], currency="EUR", coupons=[percent("c", "10")], wallets=[WalletBalance("w", 10)])
    assert totals.total_amount_cents == 0
    assert totals.applied_taxes == ()
    assert totals.taxes_rate == 0
    assert totals.payment_status == "succeeded"
