"""The steps of the totals pipeline, on a mutable working copy of the fees (``_Fee``)."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_DOWN, Decimal

from billing_project.core.money import round_cents

from .types import (
    HUNDRED,
    ZERO,
    AppliedTax,
    CalculationError,
    CouponCredit,
    CouponFrequency,
    CouponToApply,
    CouponType,
    CreditNoteBalance,
    CreditNoteCredit,
    FeeAppliedTax,
    FeeLine,
    FeeType,
    PrepaidCredit,
    ProgressiveBillingCredit,
    ProgressiveCreditApplied,
    TaxRate,
    WalletBalance,
    _precise,
)


class _Fee:
    """Mutable working copy of a fee while the pipeline runs."""

    __slots__ = ("applied_taxes", "coupons", "credit_notes", "line", "taxes_cents", "taxes_precise", "taxes_unrounded")

    def __init__(self, line: FeeLine) -> None:
        self.line = line
        self.coupons = ZERO
        self.credit_notes = ZERO
        self.taxes_cents = 0
        self.taxes_unrounded = ZERO
        self.taxes_precise = ZERO
        self.applied_taxes: tuple[FeeAppliedTax, ...] = ()

    @property
    def amount(self) -> int:
        return self.line.amount_cents

    @property
    def undiscounted(self) -> Decimal:
        return self.line.amount_cents - self.coupons

    @property
    def taxes(self) -> tuple[TaxRate, ...]:
        return () if self.line.fee_type == FeeType.CREDIT else self.line.taxes


def order_coupons(coupons: Iterable[CouponToApply]) -> list[CouponToApply]:
    """Lago's order (§8): metric-limited, then plan-limited, then the rest; each group keeps the
    given (application date) order."""

    def group(coupon: CouponToApply) -> int:
        if coupon.limited_to_metrics:
            return 0
        if coupon.limited_to_plans:
            return 1
        return 2

    return sorted(coupons, key=group)


def _apply_progressive_credit(credit: ProgressiveBillingCredit, by_id: dict[str, _Fee]) -> ProgressiveCreditApplied:
    remaining = credit.amount_cents
    allocations: list[tuple[str, int]] = []
    for fee_id in credit.fee_ids:
        if remaining <= 0:
            break
        fee = by_id.get(fee_id)
        if fee is None:
            raise CalculationError(f"progressive credit {credit.id}: unknown fee {fee_id}")
        if fee.line.fee_type != FeeType.CHARGE:
            raise CalculationError(f"progressive credit {credit.id}: fee {fee_id} is not a charge fee")
        # Allocations are whole cents and run before coupons, so `undiscounted` is whole cents too.
        take = max(min(remaining, int(fee.undiscounted)), 0)
        if take:
            fee.coupons += take
            allocations.append((fee_id, take))
            remaining -= take
    allocated = credit.amount_cents - remaining
    return ProgressiveCreditApplied(
        id=credit.id,
        amount_cents=allocated,
        unallocated_amount_cents=remaining,
        allocations=tuple(allocations),
        number=credit.number,
    )


def _coupon_targets(coupon: CouponToApply, fees: list[_Fee]) -> list[_Fee]:
    if coupon.limited_to_metrics:
        return [
            f
            for f in fees
            if f.line.fee_type == FeeType.CHARGE and f.line.billable_metric_id in coupon.billable_metric_ids
        ]
    if coupon.limited_to_plans:
        return [f for f in fees if f.line.plan_id is not None and f.line.plan_id in coupon.plan_ids]
    return fees


def _coupon_value(coupon: CouponToApply, base: Decimal) -> Decimal:
    """The coupon's value on ``base`` (§8, Lago's ``AppliedCoupons::AmountService``)."""
    if coupon.coupon_type == CouponType.PERCENTAGE:
        assert coupon.percentage_rate is not None
        value = base * coupon.percentage_rate / HUNDRED
        return base if value >= base else Decimal(round_cents(value))
    available = coupon.amount_cents_remaining if coupon.frequency == CouponFrequency.ONCE else coupon.amount_cents
    assert available is not None
    return min(Decimal(available), base)


def _apply_coupon(coupon: CouponToApply, fees: list[_Fee], currency: str, sub_total: int) -> CouponCredit | None:
    if coupon.coupon_type == CouponType.FIXED_AMOUNT and coupon.amount_currency != currency:
        return None
    targets = _coupon_targets(coupon, fees)
    if not targets:
        return None
    limited = coupon.limited_to_metrics or coupon.limited_to_plans
    base = sum((f.undiscounted for f in targets), ZERO) if limited else Decimal(sub_total)
    value = _coupon_value(coupon, base)
    if base != 0:
        shares = [(f, _precise(value * f.undiscounted / base)) for f in targets]
        for f, share in shares:
            f.coupons = min(_precise(f.coupons + share), Decimal(f.amount))
    credited = int(value.to_integral_value(rounding=ROUND_DOWN))  # whole cents of a fractional base

    remaining = coupon.amount_cents_remaining
    duration = coupon.frequency_duration_remaining
    if coupon.frequency == CouponFrequency.ONCE:
        if coupon.coupon_type == CouponType.PERCENTAGE:
            terminated = True
        else:
            assert remaining is not None
            terminated = value >= remaining
            remaining = max(remaining - credited, 0)
    elif coupon.frequency == CouponFrequency.RECURRING:
        duration = max((duration or 0) - 1, 0)
        terminated = duration <= 0
    else:
        terminated = False
    return CouponCredit(
        applied_coupon_id=coupon.id,
        code=coupon.code,
        name=coupon.name,
        amount_cents=credited,
        precise_amount_cents=value,
        amount_cents_remaining=remaining if coupon.coupon_type == CouponType.FIXED_AMOUNT else None,
        frequency_duration_remaining=duration,
        terminated=terminated,
    )


def _apply_fee_taxes(fee: _Fee) -> None:
    """Fee-level taxes (§6.2): each row ``round(base × rate / 100)``, the fee total rounded once
    from the unrounded rows; ``base = amount_cents − precise_coupons_amount_cents``."""
    base = fee.undiscounted
    precise_base = fee.line.precise_amount_cents - fee.coupons  # type: ignore[operator]
    rows: list[FeeAppliedTax] = []
    unrounded = ZERO
    precise_total = ZERO
    for tax in fee.taxes:
        amount = base * tax.rate / HUNDRED
        precise = precise_base * tax.rate / HUNDRED
        rows.append(FeeAppliedTax(tax.code, tax.name, tax.rate, tax.description, round_cents(amount), precise))
        unrounded += amount
        precise_total += precise
    fee.applied_taxes = tuple(rows)
    fee.taxes_unrounded = unrounded
    fee.taxes_cents = round_cents(unrounded)
    fee.taxes_precise = precise_total


def _invoice_taxes(fees: list[_Fee]) -> tuple[list[AppliedTax], Decimal]:
    """Invoice tax rows (one per tax code, in order of first appearance) and the unrounded total."""
    order: list[TaxRate] = []
    bases: dict[str, Decimal] = {}
    for fee in fees:
        for tax in fee.taxes:
            if tax.code not in bases:
                order.append(tax)
                bases[tax.code] = ZERO
            bases[tax.code] += fee.undiscounted
    rows: list[AppliedTax] = []
    total = ZERO
    for tax in order:
        base = bases[tax.code]
        amount = base * tax.rate / HUNDRED
        rows.append(
            AppliedTax(
                tax_code=tax.code,
                tax_name=tax.name,
                tax_rate=tax.rate,
                tax_description=tax.description,
                amount_cents=round_cents(amount),
                fees_amount_cents=int(base.to_integral_value(rounding=ROUND_DOWN)),
                precise_amount_cents=amount,
            )
        )
        total += amount
    return rows, total


def _invoice_taxes_rate(fees: list[_Fee], rows: list[AppliedTax], sub_total: int) -> Decimal:
    """Informational blended rate (Lago's ``invoice.taxes_rate``), 5 decimal places."""
    if not fees or not rows:
        return ZERO
    rate = ZERO
    for row in rows:
        taxed = [f for f in fees if any(t.code == row.tax_code for t in f.taxes)]
        if sub_total > 0:
            share = sum((f.undiscounted for f in taxed), ZERO) / sub_total
        else:
            share = Decimal(len(taxed)) / len(fees)
        rate += share * row.tax_rate
    return _precise(rate)


def _apply_credit_notes(notes: Iterable[CreditNoteBalance], fees: list[_Fee], remaining: int) -> list[CreditNoteCredit]:
    """Credit-note balances on the post-tax total, oldest first (§9), spread over fees after tax."""
    credits: list[CreditNoteCredit] = []
    for note in notes:
        if remaining <= 0:
            break
        amount = min(note.balance_amount_cents, remaining)
        if amount <= 0:
            continue
        for fee in fees:
            after_tax = fee.undiscounted + fee.taxes_cents
            share = _precise(amount * (after_tax - fee.credit_notes) / remaining)
            fee.credit_notes = min(_precise(fee.credit_notes + share), after_tax)
        balance = note.balance_amount_cents - amount
        credits.append(CreditNoteCredit(note.id, note.number, amount, balance, consumed=balance == 0))
        remaining -= amount
    return credits


def _wallet_order(wallets: Iterable[WalletBalance]) -> list[WalletBalance]:
    return sorted(wallets, key=lambda w: w.priority)  # stable: creation order within a priority


def _wallet_keys(wallet: WalletBalance, fees: list[_Fee]) -> list[tuple[str, str | None]]:
    """The (fee type, metric) buckets a wallet may pay (Lago's ``eligible_fee_keys_for_wallet``)."""
    if wallet.billable_metric_ids:
        chosen = [
            f
            for f in fees
            if f.line.fee_type == FeeType.CHARGE and f.line.billable_metric_id in wallet.billable_metric_ids
        ]
        if wallet.fee_types:
            chosen += [f for f in fees if f.line.fee_type != FeeType.CHARGE and f.line.fee_type in wallet.fee_types]
    elif wallet.fee_types:
        chosen = [f for f in fees if f.line.fee_type in wallet.fee_types]
    else:
        chosen = fees
    keys: list[tuple[str, str | None]] = []
    for f in chosen:
        key = (str(f.line.fee_type), f.line.billable_metric_id)
        if key not in keys:
            keys.append(key)
    return keys


def _allocate_prepaid(fees: list[_Fee], remaining: int, wallets: Iterable[WalletBalance]) -> list[PrepaidCredit]:
    buckets: dict[tuple[str, str | None], Decimal] = {}
    for fee in fees:
        key = (str(fee.line.fee_type), fee.line.billable_metric_id)
        cap = fee.undiscounted + fee.taxes_precise - fee.credit_notes
        buckets[key] = buckets.get(key, ZERO) + cap
    applied: list[PrepaidCredit] = []
    for wallet in _wallet_order(wallets):
        if remaining <= 0:
            break
        if wallet.balance_cents <= 0:
            continue
        keys = _wallet_keys(wallet, fees)
        if wallet.fee_types or wallet.billable_metric_ids:
            eligible = sum((max(buckets[k], ZERO) for k in keys), ZERO)
            available = min(remaining, round_cents(eligible))
        else:
            available = remaining
        take = min(wallet.balance_cents, available)
        if take <= 0:
            continue
        left = Decimal(take)
        for key in keys:
            if left <= 0:
                break
            used = min(max(buckets[key], ZERO), left)
            buckets[key] -= used
            left -= used
        applied.append(PrepaidCredit(wallet.id, wallet.name, take, wallet.balance_cents - take))
        remaining -= take
    return applied
