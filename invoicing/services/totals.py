"""From fee rows to invoice totals: builds `invoicing.calculation` inputs, writes the results back.

Used when an invoice is created (draft or finalized at once), refreshed and finalized. Nothing
here commits: callers own the transaction.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from catalog.models import AppliedCoupon, CouponStatus
from invoicing.calculation import (
    Context,
    CouponToApply,
    FeeLine,
    InvoiceTotals,
    TaxRate,
    calculate_invoice,
)
from invoicing.models import Fee, FeeAppliedTax, Invoice, InvoiceAppliedTax, InvoiceType
from invoicing.services.progressive import progressive_credits

DISCOUNTABLE = {InvoiceType.SUBSCRIPTION, InvoiceType.PROGRESSIVE_BILLING}


@dataclass(frozen=True)
class TaxSnapshot:
    tax_id: Any
    rate: TaxRate


@dataclass
class Computed:
    totals: InvoiceTotals
    fee_taxes: list[FeeAppliedTax] = field(default_factory=list)
    invoice_taxes: list[InvoiceAppliedTax] = field(default_factory=list)
    coupons: dict[str, AppliedCoupon] = field(default_factory=dict)
    credit_notes: dict[str, Any] = field(default_factory=dict)  # locked CreditNote rows by id
    wallets: dict[str, Any] = field(default_factory=dict)  # locked Wallet rows by id


def snapshots(taxes: list[Any]) -> list[TaxSnapshot]:
    return [
        TaxSnapshot(t.id, TaxRate(code=t.code, rate=t.rate, name=t.name, description=t.description or ""))
        for t in taxes
    ]


def snapshots_from_rows(fees: list[Fee]) -> dict[Any, list[TaxSnapshot]]:
    """The taxes frozen on saved fees (one FeeAppliedTax row per tax, even at 0)."""
    result: dict[Any, list[TaxSnapshot]] = {fee.id: [] for fee in fees}
    rows = FeeAppliedTax.objects.filter(fee_id__in=[f.id for f in fees]).order_by("created_at", "id")
    for row in rows:
        result[row.fee_id].append(
            TaxSnapshot(
                row.tax_id,
                TaxRate(code=row.tax_code, rate=row.tax_rate, name=row.tax_name, description=row.tax_description),
            )
        )
    return result


def coupons_to_apply(invoice: Invoice) -> tuple[list[CouponToApply], dict[str, AppliedCoupon]]:
    """The customer's active applied coupons, locked, oldest first (§8)."""
    if invoice.invoice_type not in DISCOUNTABLE:
        return [], {}
    applied = list(
        AppliedCoupon.objects.select_for_update(of=("self",))
        .filter(organization_id=invoice.organization_id, customer_id=invoice.customer_id, status=CouponStatus.ACTIVE)
        .select_related("coupon")
        .order_by("created_at", "id")
    )
    result: list[CouponToApply] = []
    by_id: dict[str, AppliedCoupon] = {}
    for ac in applied:
        coupon = ac.coupon
        targets = list(coupon.targets.all())
        plan_ids = frozenset(str(t.plan_id) for t in targets if t.plan_id and coupon.limited_plans)
        metric_ids = frozenset(
            str(t.billable_metric_id) for t in targets if t.billable_metric_id and coupon.limited_billable_metrics
        )
        frequency_remaining = ac.frequency_duration_remaining
        if ac.frequency == "recurring" and frequency_remaining is None:
            frequency_remaining = ac.frequency_duration or 0
        result.append(
            CouponToApply(
                id=str(ac.id),
                coupon_type=coupon.coupon_type,
                frequency=ac.frequency,
                amount_cents=int(ac.amount_cents) if ac.amount_cents is not None else None,
                amount_currency=ac.amount_currency,
                amount_cents_remaining=int(ac.amount_cents_remaining)
                if ac.amount_cents_remaining is not None
                else None,
                percentage_rate=Decimal(ac.percentage_rate) if ac.percentage_rate is not None else None,
                frequency_duration_remaining=frequency_remaining,
                plan_ids=plan_ids,
                billable_metric_ids=metric_ids,
                code=coupon.code,
                name=coupon.name,
            )
        )
        by_id[str(ac.id)] = ac
    return result, by_id


