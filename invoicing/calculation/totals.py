"""``calculate_invoice``: the invoice totals pipeline (docs/billing-semantics.md §6.1)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import localcontext

from billing_project.core.money import exponent, round_cents

from .steps import (
    _allocate_prepaid,
    _apply_coupon,
    _apply_credit_notes,
    _apply_fee_taxes,
    _apply_progressive_credit,
    _Fee,
    _invoice_taxes,
    _invoice_taxes_rate,
    order_coupons,
)
from .types import (
    DISCOUNTABLE,
    PRECISION,
    ZERO,
    CalculationError,
    Context,
    CouponCredit,
    CouponToApply,
    CreditNoteBalance,
    CreditNoteCredit,
    FeeLine,
    FeeTotals,
    FeeType,
    InvoiceCredit,
    InvoiceTotals,
    InvoiceType,
    PrepaidCredit,
    ProgressiveBillingCredit,
    ProgressiveCreditApplied,
    WalletBalance,
)


def calculate_invoice(
    fees: Sequence[FeeLine],
    *,
    currency: str,
    context: Context | str = Context.FINALIZE,
    invoice_type: InvoiceType | str = InvoiceType.SUBSCRIPTION,
    progressive_credits: Iterable[ProgressiveBillingCredit] = (),
    coupons: Iterable[CouponToApply] = (),
    credit_notes: Iterable[CreditNoteBalance] = (),
    wallets: Iterable[WalletBalance] = (),
) -> InvoiceTotals:
    """The invoice's totals, fee shares, tax breakdown and credit consumption (see module doc)."""
    exponent(currency)  # raises UnknownCurrency
    context = Context(context)
    invoice_type = InvoiceType(invoice_type)
    ids = [fee.id for fee in fees]
    if len(ids) != len(set(ids)):
        raise CalculationError("fee ids must be unique")
    discountable = invoice_type in DISCOUNTABLE
    finalize = context == Context.FINALIZE

    with localcontext() as ctx:
        ctx.prec = PRECISION
        work = [_Fee(line) for line in fees]
        by_id = {fee.line.id: fee for fee in work}
        fees_amount = sum(fee.amount for fee in work)
        sub_total = fees_amount

        progressive_applied: list[ProgressiveCreditApplied] = []
        if discountable:
            for credit in progressive_credits:
                applied = _apply_progressive_credit(credit, by_id)
                progressive_applied.append(applied)
                sub_total -= applied.amount_cents
        progressive_amount = sum(p.amount_cents for p in progressive_applied)

        coupon_credits: list[CouponCredit] = []
        if discountable and finalize and fees_amount > 0:
            for coupon in order_coupons(coupons):
                if sub_total <= 0:
                    break
                coupon_credit = _apply_coupon(coupon, work, currency, sub_total)
                if coupon_credit is not None:
                    coupon_credits.append(coupon_credit)
                    sub_total -= coupon_credit.amount_cents
        coupons_amount = sum(c.amount_cents for c in coupon_credits)

        for fee in work:
            _apply_fee_taxes(fee)
        applied_taxes, taxes_unrounded = _invoice_taxes(work)
        taxes_amount = round_cents(taxes_unrounded)
        taxes_rate = _invoice_taxes_rate(work, applied_taxes, sub_total)
        sub_total_incl = sub_total + taxes_amount

        remaining = sub_total_incl
        note_credits: list[CreditNoteCredit] = []
        if finalize and discountable:
            note_credits = _apply_credit_notes(credit_notes, work, remaining)
            remaining -= sum(c.amount_cents for c in note_credits)

        prepaid: list[PrepaidCredit] = []
        if finalize and discountable and remaining > 0:
            prepaid = _allocate_prepaid(work, remaining, wallets)
            remaining -= sum(p.amount_cents for p in prepaid)

        fee_totals = tuple(
            FeeTotals(
                id=fee.line.id,
                fee_type=FeeType(fee.line.fee_type),
                amount_cents=fee.amount,
                precise_amount_cents=fee.line.precise_amount_cents,  # type: ignore[arg-type]
                precise_coupons_amount_cents=fee.coupons,
                taxes_amount_cents=fee.taxes_cents,
                taxes_precise_amount_cents=fee.taxes_precise,
                taxes_rate=sum((t.rate for t in fee.taxes), ZERO),
                applied_taxes=fee.applied_taxes,
                precise_credit_notes_amount_cents=fee.credit_notes,
                billable_metric_id=fee.line.billable_metric_id,
            )
            for fee in work
        )

    credits = (
        [InvoiceCredit("invoice", p.id, p.number, p.number, p.amount_cents, True) for p in progressive_applied]
        + [InvoiceCredit("coupon", c.applied_coupon_id, c.code, c.name, c.amount_cents, True) for c in coupon_credits]
        + [
            InvoiceCredit("credit_note", n.credit_note_id, n.number, n.number, n.amount_cents, False)
            for n in note_credits
        ]
    )
    return InvoiceTotals(
        currency=currency,
        fees_amount_cents=fees_amount,
        progressive_billing_credit_amount_cents=progressive_amount,
        coupons_amount_cents=coupons_amount,
        sub_total_excluding_taxes_amount_cents=sub_total,
        taxes_amount_cents=taxes_amount,
        taxes_precise_amount_cents=taxes_unrounded,
        taxes_rate=taxes_rate,
        sub_total_including_taxes_amount_cents=sub_total_incl,
        credit_notes_amount_cents=sum(n.amount_cents for n in note_credits),
        prepaid_credit_amount_cents=sum(p.amount_cents for p in prepaid),
        total_amount_cents=remaining,
        fees=fee_totals,
        applied_taxes=tuple(applied_taxes),
        progressive_credits=tuple(progressive_applied),
        coupon_credits=tuple(coupon_credits),
        credit_note_credits=tuple(note_credits),
        prepaid_credits=tuple(prepaid),
        credits=tuple(credits),
    )


def allocate_prepaid_credits(totals: InvoiceTotals, wallets: Iterable[WalletBalance]) -> list[PrepaidCredit]:
    """Wallet consumption for an invoice computed without wallets (the seam for the credits issue).

    Applies ``wallets`` (priority 1 first) to ``totals.total_amount_cents`` with the fee-type and
    metric limits of §7, using the fee shares of ``totals``. Returns one entry per wallet used.
    """
    work: list[_Fee] = []
    with localcontext() as ctx:
        ctx.prec = PRECISION
        for fee in totals.fees:
            line = FeeLine(
                id=fee.id,
                fee_type=fee.fee_type,
                amount_cents=fee.amount_cents,
                billable_metric_id=fee.billable_metric_id,
            )
            w = _Fee(line)
            w.coupons = fee.precise_coupons_amount_cents
            w.credit_notes = fee.precise_credit_notes_amount_cents
            w.taxes_cents = fee.taxes_amount_cents
            w.taxes_precise = fee.taxes_precise_amount_cents
            work.append(w)
        return _allocate_prepaid(work, totals.total_amount_cents, wallets)
