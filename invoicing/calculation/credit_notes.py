"""Credit-note amounts (docs/billing-semantics.md §9): items before tax, coupon adjustment, taxes, totals.

``credit_note_amounts(fees, items)`` is what ``POST /credit_notes/estimate`` and credit-note
creation compute (Lago's ``CreditNotes::ApplyTaxesService`` and ``CreateService``), for items
credited against the fees of a finalized invoice:

* each item is an amount **before tax** on one fee (``precise`` when prorated: an automatic credit
  note for 20 unused days of 5,000/28 days credits 3,571.42857…); its ``amount_cents`` is that
  amount rounded once;
* the coupon adjustment gives back the fee's coupon share in proportion:
  ``Σ fee.precise_coupons_amount_cents × item / fee.amount_cents``;
* one tax row per tax code on the credited fees: ``base = Σ (item − its coupon adjustment)``,
  ``amount = round(base × rate / 100)``; ``taxes_amount_cents = round(Σ unrounded rows)``;
* ``sub_total_excluding_taxes = Σ item cents − round(coupon adjustment)`` and
  ``total = sub_total_excluding_taxes + taxes``: the most that can be split into credit, refund
  and offset.

``check_credit_note_split(amounts, credit=, refund=, offset=)`` applies §9's consistency rule
(the parts add up to the total within one cent). Limits that depend on the invoice's history
(creditable amount per fee, refundable amount once paid) are passed in by the caller, which
reads them under a lock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext

from billing_project.core.money import round_cents

from .types import HUNDRED, PRECISION, ZERO, CalculationError, FeeTotals, TaxRate, _precise, _require_cents


class CreditNoteValidationError(CalculationError):
    """Lago's validation codes, by field: ``{"amount_cents": ["higher_than_remaining_fee_amount"]}``."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(errors)
        self.errors = errors


@dataclass(frozen=True)
class CreditedFee:
    """A fee of the credited invoice, as it was finalized."""

    id: str
    amount_cents: int
    precise_coupons_amount_cents: Decimal = ZERO
    taxes: tuple[TaxRate, ...] = ()
    creditable_amount_cents: int | None = None  # what earlier credit notes left; None = the whole fee

    def __post_init__(self) -> None:
        _require_cents(self.amount_cents, f"fee {self.id} amount_cents")
        object.__setattr__(self, "taxes", tuple(self.taxes))

    @classmethod
    def from_totals(cls, fee: FeeTotals, *, creditable_amount_cents: int | None = None) -> CreditedFee:
        taxes = tuple(TaxRate(t.tax_code, t.tax_rate, t.tax_name, t.tax_description) for t in fee.applied_taxes)
        return cls(fee.id, fee.amount_cents, fee.precise_coupons_amount_cents, taxes, creditable_amount_cents)


@dataclass(frozen=True)
class CreditNoteItem:
    fee_id: str
    amount_cents: Decimal | int  # before tax; may be precise


@dataclass(frozen=True)
class CreditNoteItemAmount:
    fee_id: str
    amount_cents: int
    precise_amount_cents: Decimal
    precise_coupons_adjustment_amount_cents: Decimal


@dataclass(frozen=True)
class CreditNoteAppliedTax:
    tax_code: str
    tax_name: str
    tax_rate: Decimal
    tax_description: str
    base_amount_cents: int
    amount_cents: int
    precise_amount_cents: Decimal


@dataclass(frozen=True)
class CreditNoteAmounts:
    items: tuple[CreditNoteItemAmount, ...]
    items_amount_cents: int
    precise_coupons_adjustment_amount_cents: Decimal
    coupons_adjustment_amount_cents: int
    applied_taxes: tuple[CreditNoteAppliedTax, ...]
    precise_taxes_amount_cents: Decimal
    taxes_amount_cents: int
    taxes_rate: Decimal
    sub_total_excluding_taxes_amount_cents: int
    total_amount_cents: int


