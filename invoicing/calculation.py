"""Invoice totals: the pure money core of invoicing. No ORM, no settings, no I/O.

Everything here follows lago-semantics.md §1, §5.2, §6.1, §6.2, §7, §8, §9 and §10 (Lago's
``Invoices::ComputeAmountsFromFees``, ``Fees::ApplyTaxesService``, ``Invoices::ApplyTaxesService``,
``Credits::*``), with exact decimals where Lago uses floats. The billing run builds the inputs from
its rows, calls one function, and writes the frozen results back.

Interface
---------
``calculate_invoice(fees, *, currency, context="finalize", invoice_type="subscription",
progressive_credits=(), coupons=(), credit_notes=(), wallets=()) -> InvoiceTotals``

* ``fees``: ``FeeLine`` per fee (id, fee type, ``amount_cents`` already rounded once,
  ``precise_amount_cents``, the taxes that apply to it as ``TaxRate``s — chosen by the caller with
  §6.2's precedence — and the plan / billable metric used by coupon and wallet limitations).
* ``progressive_credits``: ``ProgressiveBillingCredit`` per progressive-billing invoice of the
  period (amount already billed, and the matching charge fees in allocation order).
* ``coupons``: ``CouponToApply`` per *active* applied coupon of the customer, **in application
  order** (oldest first); the function itself puts metric-limited coupons first, then
  plan-limited ones, then the rest (a stable sort, §8).
* ``credit_notes``: ``CreditNoteBalance`` per available credit note in the invoice currency,
  oldest first (§9).
* ``wallets``: ``WalletBalance`` per active wallet in the invoice currency, in creation order; the
  function orders them by ``priority`` (1 first), keeping creation order within a priority (§7).
  ``allocate_prepaid_credits`` is the seam for the credits issue: it can be called on its own.

The pipeline (§6.1), each step capped by what remains so nothing goes negative::

    fees_amount_cents                 = Σ fee.amount_cents
    − progressive_billing_credit      (matching charge fees; before tax)
    − coupons                         (finalize context, subscription/progressive invoices, fees > 0)
    = sub_total_excluding_taxes
    + taxes                           (per tax: round(Σ_fees (amount − precise_coupons) × rate / 100))
    = sub_total_including_taxes
    − credit_notes                    (finalize context; after tax)
    − prepaid_credit                  (finalize context; subscription/progressive invoices; wallets)
    = total_amount_cents              (never negative)

``context="draft"`` (an invoice waiting for its grace period) applies progressive credits and
taxes only. ``one_off``/``add_on``/``credit`` invoices get taxes only; credit fees are never taxed.

Rounding (docs/invoicing.md): each money amount becomes integer cents exactly once, half-up,
through ``billing_project.core.money.round_cents``: a fee tax row, a fee's total tax (from the
unrounded rows), an invoice tax row and the invoice tax total (from the unrounded per-rate
amounts, *not* the sum of rounded fee taxes), a percentage coupon. Coupon and credit-note shares
spread over fees are kept as precise decimals, stored at 5 decimal places like Lago's columns.
Two amounts are *truncated* to whole cents, as Lago does, because they are caps rather than
roundings: a coupon limited to plans/metrics whose fractional base is smaller than its value
credits the whole cents of that base, and an applied tax's ``fees_amount_cents`` is the whole
cents of its taxable base.

Also here: ``prorate_amount_cents`` (base fee for a partial period, §5.2; the day counts come from
``subscriptions.periods``) and ``true_up_amount_cents`` (spending minimum / commitment, §1, §5.8).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, localcontext
from enum import StrEnum
from fractions import Fraction

from billing_project.core.money import exponent, round_cents

# Lago keeps precise_*_amount_cents in decimal columns with 5 places.
PRECISE_QUANTUM = Decimal("0.00001")
ZERO = Decimal(0)
HUNDRED = Decimal(100)
# Enough digits for cents up to 10^18 multiplied by each other with 5 decimals, unrounded.
_PRECISION = 60


class CalculationError(ValueError):
    """The inputs are inconsistent (a programming error in the caller, not a client error)."""


class FeeType(StrEnum):
    SUBSCRIPTION = "subscription"
    CHARGE = "charge"
    FIXED_CHARGE = "fixed_charge"
    COMMITMENT = "commitment"
    ADD_ON = "add_on"
    CREDIT = "credit"


class InvoiceType(StrEnum):
    SUBSCRIPTION = "subscription"
    PROGRESSIVE_BILLING = "progressive_billing"
    ONE_OFF = "one_off"
    ADD_ON = "add_on"
    CREDIT = "credit"


class Context(StrEnum):
    DRAFT = "draft"
    FINALIZE = "finalize"


class CouponType(StrEnum):
    FIXED_AMOUNT = "fixed_amount"
    PERCENTAGE = "percentage"


class CouponFrequency(StrEnum):
    ONCE = "once"
    RECURRING = "recurring"
    FOREVER = "forever"


# Invoice types that take coupons, progressive credits and prepaid credits (§6.6, §7, §8).
_DISCOUNTABLE = frozenset({InvoiceType.SUBSCRIPTION, InvoiceType.PROGRESSIVE_BILLING})


# --------------------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class TaxRate:
    """A tax that applies to a fee (snapshot of ``catalog.Tax``). ``rate`` is a percentage."""

    code: str
    rate: Decimal
    name: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        _require_decimal(self.rate, "tax rate")
        if self.rate < 0:
            raise CalculationError(f"tax {self.code}: negative rate")


@dataclass(frozen=True)
class FeeLine:
    """One fee of the invoice, already priced and rounded once (``amount_cents``)."""

    id: str
    fee_type: FeeType | str
    amount_cents: int
    precise_amount_cents: Decimal | None = None  # defaults to amount_cents
    taxes: tuple[TaxRate, ...] = ()
    plan_id: str | None = None  # the subscription's plan (plan-limited coupons)
    billable_metric_id: str | None = None  # the charge's metric (metric-limited coupons, wallets)

    def __post_init__(self) -> None:
        object.__setattr__(self, "fee_type", FeeType(self.fee_type))
        _require_cents(self.amount_cents, f"fee {self.id} amount_cents")
        if self.amount_cents < 0:
            raise CalculationError(f"fee {self.id}: negative amount_cents")
        if self.precise_amount_cents is None:
            object.__setattr__(self, "precise_amount_cents", Decimal(self.amount_cents))
        _require_decimal(self.precise_amount_cents, f"fee {self.id} precise_amount_cents")
        object.__setattr__(self, "taxes", tuple(self.taxes))
        codes = [tax.code for tax in self.taxes]
        if len(codes) != len(set(codes)):
            raise CalculationError(f"fee {self.id}: a tax code appears twice")


@dataclass(frozen=True)
class ProgressiveBillingCredit:
    """Usage already billed by a progressive-billing invoice of the period (§10).

    ``amount_cents`` is what that invoice billed and may still be credited; ``fee_ids`` are the
    matching charge fees of this invoice (same subscription, charge, filter and grouping), in the
    order the credit is allocated to them. Whatever cannot be allocated comes back as
    ``unallocated_amount_cents`` (Lago issues a credit note on the progressive invoice for it).
    """

    id: str
    amount_cents: int
    fee_ids: tuple[str, ...]
    number: str = ""

    def __post_init__(self) -> None:
        _require_cents(self.amount_cents, f"progressive credit {self.id} amount_cents")
        object.__setattr__(self, "fee_ids", tuple(self.fee_ids))


@dataclass(frozen=True)
class CouponToApply:
    """An active applied coupon (with its overrides already resolved).

    * fixed ``once``: ``amount_cents_remaining`` is the amount minus the credits it made on
      invoices that are not voided; it defaults to ``amount_cents``;
    * fixed ``recurring``/``forever``: ``amount_cents`` applies in full to each invoice;
    * percentage: ``percentage_rate`` (e.g. ``Decimal("10")`` for 10 %).

    ``plan_ids`` / ``billable_metric_ids`` limit the coupon to those plans' fees or those metrics'
    charge fees (a coupon has one kind of limitation, never both).
    """

    id: str
    coupon_type: CouponType | str
    frequency: CouponFrequency | str = CouponFrequency.ONCE
    amount_cents: int | None = None
    amount_currency: str | None = None
    amount_cents_remaining: int | None = None
    percentage_rate: Decimal | None = None
    frequency_duration_remaining: int | None = None
    plan_ids: frozenset[str] = frozenset()
    billable_metric_ids: frozenset[str] = frozenset()
    code: str = ""
    name: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "coupon_type", CouponType(self.coupon_type))
        object.__setattr__(self, "frequency", CouponFrequency(self.frequency))
        object.__setattr__(self, "plan_ids", frozenset(self.plan_ids))
        object.__setattr__(self, "billable_metric_ids", frozenset(self.billable_metric_ids))
        if self.plan_ids and self.billable_metric_ids:
            raise CouponLimitationError(f"coupon {self.id}: limited to plans and to metrics")
        if self.coupon_type == CouponType.PERCENTAGE:
            _require_decimal(self.percentage_rate, f"coupon {self.id} percentage_rate")
            if self.percentage_rate < 0:
                raise CalculationError(f"coupon {self.id}: negative percentage_rate")
        else:
            _require_cents(self.amount_cents, f"coupon {self.id} amount_cents")
            if self.amount_cents < 0:
                raise CalculationError(f"coupon {self.id}: negative amount_cents")
            if not self.amount_currency:
                raise CalculationError(f"coupon {self.id}: a fixed amount needs a currency")
            if self.amount_cents_remaining is None:
                object.__setattr__(self, "amount_cents_remaining", self.amount_cents)
            _require_cents(self.amount_cents_remaining, f"coupon {self.id} amount_cents_remaining")
            if self.amount_cents_remaining < 0:
                raise CalculationError(f"coupon {self.id}: negative amount_cents_remaining")
        if self.frequency == CouponFrequency.RECURRING:
            _require_cents(self.frequency_duration_remaining, f"coupon {self.id} frequency_duration_remaining")

    @property
    def limited_to_metrics(self) -> bool:
        return bool(self.billable_metric_ids)

    @property
    def limited_to_plans(self) -> bool:
        return bool(self.plan_ids)


class CouponLimitationError(CalculationError):
    pass


@dataclass(frozen=True)
class CreditNoteBalance:
    """An available credit note of the customer, in the invoice currency (§9)."""

    id: str
    balance_amount_cents: int
    number: str = ""

    def __post_init__(self) -> None:
        _require_cents(self.balance_amount_cents, f"credit note {self.id} balance_amount_cents")
        if self.balance_amount_cents < 0:
            raise CalculationError(f"credit note {self.id}: negative balance")


@dataclass(frozen=True)
class WalletBalance:
    """An active wallet in the invoice currency (§7). Empty limits mean "applies to everything".

    ``fee_types`` and ``billable_metric_ids`` mirror the wallet's ``applies_to``: a wallet limited
    to metrics pays those metrics' charge fees (and, when it also lists fee types, the non-charge
    fees of those types); a wallet limited to fee types pays fees of those types.
    """

    id: str
    balance_cents: int
    priority: int = 50
    fee_types: frozenset[str] = frozenset()
    billable_metric_ids: frozenset[str] = frozenset()
    name: str = ""

    def __post_init__(self) -> None:
        _require_cents(self.balance_cents, f"wallet {self.id} balance_cents")
        object.__setattr__(self, "fee_types", frozenset(FeeType(t) for t in self.fee_types))
        object.__setattr__(self, "billable_metric_ids", frozenset(self.billable_metric_ids))


# -------------------------------------------------------------------------------------- outputs


@dataclass(frozen=True)
class FeeAppliedTax:
    """One tax on one fee (Lago's ``fee.applied_taxes[]``)."""

    tax_code: str
    tax_name: str
    tax_rate: Decimal
    tax_description: str
    amount_cents: int
    precise_amount_cents: Decimal  # unrounded, from the fee's rounded amount after coupons


@dataclass(frozen=True)
class AppliedTax:
    """One tax on the invoice (Lago's ``invoice.applied_taxes[]``)."""

    tax_code: str
    tax_name: str
    tax_rate: Decimal
    tax_description: str
    amount_cents: int
    fees_amount_cents: int  # the taxable base: Σ (amount − precise coupons) of its fees, whole cents
    precise_amount_cents: Decimal  # unrounded


@dataclass(frozen=True)
class FeeTotals:
    id: str
    fee_type: FeeType
    amount_cents: int
    precise_amount_cents: Decimal
    precise_coupons_amount_cents: Decimal  # coupons and progressive credits spread on this fee
    taxes_amount_cents: int
    taxes_precise_amount_cents: Decimal
    taxes_rate: Decimal
    applied_taxes: tuple[FeeAppliedTax, ...]
    precise_credit_notes_amount_cents: Decimal
    billable_metric_id: str | None = None

    @property
    def sub_total_excluding_taxes_amount_cents(self) -> Decimal:
        return self.amount_cents - self.precise_coupons_amount_cents

    @property
    def sub_total_excluding_taxes_precise_amount_cents(self) -> Decimal:
        return self.precise_amount_cents - self.precise_coupons_amount_cents

    @property
    def total_amount_cents(self) -> int:
        return self.amount_cents + self.taxes_amount_cents


@dataclass(frozen=True)
class ProgressiveCreditApplied:
    id: str
    amount_cents: int
    unallocated_amount_cents: int
    allocations: tuple[tuple[str, int], ...]  # (fee id, cents)
    number: str = ""


@dataclass(frozen=True)
class CouponCredit:
    """What one applied coupon took from this invoice and what is left of it (§8)."""

    applied_coupon_id: str
    code: str
    name: str
    amount_cents: int  # the credit line (whole cents)
    precise_amount_cents: Decimal  # what was spread over the fees
    amount_cents_remaining: int | None  # fixed ``once``: what is left for later invoices
    frequency_duration_remaining: int | None  # ``recurring``: periods left
    terminated: bool


@dataclass(frozen=True)
class CreditNoteCredit:
    credit_note_id: str
    number: str
    amount_cents: int
    balance_amount_cents: int  # after this invoice
    consumed: bool


@dataclass(frozen=True)
class PrepaidCredit:
    wallet_id: str
    name: str
    amount_cents: int
    balance_cents: int  # after this invoice


@dataclass(frozen=True)
class InvoiceCredit:
    """An entry of Lago's ``invoice.credits[]``: ``item_type`` is coupon, credit_note or invoice."""

    item_type: str
    item_id: str
    code: str
    name: str
    amount_cents: int
    before_taxes: bool


@dataclass(frozen=True)
class InvoiceTotals:
    currency: str
    fees_amount_cents: int
    progressive_billing_credit_amount_cents: int
    coupons_amount_cents: int
    sub_total_excluding_taxes_amount_cents: int
    taxes_amount_cents: int
    taxes_precise_amount_cents: Decimal
    taxes_rate: Decimal
    sub_total_including_taxes_amount_cents: int
    credit_notes_amount_cents: int
    prepaid_credit_amount_cents: int
    total_amount_cents: int
    fees: tuple[FeeTotals, ...]
    applied_taxes: tuple[AppliedTax, ...]
    progressive_credits: tuple[ProgressiveCreditApplied, ...] = ()
    coupon_credits: tuple[CouponCredit, ...] = ()
    credit_note_credits: tuple[CreditNoteCredit, ...] = ()
    prepaid_credits: tuple[PrepaidCredit, ...] = ()
    credits: tuple[InvoiceCredit, ...] = field(default=())

    @property
    def payment_status(self) -> str:
        return "pending" if self.total_amount_cents > 0 else "succeeded"

    def fee(self, fee_id: str) -> FeeTotals:
        for fee in self.fees:
            if fee.id == fee_id:
                return fee
        raise KeyError(fee_id)


# ------------------------------------------------------------------------------------ proration


@dataclass(frozen=True)
class ProratedAmount:
    amount_cents: int
    precise_amount_cents: Decimal


def prorate_amount_cents(amount_cents: int, *, days: int, period_days: int) -> ProratedAmount:
    """Base fee for ``days`` of a ``period_days`` period (§5.2): ``round(days × amount / period_days)``.

    Lago computes ``days × (amount_cents / period_days)`` in floats; this is the exact value,
    rounded once half-up. Count the days with ``subscriptions.periods.days_between``.
    """
    _require_cents(amount_cents, "amount_cents")
    _require_cents(days, "days")
    _require_cents(period_days, "period_days")
    if period_days <= 0 or days < 0:
        raise CalculationError("days must be >= 0 and period_days > 0")
    return prorate_by_fraction(amount_cents, Fraction(days, period_days))


def prorate_by_fraction(amount_cents: int, fraction: Fraction) -> ProratedAmount:
    """``amount_cents × fraction`` (e.g. ``subscriptions.periods.base_fee_fraction``), rounded once."""
    _require_cents(amount_cents, "amount_cents")
    if fraction < 0:
        raise CalculationError("a proration fraction cannot be negative")
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        precise = Decimal(amount_cents * fraction.numerator) / Decimal(fraction.denominator)
    return ProratedAmount(amount_cents=round_cents(precise), precise_amount_cents=precise)


def true_up_amount_cents(
    minimum_amount_cents: int, *, used_amount_cents: int, days: int | None = None, period_days: int | None = None
) -> ProratedAmount:
    """Spending-minimum or minimum-commitment true-up (§1, §5.8): what the fees fell short of.

    The minimum is prorated to ``days / period_days`` for partial periods, then
    ``round(minimum − used)``, never below 0.
    """
    _require_cents(minimum_amount_cents, "minimum_amount_cents")
    _require_cents(used_amount_cents, "used_amount_cents")
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        if days is None and period_days is None:
            minimum = Decimal(minimum_amount_cents)
        elif days is None or period_days is None or period_days <= 0 or days < 0:
            raise CalculationError("give both days >= 0 and period_days > 0, or neither")
        else:
            minimum = Decimal(minimum_amount_cents * days) / Decimal(period_days)
        precise = max(minimum - used_amount_cents, ZERO)
    return ProratedAmount(amount_cents=round_cents(precise), precise_amount_cents=precise)


# ------------------------------------------------------------------------------------- pipeline


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
        return () if self.line.fee_type == FeeType.CREDIT else self.line.taxes  # type: ignore[return-value]


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
    discountable = invoice_type in _DISCOUNTABLE
    finalize = context == Context.FINALIZE

    with localcontext() as ctx:
        ctx.prec = _PRECISION
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
                credit = _apply_coupon(coupon, work, currency, sub_total)
                if credit is not None:
                    coupon_credits.append(credit)
                    sub_total -= credit.amount_cents
        coupons_amount = sum(c.amount_cents for c in coupon_credits)

        for fee in work:
            _apply_fee_taxes(fee)
        applied_taxes, taxes_unrounded = _invoice_taxes(work)
        taxes_amount = round_cents(taxes_unrounded)
        taxes_rate = _invoice_taxes_rate(work, applied_taxes, sub_total)
        sub_total_incl = sub_total + taxes_amount

        remaining = sub_total_incl
        note_credits: list[CreditNoteCredit] = []
        if finalize and invoice_type != InvoiceType.ONE_OFF and invoice_type != InvoiceType.CREDIT:
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


def allocate_prepaid_credits(totals: InvoiceTotals, wallets: Iterable[WalletBalance]) -> list[PrepaidCredit]:
    """Wallet consumption for an invoice computed without wallets (the seam for the credits issue).

    Applies ``wallets`` (priority 1 first) to ``totals.total_amount_cents`` with the fee-type and
    metric limits of §7, using the fee shares of ``totals``. Returns one entry per wallet used.
    """
    work: list[_Fee] = []
    with localcontext() as ctx:
        ctx.prec = _PRECISION
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


# -------------------------------------------------------------------------------------- helpers


def _precise(value: Decimal) -> Decimal:
    """A precise share at Lago's storage scale (5 places, half-up); not a rounding to cents."""
    return value.quantize(PRECISE_QUANTUM, rounding=ROUND_HALF_UP)


def _require_cents(value: object, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise CalculationError(f"{what} must be an integer")


def _require_decimal(value: object, what: str) -> None:
    if not isinstance(value, Decimal) or not value.is_finite():
        raise CalculationError(f"{what} must be a finite Decimal")
