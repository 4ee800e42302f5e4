"""Invoice totals: the pure money core of invoicing. No ORM, no settings, no I/O.

Everything here follows docs/billing-semantics.md §1, §5.2, §6.1, §6.2, §7, §8, §9 and §10 (Lago's
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

Also here: ``prorate_amount_cents`` / ``prorate_by_fraction`` (base fee for a partial period, §5.2;
the day counts come from ``subscriptions.periods``). Spending-minimum and commitment true-ups use
``catalog.pricing.spending_minimum_true_up_cents``.

``credit_note_amounts(fees, items)`` / ``check_credit_note_split(...)`` compute a credit note's
coupon adjustment, taxes and total from the finalized fees (§9; see ``credit_notes``).

Modules: ``types`` (inputs, outputs, errors), ``steps`` (each step of the pipeline on a working copy
of the fees), ``totals`` (``calculate_invoice``, ``allocate_prepaid_credits``), ``proration``,
``credit_notes``, ``tax_selection`` (``select_taxes``: which taxes a fee takes, §6.2).
"""

from .credit_notes import (
    CreditedFee,
    CreditNoteAmounts,
    CreditNoteAppliedTax,
    CreditNoteItem,
    CreditNoteItemAmount,
    CreditNoteValidationError,
    check_credit_note_split,
    credit_note_amounts,
)
from .proration import ProratedAmount, prorate_amount_cents, prorate_by_fraction
from .steps import order_coupons
from .tax_selection import select_taxes
from .totals import allocate_prepaid_credits, calculate_invoice
from .types import (
    PRECISE_QUANTUM,
    AppliedTax,
    CalculationError,
    Context,
    CouponCredit,
    CouponFrequency,
    CouponLimitationError,
    CouponToApply,
    CouponType,
    CreditNoteBalance,
    CreditNoteCredit,
    FeeAppliedTax,
    FeeLine,
    FeeTotals,
    FeeType,
    InvoiceCredit,
    InvoiceTotals,
    InvoiceType,
    PrepaidCredit,
    ProgressiveBillingCredit,
    ProgressiveCreditApplied,
    TaxRate,
    WalletBalance,
)

__all__ = [
    "PRECISE_QUANTUM",
    "AppliedTax",
    "CalculationError",
    "Context",
    "CouponCredit",
    "CouponFrequency",
    "CouponLimitationError",
    "CouponToApply",
    "CouponType",
    "CreditNoteAmounts",
    "CreditNoteAppliedTax",
    "CreditNoteBalance",
    "CreditNoteCredit",
    "CreditNoteItem",
    "CreditNoteItemAmount",
    "CreditNoteValidationError",
    "CreditedFee",
    "FeeAppliedTax",
    "FeeLine",
    "FeeTotals",
    "FeeType",
    "InvoiceCredit",
    "InvoiceTotals",
    "InvoiceType",
    "PrepaidCredit",
    "ProgressiveBillingCredit",
    "ProgressiveCreditApplied",
    "ProratedAmount",
    "TaxRate",
    "WalletBalance",
    "allocate_prepaid_credits",
    "calculate_invoice",
    "check_credit_note_split",
    "credit_note_amounts",
    "order_coupons",
    "prorate_amount_cents",
    "prorate_by_fraction",
    "select_taxes",
]
