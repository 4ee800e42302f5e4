"""Refunds of credit notes through the provider that took the payment.

The Refund row (idempotency key from its own id) is committed before the provider is called, as
for charges; the provider's answer, or its later webhook (`charge.refunded`, `refund.updated`),
sets the refund status, which is copied to the credit note by invoicing's settle function."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any
from uuid import UUID

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from billing_project.core.bulk import update_rows
from billing_project.core.errors import NotAllowedFailure, NotFoundFailure, ProviderFailure
from customers.models import Organization
from invoicing.credits.models import RefundStatus
from payments.models import Payment, PaymentStatus, PaymentType, Refund
from payments.providers import ProviderError, RefundResult, TransientProviderError, provider_for
from payments.services import notifications


def _refundable_payments(invoice_id: UUID | str) -> list[Payment]:
    return list(
        Payment.objects.select_related("connection")
        .filter(invoice_id=invoice_id, status=PaymentStatus.SUCCEEDED)
        .order_by("-paid_at", "-created_at")
    )


def credit_note_refund(
    organization: Organization, *, credit_note_id: UUID | str, now: dt.datetime | None = None
) -> list[Refund]:
    """Refund a credit note's refund part (safe to run twice: one Refund per credit note and payment).

    The amount is taken from the invoice's succeeded payments, most recent first, each up to what
    it has left to refund. A manual payment gives a `pending` refund settled by hand."""
    from invoicing.credits.models import CreditNote

    now = now or timezone.now()
    note = CreditNote.objects.filter(organization=organization, id=credit_note_id).first()
    if note is None:
        raise NotFoundFailure("credit_note")
    if note.refund_amount_cents <= 0 or note.voided_at is not None:
        raise NotAllowedFailure("no_refund_amount")
    created: list[Refund] = []
    with transaction.atomic():
        existing = list(Refund.objects.filter(credit_note=note))
        remaining = note.refund_amount_cents - sum(r.amount_cents for r in existing)
        for payment in _refundable_payments(note.invoice_id):
            if remaining <= 0:
                break
            if any(r.payment_id == payment.id for r in existing):
                continue
            already = (
                Refund.objects.filter(payment=payment)
                .exclude(status=RefundStatus.FAILED)
                .aggregate(total=Sum("amount_cents"))["total"]
                or 0
            )
            available = payment.amount_cents - int(already)
            amount = min(available, remaining)
            if amount <= 0:
                continue
            refund_id = uuid.uuid4()
            try:
                with transaction.atomic():
                    refund = Refund.objects.create(
                        id=refund_id,
                        organization_id=note.organization_id,
                        payment=payment,
                        credit_note=note,
                        amount_cents=amount,
                        currency=note.currency,
                        idempotency_key=f"bxb_refund_{refund_id}",
                    )
            except IntegrityError:
                continue  # a concurrent run created it
            created.append(refund)
            remaining -= amount
    for refund in created:
        refund_submit(refund.id, now=now)
    return list(Refund.objects.filter(credit_note=note))


def refund_submit(refund_id: UUID | str, *, now: dt.datetime | None = None) -> Refund:
    """Send a pending refund to the provider (again with the same key if need be)."""
    now = now or timezone.now()
    refund = Refund.objects.select_related("payment__connection").get(id=refund_id)
    if refund.status != RefundStatus.PENDING or refund.provider_refund_id:
        return refund
    payment = refund.payment
    if payment.payment_type == PaymentType.MANUAL or payment.connection is None:
        return refund  # settled by hand (PUT /credit_notes/{id} refund_status)
    try:
        result = provider_for(payment.connection).refund(
            provider_payment_id=payment.provider_payment_id,
            amount_cents=refund.amount_cents,
            currency=refund.currency,
            idempotency_key=refund.idempotency_key,
            metadata={"bxb_refund_id": str(refund.id), "bxb_credit_note_id": str(refund.credit_note_id or "")},
        )
    except TransientProviderError:
        return refund  # still pending; the sweeper submits it again with the same key
    except ProviderError as exc:
        result = RefundResult(status="failed", error_message=str(exc))
        refund_record_result(refund.id, result, now=now)
        raise ProviderFailure(payment.connection.code, {"message": str(exc)}) from exc
    return refund_record_result(refund.id, result, now=now)


def refund_record_result(refund_id: UUID | str, result: RefundResult, *, now: dt.datetime | None = None) -> Refund:
    now = now or timezone.now()
    with transaction.atomic():
        refund = Refund.objects.select_for_update().select_related("payment").get(id=refund_id)
        if result.provider_refund_id and not refund.provider_refund_id:
            refund.provider_refund_id = result.provider_refund_id
        if refund.status != RefundStatus.PENDING or result.status == RefundStatus.PENDING:
            refund.save(update_fields=["provider_refund_id", "updated_at"])
            return refund
        refund.status = result.status
        refund.error_message = result.error_message
        refund.settled_at = now
        refund.save()
        if result.status == RefundStatus.SUCCEEDED:
            update_rows(
                Payment.objects.filter(id=refund.payment_id),
                refunded_amount_cents=refund.payment.refunded_amount_cents + refund.amount_cents,
            )
        if refund.credit_note_id:
            _settle_credit_note(refund, now)
        notifications.payment_webhook(refund.payment, f"payment.refund_{result.status}")
    return refund


def _settle_credit_note(refund: Refund, now: dt.datetime) -> None:
    """Copy the outcome to the credit note once every refund of it is settled: any failure fails
    it, else it succeeded."""
    assert refund.credit_note_id is not None  # called for refunds of a credit note only
    statuses = set(Refund.objects.filter(credit_note_id=refund.credit_note_id).values_list("status", flat=True))
    if RefundStatus.PENDING in statuses:
        return
    from invoicing.credits.services.credit_notes import credit_note_refund_settle

    credit_note_refund_settle(refund.credit_note_id, succeeded=RefundStatus.FAILED not in statuses, now=now)


def refunds_pending(now: dt.datetime) -> Any:
    """Refunds never submitted to their provider 15 minutes after they were created."""
    return Refund.objects.filter(
        status=RefundStatus.PENDING, provider_refund_id="", created_at__lte=now - dt.timedelta(minutes=15)
    )


def refunds_retry_pending(now: dt.datetime | None = None) -> int:
    now = now or timezone.now()
    ids = list(refunds_pending(now).values_list("id", flat=True))
    for refund_id in ids:
        try:
            refund_submit(refund_id, now=now)
        except ProviderFailure:
            continue
    return len(ids)
