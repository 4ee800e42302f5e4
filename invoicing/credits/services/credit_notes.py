"""Credit notes (docs/billing-semantics.md §9, docs/credits.md).

Issued against a finalized invoice, item by item before tax; the coupon adjustment and the taxes
come from `invoicing.calculation.credit_note_amounts`. The total splits into credit (a balance
later invoices consume, after tax and before wallets), refund (only on a paid invoice, `pending`
until the payments app or a manual update settles it: `credit_note_refund_settle`) and offset
(less due on the invoice). The invoice row is locked while a note is created, so concurrent
notes never exceed what is creditable.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from uuid import UUID

from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone

from billing_project.core.errors import NotAllowedFailure, NotFoundFailure, ValidationFailure
from billing_project.core.found import first_with_id
from customers.models import Organization
from invoicing.calculation import (
    CreditedFee,
    CreditNoteAmounts,
    CreditNoteBalance,
    CreditNoteValidationError,
    TaxRate,
    check_credit_note_split,
    credit_note_amounts,
)
from invoicing.calculation import (
    CreditNoteItem as CalcItem,
)
from invoicing.credits.inputs import CreditNoteCreate, CreditNoteEstimate, CreditNoteItemFields, CreditNoteUpdate
from invoicing.credits.models import (
    CreditNote,
    CreditNoteAppliedTax,
    CreditNoteConsumption,
    CreditNoteItem,
    CreditNoteReason,
    CreditStatus,
    RefundStatus,
)
from invoicing.models import (
    HIDDEN_STATUSES,
    Fee,
    FeeAppliedTax,
    FeeType,
    Invoice,
    InvoiceStatus,
    InvoiceType,
    PaymentStatus,
)
from invoicing.signals import credit_note_created, credit_note_refund_requested
from webhooks.services import webhook_send_row

if TYPE_CHECKING:
    from invoicing.credits.representation import CreditNoteEstimateShape

PRECISE = Decimal("0.00001")


def _send(note: CreditNote, webhook_type: str) -> None:
    from invoicing.credits.representation import credit_note_payload

    webhook_send_row(note, webhook_type, "credit_note", credit_note_payload)


def _locked_invoice(organization: Organization, invoice_id: UUID | str) -> Invoice:
    invoice = first_with_id(
        Invoice.objects.select_for_update(of=("self",))
        .select_related("organization", "customer__organization")
        .filter(organization=organization),
        invoice_id,
    )
    if invoice is None or invoice.status in HIDDEN_STATUSES:
        raise NotFoundFailure("invoice")
    return invoice


def _credited_fees(invoice: Invoice) -> dict[str, tuple[Fee, CreditedFee]]:
    fees = list(Fee.objects.filter(invoice=invoice).order_by("created_at", "id"))
    taxes: dict[Any, list[TaxRate]] = {f.id: [] for f in fees}
    for row in FeeAppliedTax.objects.filter(fee__invoice=invoice).order_by("created_at", "id"):
        taxes[row.fee_id].append(TaxRate(row.tax_code, Decimal(row.tax_rate), row.tax_name, row.tax_description))
    credited = dict(
        CreditNoteItem.objects.filter(fee__invoice=invoice)
        .values("fee_id")
        .annotate(total=Sum("amount_cents"))
        .values_list("fee_id", "total")
    )
    return {
        str(f.id): (
            f,
            CreditedFee(
                id=str(f.id),
                amount_cents=int(f.amount_cents),
                precise_coupons_amount_cents=Decimal(f.precise_coupons_amount_cents),
                taxes=tuple(taxes[f.id]),
                creditable_amount_cents=max(int(f.amount_cents) - int(credited.get(f.id) or 0), 0),
            ),
        )
        for f in fees
    }


def max_refundable_amount_cents(invoice: Invoice) -> int:
    """A refund needs a paid invoice, up to what was paid less earlier refunds."""
    if invoice.payment_status != PaymentStatus.SUCCEEDED:
        return 0
    refunded = CreditNote.objects.filter(invoice=invoice).aggregate(total=Sum("refund_amount_cents"))["total"] or 0
    return max(int(invoice.total_paid_amount_cents or invoice.total_amount_cents) - int(refunded), 0)


def max_offsettable_amount_cents(invoice: Invoice) -> int:
    """An offset reduces what is still due on the invoice (`total_due_amount_cents`)."""
    if invoice.payment_status == PaymentStatus.SUCCEEDED:
        return 0
    return invoice.total_due_amount_cents


def _calc_items(items: Sequence[CreditNoteItemFields]) -> list[CalcItem]:
    return [CalcItem(fee_id=item.fee_id, amount_cents=item.amount_cents) for item in items]


def _amounts(invoice: Invoice, items: list[CalcItem]) -> tuple[CreditNoteAmounts, dict[str, Fee]]:
    if invoice.status != InvoiceStatus.FINALIZED:
        raise NotAllowedFailure("invalid_invoice_status")
    if invoice.invoice_type == InvoiceType.CREDIT:
        raise NotAllowedFailure("invalid_type_or_status")
    fees = _credited_fees(invoice)
    try:
        amounts = credit_note_amounts([c for _, c in fees.values()], items)
    except CreditNoteValidationError as exc:
        if exc.errors.get("fee") == ["not_found"]:
            raise NotFoundFailure("fee") from exc
        raise ValidationFailure(exc.errors) from exc
    return amounts, {k: f for k, (f, _) in fees.items()}


def credit_note_estimate(organization: Organization, request: CreditNoteEstimate) -> CreditNoteEstimateShape:
    """`POST /credit_notes/estimate`: the amounts and the most that may be credited/refunded/offset."""
    from invoicing.representation import number

    calc_items = _calc_items(request.items)
    with transaction.atomic():
        invoice = _locked_invoice(organization, request.invoice_id)
        amounts, _ = _amounts(invoice, calc_items)
        refundable = max_refundable_amount_cents(invoice)
        offsettable = max_offsettable_amount_cents(invoice)
    return {
        "lago_invoice_id": str(invoice.id),
        "invoice_number": invoice.number,
        "currency": invoice.currency,
        "taxes_amount_cents": amounts.taxes_amount_cents,
        "precise_taxes_amount_cents": str(amounts.precise_taxes_amount_cents.quantize(PRECISE)),
        "taxes_rate": number(amounts.taxes_rate),
        "sub_total_excluding_taxes_amount_cents": amounts.sub_total_excluding_taxes_amount_cents,
        "max_creditable_amount_cents": amounts.total_amount_cents,
        "max_refundable_amount_cents": min(amounts.total_amount_cents, refundable),
        "max_offsettable_amount_cents": min(amounts.total_amount_cents, offsettable),
        "coupons_adjustment_amount_cents": amounts.coupons_adjustment_amount_cents,
        "precise_coupons_adjustment_amount_cents": str(
            amounts.precise_coupons_adjustment_amount_cents.quantize(PRECISE)
        ),
        "items": [{"lago_fee_id": i.fee_id, "amount_cents": i.amount_cents} for i in amounts.items],
        "applied_taxes": [
            {
                "lago_tax_id": None,
                "tax_name": t.tax_name,
                "tax_code": t.tax_code,
                "tax_rate": number(t.tax_rate),
                "tax_description": t.tax_description or None,
                "amount_cents": t.amount_cents,
                "amount_currency": invoice.currency,
                "base_amount_cents": t.base_amount_cents,
            }
            for t in amounts.applied_taxes
        ],
    }


def _create(
    invoice: Invoice,
    amounts: CreditNoteAmounts,
    fees: dict[str, Fee],
    *,
    credit: int,
    refund: int,
    offset: int,
    reason: str,
    description: str,
    metadata: dict,
    automatic: bool,
    now: dt.datetime,
) -> CreditNote:
    sequence = CreditNote.objects.filter(invoice=invoice).count() + 1
    if offset > 0:  # the invoice row is locked by the caller
        invoice.total_offsetted_credit_note_amount_cents += offset
        invoice.save(update_fields=["total_offsetted_credit_note_amount_cents", "updated_at"])
    note = CreditNote.objects.create(
        organization=invoice.organization,
        customer=invoice.customer,
        invoice=invoice,
        sequential_id=sequence,
        number=f"{invoice.number}-CN{sequence:03d}",
        issuing_date=now.date(),
        credit_status=CreditStatus.AVAILABLE if credit > 0 else None,
        refund_status=RefundStatus.PENDING if refund > 0 else None,
        reason=reason,
        description=description or "",
        currency=invoice.currency,
        total_amount_cents=credit + refund + offset,
        credit_amount_cents=credit,
        balance_amount_cents=credit,
        refund_amount_cents=refund,
        offset_amount_cents=offset,
        taxes_amount_cents=amounts.taxes_amount_cents,
        precise_taxes_amount_cents=amounts.precise_taxes_amount_cents.quantize(PRECISE),
        taxes_rate=amounts.taxes_rate,
        sub_total_excluding_taxes_amount_cents=amounts.sub_total_excluding_taxes_amount_cents,
        coupons_adjustment_amount_cents=amounts.coupons_adjustment_amount_cents,
        precise_coupons_adjustment_amount_cents=amounts.precise_coupons_adjustment_amount_cents.quantize(PRECISE),
        metadata=metadata or {},
        automatic=automatic,
    )
    CreditNoteItem.objects.bulk_create(
        [
            CreditNoteItem(
                organization=invoice.organization,
                credit_note=note,
                fee=fees[item.fee_id],
                amount_cents=item.amount_cents,
                precise_amount_cents=item.precise_amount_cents.quantize(PRECISE),
                amount_currency=invoice.currency,
            )
            for item in amounts.items
        ]
    )
    tax_ids = dict(
        FeeAppliedTax.objects.filter(fee__invoice=invoice, tax_id__isnull=False).values_list("tax_code", "tax_id")
    )
    CreditNoteAppliedTax.objects.bulk_create(
        [
            CreditNoteAppliedTax.copied(
                t,
                tax_id=tax_ids.get(t.tax_code),
                currency=invoice.currency,
                organization=invoice.organization,
                credit_note=note,
                base_amount_cents=t.base_amount_cents,
            )
            for t in amounts.applied_taxes
        ]
    )
    _send(note, "credit_note.created")
    note_id = str(note.id)
    transaction.on_commit(lambda: _enqueue_pdf(note_id))
    credit_note_created.send(sender=CreditNote, credit_note=note, organization=invoice.organization)
    if refund > 0:
        credit_note_refund_requested.send(sender=CreditNote, credit_note=note, organization=invoice.organization)
    return note


def _enqueue_pdf(note_id: str) -> None:
    from invoicing.credits import tasks as credit_tasks

    credit_tasks.credit_note_generate_pdf.delay(note_id)


def credit_note_create(
    organization: Organization, note: CreditNoteCreate, *, now: dt.datetime | None = None
) -> CreditNote:
    """`POST /credit_notes`: issue a credit note on a finalized invoice (its row locked meanwhile)."""
    now = now or timezone.now()
    parts = {
        "credit_amount_cents": note.credit_amount_cents,
        "refund_amount_cents": note.refund_amount_cents,
        "offset_amount_cents": note.offset_amount_cents,
    }
    calc_items = _calc_items(note.items)
    with transaction.atomic():
        invoice = _locked_invoice(organization, note.invoice_id)
        amounts, fees = _amounts(invoice, calc_items)
        errors: dict[str, list[str]] = {}
        try:
            check_credit_note_split(amounts, **parts, max_refundable_amount_cents=max_refundable_amount_cents(invoice))
        except CreditNoteValidationError as exc:
            errors.update(exc.errors)
        if note.offset_amount_cents > max_offsettable_amount_cents(invoice):
            errors.setdefault("offset_amount_cents", []).append("higher_than_remaining_invoice_amount")
        if errors:
            raise ValidationFailure(errors)
        return _create(
            invoice,
            amounts,
            fees,
            credit=note.credit_amount_cents,
            refund=note.refund_amount_cents,
            offset=note.offset_amount_cents,
            reason=note.reason,
            description=note.description,
            metadata=dict(note.metadata),
            automatic=False,
            now=now,
        )


def credit_note_void(
    organization: Organization, *, credit_note_id: UUID | str, now: dt.datetime | None = None
) -> CreditNote:
    """`PUT /credit_notes/{id}/void`: the remaining balance is gone (`voided`, balance 0)."""
    now = now or timezone.now()
    with transaction.atomic():
        note = _locked_note(organization, credit_note_id)
        if note.credit_status != CreditStatus.AVAILABLE or note.balance_amount_cents <= 0:
            raise NotAllowedFailure("no_voidable_amount")
        note.credit_status = CreditStatus.VOIDED
        note.balance_amount_cents = 0
        note.voided_at = now
        note.save(update_fields=["credit_status", "balance_amount_cents", "voided_at", "updated_at"])
        _send(note, "credit_note.updated")
    return note


def _locked_note(organization: Organization, credit_note_id: UUID | str) -> CreditNote:
    from invoicing.credits.selectors import credit_note_get

    found = credit_note_get(organization, credit_note_id)
    return (
        CreditNote.objects.select_for_update(of=("self",))
        .select_related("organization", "invoice", "customer")
        .get(id=found.id)
    )


def credit_note_update(
    organization: Organization,
    *,
    credit_note_id: UUID | str,
    fields: CreditNoteUpdate,
    now: dt.datetime | None = None,
) -> CreditNote:
    """`PUT /credit_notes/{id}`: the refund status (manual settlement) and metadata."""
    now = now or timezone.now()
    refund_status = fields.refund_status
    with transaction.atomic():
        note = _locked_note(organization, credit_note_id)
        update = ["updated_at"]
        if refund_status is not None:
            if note.refund_amount_cents <= 0:
                raise ValidationFailure.single("refund_status", "value_is_invalid")
            note.refund_status = refund_status
            note.refunded_at = now if refund_status == RefundStatus.SUCCEEDED else None
            update += ["refund_status", "refunded_at"]
        if fields.metadata is not None:
            note.metadata = dict(fields.metadata)
            update.append("metadata")
        note.save(update_fields=update)
        if refund_status is not None:
            _send(note, "credit_note.updated")
    return note


def credit_note_refund_settle(
    credit_note_id: UUID | str, *, succeeded: bool, now: dt.datetime | None = None
) -> CreditNote:
    """For the payments app: the provider settled (or failed) the refund. Safe to call twice."""
    now = now or timezone.now()
    with transaction.atomic():
        note = CreditNote.objects.select_for_update().select_related("organization").get(id=credit_note_id)
        if note.refund_status != RefundStatus.PENDING:
            return note
        note.refund_status = RefundStatus.SUCCEEDED if succeeded else RefundStatus.FAILED
        note.refunded_at = now if succeeded else None
        note.save(update_fields=["refund_status", "refunded_at", "updated_at"])
        _send(note, "credit_note.updated")
    return note


# ------------------------------------------------------------------------------- invoices


def credit_notes_for_invoice(invoice: Invoice) -> tuple[list[CreditNoteBalance], dict[str, CreditNote]]:
    """The customer's available credit notes in the invoice currency, locked, oldest first."""
    notes = list(
        CreditNote.objects.select_for_update(of=("self",))
        .filter(
            customer_id=invoice.customer_id,
            currency=invoice.currency,
            credit_status=CreditStatus.AVAILABLE,
            balance_amount_cents__gt=0,
        )
        .exclude(invoice_id=invoice.id)
        .order_by("created_at", "id")
    )
    return (
        [
            CreditNoteBalance(id=str(n.id), balance_amount_cents=int(n.balance_amount_cents), number=n.number)
            for n in notes
        ],
        {str(n.id): n for n in notes},
    )