def compute(
    invoice: Invoice,
    fees: list[Fee],
    taxes: dict[Any, list[TaxSnapshot]],
    *,
    context: Context,
    plan_ids: dict[Any, str | None] | None = None,
    with_credits: bool = True,
    progressive: Collection[Any] | None = None,
) -> Computed:
    """Run the §6.1 pipeline and copy the results onto the (saved or unsaved) fees and invoice.

    `with_credits=False`: the caller knows the customer has no active coupon, available credit note
    or active wallet (a billing batch checks that for all its customers in bulk): none is read.
    `progressive`: the subscriptions known to have a progressive-billing period (read under the
    customer lock by the billing run); None: unknown, each billed period is looked up."""
    plan_ids = plan_ids or {}
    coupons: list[CouponToApply] = []
    coupon_rows: dict[str, AppliedCoupon] = {}
    credit_notes: list = []
    note_rows: dict[str, Any] = {}
    wallets: list = []
    wallet_rows: dict[str, Any] = {}
    if context == Context.FINALIZE and with_credits:
        coupons, coupon_rows = coupons_to_apply(invoice)
        if invoice.invoice_type in DISCOUNTABLE:  # credit notes, then wallets (§6.1, §7, §9): locked
            from invoicing.credits.services.credit_notes import credit_notes_for_invoice
            from invoicing.credits.services.wallets import wallets_for_invoice

            credit_notes, note_rows = credit_notes_for_invoice(invoice)
            wallets, wallet_rows = wallets_for_invoice(invoice)
    lines = [
        FeeLine(
            id=str(fee.id),
            fee_type=fee.fee_type,
            amount_cents=int(fee.amount_cents),
            precise_amount_cents=Decimal(fee.precise_amount_cents),
            taxes=tuple(s.rate for s in taxes.get(fee.id, [])),
            plan_id=plan_ids.get(fee.id),
            billable_metric_id=str(fee.charge.billable_metric_id) if fee.charge_id else None,
        )
        for fee in fees
    ]
    totals = calculate_invoice(
        lines,
        currency=invoice.currency,
        context=context,
        invoice_type=invoice.invoice_type,
        coupons=coupons,
        credit_notes=credit_notes,
        wallets=wallets,
        progressive_credits=progressive_credits(invoice, fees, progressive=progressive),
    )
    by_id = {str(f.id): f for f in fees}
    tax_ids: dict[str, Any] = {}
    fee_taxes: list[FeeAppliedTax] = []
    for fee_totals in totals.fees:
        fee = by_id[fee_totals.id]
        fee.precise_coupons_amount_cents = fee_totals.precise_coupons_amount_cents
        fee.taxes_amount_cents = fee_totals.taxes_amount_cents
        fee.taxes_precise_amount_cents = fee_totals.taxes_precise_amount_cents.quantize(Decimal("0.00001"))
        fee.taxes_rate = fee_totals.taxes_rate
        snaps = {s.rate.code: s for s in taxes.get(fee.id, [])}
        for applied in fee_totals.applied_taxes:
            snap = snaps.get(applied.tax_code)
            tax_ids[applied.tax_code] = snap.tax_id if snap else None
            fee_taxes.append(
                FeeAppliedTax.copied(
                    applied,
                    tax_id=snap.tax_id if snap else None,
                    currency=invoice.currency,
                    organization_id=invoice.organization_id,
                    fee=fee,
                    precise_amount_cents=applied.precise_amount_cents.quantize(Decimal("0.00001")),
                )
            )
    invoice_taxes = [
        InvoiceAppliedTax.copied(
            applied,
            tax_id=tax_ids.get(applied.tax_code),
            currency=invoice.currency,
            organization_id=invoice.organization_id,
            invoice=invoice,
            fees_amount_cents=applied.fees_amount_cents,
        )
        for applied in totals.applied_taxes
    ]
    invoice.fees_amount_cents = totals.fees_amount_cents
    invoice.coupons_amount_cents = totals.coupons_amount_cents
    invoice.progressive_billing_credit_amount_cents = totals.progressive_billing_credit_amount_cents
    invoice.sub_total_excluding_taxes_amount_cents = totals.sub_total_excluding_taxes_amount_cents
    invoice.taxes_amount_cents = totals.taxes_amount_cents
    invoice.taxes_rate = totals.taxes_rate.quantize(Decimal("0.00001"))
    invoice.sub_total_including_taxes_amount_cents = totals.sub_total_including_taxes_amount_cents
    invoice.credit_notes_amount_cents = totals.credit_notes_amount_cents
    invoice.prepaid_credit_amount_cents = totals.prepaid_credit_amount_cents
    invoice.total_amount_cents = totals.total_amount_cents
    invoice.credits = [
        {
            "item_type": c.item_type,
            "item_id": c.item_id,
            "code": c.code,
            "name": c.name,
            "amount_cents": c.amount_cents,
            "before_taxes": c.before_taxes,
        }
        for c in totals.credits
    ]
    return Computed(
        totals=totals,
        fee_taxes=fee_taxes,
        invoice_taxes=invoice_taxes,
        coupons=coupon_rows,
        credit_notes=note_rows,
        wallets=wallet_rows,
    )


def write_coupon_credits(computed: Computed, now: Any) -> None:
    """Consume what the coupons gave (remaining amount, periods left, termination)."""
    for credit in computed.totals.coupon_credits:
        ac = computed.coupons.get(credit.applied_coupon_id)
        if ac is None:
            continue
        if credit.amount_cents_remaining is not None:
            ac.amount_cents_remaining = credit.amount_cents_remaining
        if credit.frequency_duration_remaining is not None:
            ac.frequency_duration_remaining = credit.frequency_duration_remaining
        if credit.terminated:
            ac.status = CouponStatus.TERMINATED
            ac.terminated_at = now
        ac.save(update_fields=["amount_cents_remaining", "frequency_duration_remaining", "status", "terminated_at"])


def give_back_coupon_credits(invoice: Invoice) -> None:
    """Voiding gives the coupon credits back (§6.7)."""
    for credit in invoice.credits or []:
        if credit.get("item_type") != "coupon":
            continue
        ac = AppliedCoupon.objects.select_for_update().filter(id=credit["item_id"]).select_related("coupon").first()
        if ac is None:
            continue
        if ac.coupon.coupon_type == "fixed_amount" and ac.frequency == "once":
            ac.amount_cents_remaining = (ac.amount_cents_remaining or 0) + int(credit["amount_cents"])
        if ac.frequency == "recurring":
            ac.frequency_duration_remaining = (ac.frequency_duration_remaining or 0) + 1
        if ac.status == CouponStatus.TERMINATED:
            ac.status = CouponStatus.ACTIVE
            ac.terminated_at = None
        ac.save(update_fields=["amount_cents_remaining", "frequency_duration_remaining", "status", "terminated_at"])
