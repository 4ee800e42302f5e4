"""Inputs, outputs and errors of the invoice totals calculation (see the package docstring)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

# Lago keeps precise_*_amount_cents in decimal columns with 5 places.
PRECISE_QUANTUM = Decimal("0.00001")
ZERO = Decimal(0)
HUNDRED = Decimal(100)
# Enough digits for cents up to 10^18 multiplied by each other with 5 decimals, unrounded.
PRECISION = 60


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
    ADVANCE_CHARGES = "advance_charges"  # regrouped paid pay-in-advance fees: taxes only


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
DISCOUNTABLE = frozenset({InvoiceType.SUBSCRIPTION, InvoiceType.PROGRESSIVE_BILLING})


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
    charge fees (a coupon has one kind of limitation, never both). Include the ids of the plans'
    overrides (child plans) in ``plan_ids``: Lago's plan limitation covers them too.
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
            assert self.percentage_rate is not None
            if self.percentage_rate < 0:
                raise CalculationError(f"coupon {self.id}: negative percentage_rate")
        else:
            _require_cents(self.amount_cents, f"coupon {self.id} amount_cents")
            assert self.amount_cents is not None
            if self.amount_cents < 0:
                raise CalculationError(f"coupon {self.id}: negative amount_cents")
            if not self.amount_currency:
                raise CalculationError(f"coupon {self.id}: a fixed amount needs a currency")
            if self.amount_cents_remaining is None:
                object.__setattr__(self, "amount_cents_remaining", self.amount_cents)
            _require_cents(self.amount_cents_remaining, f"coupon {self.id} amount_cents_remaining")
            assert self.amount_cents_remaining is not None
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