def credit_notes_consume(
    invoice: Invoice, note_credits: Any, notes: dict[str, CreditNote], *, now: dt.datetime
) -> None:
    for credit in note_credits:
        if credit.amount_cents <= 0:
            continue
        note = notes[credit.credit_note_id]
        CreditNoteConsumption.objects.create(
            organization_id=note.organization_id, credit_note=note, invoice=invoice, amount_cents=credit.amount_cents
        )
        note.balance_amount_cents -= credit.amount_cents
        if note.balance_amount_cents <= 0:
            note.balance_amount_cents = 0
            note.credit_status = CreditStatus.CONSUMED
        note.save(update_fields=["balance_amount_cents", "credit_status", "updated_at"])


def credit_notes_restore_for_voided_invoice(invoice: Invoice, *, now: dt.datetime) -> int:
    """§6.7: voiding an invoice gives the credit-note balances it consumed back (once)."""
    restored = 0
    for used in CreditNoteConsumption.objects.filter(invoice=invoice, restored=False).order_by("created_at", "id"):
        note = CreditNote.objects.select_for_update().get(id=used.credit_note_id)
        if note.credit_status == CreditStatus.VOIDED:
            continue
        if CreditNoteConsumption.objects.filter(credit_note=note, invoice=invoice, restored=True).exists():
            continue
        CreditNoteConsumption.objects.create(
            organization_id=note.organization_id,
            credit_note=note,
            invoice=invoice,
            amount_cents=used.amount_cents,
            restored=True,
        )
        note.balance_amount_cents = min(note.balance_amount_cents + used.amount_cents, note.credit_amount_cents)
        note.credit_status = CreditStatus.AVAILABLE
        note.save(update_fields=["balance_amount_cents", "credit_status", "updated_at"])
        restored += 1
    return restored