def credit_note_amounts(fees: Sequence[CreditedFee], items: Sequence[CreditNoteItem]) -> CreditNoteAmounts:
    """The amounts of a credit note for ``items`` against ``fees`` (see the module docstring).

    Raises ``CreditNoteValidationError`` with Lago's codes: ``items: must_be_an_array`` when empty,
    ``fee: not_found`` for an unknown fee, ``amount_cents: invalid_value`` for a negative amount,
    ``amount_cents: higher_than_remaining_fee_amount`` beyond a fee's creditable amount.
    """
    by_id = {fee.id: fee for fee in fees}
    if not items:
        raise CreditNoteValidationError({"items": ["must_be_an_array"]})
    with localcontext() as ctx:
        ctx.prec = PRECISION
        credited: list[tuple[CreditedFee, CreditNoteItemAmount]] = []
        for item in items:
            fee = by_id.get(item.fee_id)
            if fee is None:
                raise CreditNoteValidationError({"fee": ["not_found"]})
            precise = _amount(item.amount_cents)
            if precise < 0:
                raise CreditNoteValidationError({"amount_cents": ["invalid_value"]})
            cents = round_cents(precise)
            creditable = fee.amount_cents if fee.creditable_amount_cents is None else fee.creditable_amount_cents
            if cents > creditable:
                raise CreditNoteValidationError({"amount_cents": ["higher_than_remaining_fee_amount"]})
            share = fee.precise_coupons_amount_cents * precise / fee.amount_cents if fee.amount_cents else ZERO
            credited.append((fee, CreditNoteItemAmount(fee.id, cents, precise, share)))

        adjustment = sum((line.precise_coupons_adjustment_amount_cents for _, line in credited), ZERO)
        order: list[TaxRate] = []
        bases: dict[str, Decimal] = {}
        for fee, line in credited:
            for tax in fee.taxes:
                if tax.code not in bases:
                    order.append(tax)
                    bases[tax.code] = ZERO
                bases[tax.code] += line.precise_amount_cents - line.precise_coupons_adjustment_amount_cents
        rows: list[CreditNoteAppliedTax] = []
        for tax in order:
            precise_tax = bases[tax.code] * tax.rate / HUNDRED
            rows.append(
                CreditNoteAppliedTax(
                    tax.code,
                    tax.name,
                    tax.rate,
                    tax.description,
                    base_amount_cents=round_cents(bases[tax.code]),
                    amount_cents=round_cents(precise_tax),
                    precise_amount_cents=precise_tax,
                )
            )
        precise_taxes = sum((row.precise_amount_cents for row in rows), ZERO)
        taxes = round_cents(precise_taxes)
        items_cents = sum(line.amount_cents for _, line in credited)
        coupons_adjustment = round_cents(adjustment)
        sub_total = max(items_cents - coupons_adjustment, 0)
        net = sum((line.precise_amount_cents for _, line in credited), ZERO) - adjustment
        rate = ZERO
        if net > 0:
            rate = _precise(sum((bases[t.code] / net * t.rate for t in order), ZERO))
    return CreditNoteAmounts(
        items=tuple(line for _, line in credited),
        items_amount_cents=items_cents,
        precise_coupons_adjustment_amount_cents=adjustment,
        coupons_adjustment_amount_cents=coupons_adjustment,
        applied_taxes=tuple(rows),
        precise_taxes_amount_cents=precise_taxes,
        taxes_amount_cents=taxes,
        taxes_rate=rate,
        sub_total_excluding_taxes_amount_cents=sub_total,
        total_amount_cents=sub_total + taxes,
    )


def check_credit_note_split(
    amounts: CreditNoteAmounts,
    *,
    credit_amount_cents: int = 0,
    refund_amount_cents: int = 0,
    offset_amount_cents: int = 0,
    max_refundable_amount_cents: int | None = None,
) -> None:
    """§9: ``credit + refund + offset`` must equal the credit note's total, within one cent.

    Raises ``CreditNoteValidationError`` (``base: does_not_match_item_amounts``, ``<part>:
    invalid_value`` for a negative part, ``refund_amount_cents: higher_than_remaining_invoice_amount``
    beyond what may still be refunded).
    """
    parts = {
        "credit_amount_cents": credit_amount_cents,
        "refund_amount_cents": refund_amount_cents,
        "offset_amount_cents": offset_amount_cents,
    }
    errors: dict[str, list[str]] = {}
    for name, value in parts.items():
        _require_cents(value, name)
        if value < 0:
            errors[name] = ["invalid_value"]
    if max_refundable_amount_cents is not None and refund_amount_cents > max_refundable_amount_cents:
        errors.setdefault("refund_amount_cents", []).append("higher_than_remaining_invoice_amount")
    if abs(sum(parts.values()) - amounts.total_amount_cents) > 1:
        errors["base"] = ["does_not_match_item_amounts"]
    if errors:
        raise CreditNoteValidationError(errors)


def _amount(value: object) -> Decimal:
    if isinstance(value, bool):
        raise CalculationError("credit note item amount must be an integer or a Decimal")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, Decimal) and value.is_finite():
        return value
    raise CalculationError("credit note item amount must be an integer or a Decimal")