# ------------------------------------------------------------------------------- automatic notes


def credit_note_create_for_termination(
    subscription: Any,
    *,
    terminated_at: dt.datetime | None = None,
    method: str | None = None,
    reason: str | None = None,
    now: dt.datetime | None = None,
) -> CreditNote | None:
    """§5.6/§5.7/§5.9: the unused days of in-advance fees already invoiced are credited.

    The subscription's last finalized base fee whose service period contains `terminated_at`
    (default: the subscription's), and its in-advance fixed charge fees of the fixed charges'
    period holding it (the opening fee and the increases billed since), are each credited
    `amount × unused days / days the fee covers` (the termination day counts as used, except on a
    plan change), capped by what is still creditable; one credit note per invoice. On a plan change
    the fixed charges that the new plan deducts from its first fee (`fixed_charges.
    previous_paid_cents`) are not credited. `method` is the subscription's
    `on_termination_credit_note` (`credit` by default, `refund` for what was paid, `offset` for
    what is still due; the rest stays a credit; `skip` issues nothing). Upgrades give reason
    `order_change`, other terminations `order_cancellation`. Returns the base fee's note, else the
    first created. Safe to call twice: a fee credited by an automatic note is not credited again.
    """
    now = now or timezone.now()
    terminated_at = terminated_at or subscription.terminated_at or now
    method = method or subscription.on_termination_credit_note or "credit"
    if method == "skip":
        return None
    plan_change = bool(getattr(subscription, "replaced_by_plan_change", False))
    if reason is None:
        reason = CreditNoteReason.ORDER_CHANGE if plan_change else CreditNoteReason.ORDER_CANCELLATION
    unused = _unused_in_advance(subscription, terminated_at, plan_change)
    by_invoice: dict[Any, list[tuple[Fee, Decimal]]] = {}
    for fee, precise in unused:
        by_invoice.setdefault(fee.invoice_id, []).append((fee, precise))
    notes = []
    for pairs in by_invoice.values():
        note = _termination_note(pairs, method=method, reason=reason, now=now)
        if note is not None:
            notes.append(note)
    return notes[0] if notes else None


def _unused_in_advance(subscription: Any, terminated_at: dt.datetime, plan_change: bool) -> list[tuple[Fee, Decimal]]:
    """(fee, precise amount to credit) for the base fee, then the fixed charge fees, not yet credited."""
    from invoicing.billing.fixed_charges import deducted_by_next_plan, unused_share
    from subscriptions import periods

    rows = (
        Fee.objects.filter(
            Q(fee_type=FeeType.SUBSCRIPTION, pay_in_advance=True)
            | Q(fee_type=FeeType.FIXED_CHARGE, pay_in_advance=True),
            subscription=subscription,
            invoice__status=InvoiceStatus.FINALIZED,
            amount_cents__gt=0,
        )
        .select_related("invoice__customer__organization", "fixed_charge")
        .order_by("-created_at")
    )
    base: list[tuple[Fee, Decimal]] = []
    fixed: list[tuple[Fee, Decimal]] = []
    base_seen = 0
    for fee in rows[:50]:
        props = fee.properties or {}
        try:
            start = dt.datetime.fromisoformat(props["from_datetime"])
            end = dt.datetime.fromisoformat(props["to_datetime"])
            period_start = dt.datetime.fromisoformat(props.get("fixed_charges_from_datetime") or props["from_datetime"])
            period_end = dt.datetime.fromisoformat(props.get("fixed_charges_to_datetime") or props["to_datetime"])
        except (KeyError, TypeError, ValueError):
            continue
        if fee.fee_type == FeeType.SUBSCRIPTION:
            base_seen += 1
            if base or base_seen > 3 or not start <= terminated_at < end:
                continue
        elif not period_start <= terminated_at < period_end or (
            plan_change and deducted_by_next_plan(subscription, fee)
        ):
            continue
        share = unused_share(
            periods.Window(start, end), terminated_at, fee.invoice.customer.applicable_timezone, plan_change=plan_change
        )
        if share <= 0:
            continue
        precise = Decimal(fee.amount_cents) * share.numerator / share.denominator
        (base if fee.fee_type == FeeType.SUBSCRIPTION else fixed).append((fee, precise))
    return [*base, *reversed(fixed)]


def _termination_note(
    pairs: list[tuple[Fee, Decimal]], *, method: str, reason: str, now: dt.datetime
) -> CreditNote | None:
    """One automatic credit note on the invoice of `pairs`' fees (under its row lock)."""
    first = pairs[0][0]
    assert first.invoice_id is not None  # the fees being credited are on an invoice
    with transaction.atomic():
        invoice = _locked_invoice(first.invoice.organization, first.invoice_id)
        credited = _credited_fees(invoice)
        items = []
        for fee, precise in pairs:
            if CreditNoteItem.objects.filter(fee=fee, credit_note__automatic=True).exists():
                continue  # already credited for this termination
            creditable = credited[str(fee.id)][1].creditable_amount_cents or 0
            if creditable > 0:
                items.append(CalcItem(fee_id=str(fee.id), amount_cents=min(precise, Decimal(creditable))))
        if not items:
            return None
        amounts, fee_rows = _amounts(invoice, items)
        total = amounts.total_amount_cents
        if total <= 0:
            return None
        refund = min(total, max_refundable_amount_cents(invoice)) if method == "refund" else 0
        offset = min(total, max_offsettable_amount_cents(invoice)) if method == "offset" else 0
        return _create(
            invoice,
            amounts,
            fee_rows,
            credit=total - refund - offset,
            refund=refund,
            offset=offset,
            reason=reason,
            description="",
            metadata={},
            automatic=True,
            now=now,
        )
