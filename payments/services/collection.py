"""Collecting invoices: payment attempts at the provider, their results, the retry schedule,
`retry_payment`, `payment_url` and manual payments.

How a charge is made so that nothing is charged twice (docs/payments.md):
1. `invoice_collect` locks the invoice and creates a `pending` Payment whose idempotency key is
   derived from its own id; the partial unique constraint allows one in-flight attempt per invoice.
   That row is committed *before* the provider is called.
2. `payment_submit` (a task) calls the provider with that key, outside any transaction. A timeout,
   a 5xx or a worker killed before step 3 leaves the row `pending`; submitting it again replays the
   same key, so the provider returns the first PaymentIntent instead of charging again.
3. `payment_record_result` locks the payment and applies the answer (also used by webhooks);
   a payment never goes back from `succeeded`, and applying the same answer twice changes nothing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from celery.exceptions import Retry
from django.conf import settings
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from billing_project.core import metrics
from billing_project.core.actor import current_actor
from billing_project.core.bulk import update_rows
from billing_project.core.errors import NotAllowedFailure, ProviderFailure, ValidationFailure
from billing_project.core.found import first_with_id, found
from billing_project.core.models import save_unique
from customers.models import Organization
from customers.payment_choice import PaymentMethodChoice, PaymentMethodInput, payment_method_choose
from invoicing.credits import selectors as credits_selectors
from invoicing.credits.models import TransactionSettlement, TransactionStatus, WalletTransaction
from invoicing.models import HIDDEN_STATUSES, Invoice, InvoiceStatus
from invoicing.models import PaymentStatus as InvoicePaymentStatus
from invoicing.services import lifecycle
from payments.models import (
    FINAL,
    IN_FLIGHT,
    EmailKind,
    Payment,
    PaymentMethod,
    PaymentOrigin,
    PaymentProviderConnection,
    PaymentRequest,
    PaymentStatus,
    PaymentType,
)
from payments.providers import ChargeRequest, ChargeResult, ProviderError, TransientProviderError, provider_for
from payments.services import emails, notifications, receipts
from payments.services.connections import connection_for_customer
from payments.services.method_choice import DeterminedMethod, payment_method_determine

logger = logging.getLogger(__name__)

SCHEDULED_ORIGINS = [PaymentOrigin.AUTOMATIC, PaymentOrigin.RETRY]
STALE_PENDING_AFTER = dt.timedelta(minutes=15)
RECONCILE_AFTER = dt.timedelta(hours=1)
ABANDONED_ACTION_AFTER = dt.timedelta(hours=24)


def retry_schedule_days() -> list[int]:
    return [int(day) for day in getattr(settings, "PAYMENTS_RETRY_SCHEDULE_DAYS", [1, 3, 5, 7])]


def _enqueue_submit(payment_id: UUID | str) -> None:
    pid = str(payment_id)
    transaction.on_commit(lambda: _submit_later(pid))


def _submit_later(payment_id: str) -> None:
    """Enqueue the submission. Run eagerly (no broker), a provider outage must not fail the
    caller's request: the attempt stays `pending` and the retry sweeper submits it again."""
    from payments import tasks

    try:
        tasks.submit_payment.delay(payment_id)
    except (TransientProviderError, Retry):  # Retry: Celery's eager autoretry
        logger.warning("payment submission deferred", extra={"payment_id": payment_id})


def _collectable(invoice: Invoice | None) -> bool:
    return (
        invoice is not None
        and invoice.status == InvoiceStatus.FINALIZED
        and invoice.payment_status != InvoicePaymentStatus.SUCCEEDED
        and invoice.total_due_amount_cents > 0
    )


@dataclass(frozen=True)
class MethodToCharge:
    """A method a charge is made with: its id at the provider and, when it is one of our saved
    methods, that method's `lago_id` (Lago's `payment_method_id` of the payment)."""

    provider_method_id: str
    payment_method_id: UUID | None = None


def default_method(customer: Any, connection: Any) -> MethodToCharge | None:
    """The customer's default saved method; else the provider's default for that customer."""
    method = PaymentMethod.objects.filter(customer=customer, connection=connection, is_default=True).first()
    if method is not None:
        return MethodToCharge(method.provider_method_id, method.id)
    if not customer.provider_customer_id:
        return None
    try:
        found = provider_for(connection).default_payment_method(provider_customer_id=customer.provider_customer_id)
    except (ProviderError, TransientProviderError):
        return None
    return MethodToCharge(found) if found else None


def automatic_source(
    customer: Any, determine: Callable[[], DeterminedMethod]
) -> tuple[PaymentProviderConnection, MethodToCharge] | None:
    """The connection and saved method to charge `customer` from without them (the method
    `determine()` chose, `method_to_charge`), or None: no provider, one that does not collect
    automatically (manual), no provider customer, `manual` chosen, no method."""
    connection = connection_for_customer(customer)
    if connection is None or not provider_for(connection).collects_automatically:
        return None
    if not customer.provider_customer_id:
        return None
    method = method_to_charge(determine(), customer, connection)
    return (connection, method) if method else None


def new_payment(
    document: Invoice | PaymentRequest,
    customer: Any,
    origin: str,
    status: str,
    *,
    connection: Any = None,
    method: MethodToCharge | None = None,
    **fields: Any,
) -> Payment:
    """An unsaved payment of `document` (an invoice, or the payment request of dunning), the one
    place a `Payment` is built: in the document's organization and currency, for what the document
    asks (`total_due_amount_cents` of an invoice, `amount_cents` of a request) unless `fields` says
    `amount_cents`; a provider payment through `connection` (charging `method`, for the provider
    customer of `customer`) unless `origin` is manual. The idempotency key derives from the new id
    (`bxb_payment_<id>`) and the actor is the current one, unless `fields` gives them."""
    payment_id = uuid.uuid4()
    if isinstance(document, Invoice):
        values: dict[str, Any] = {"invoice": document, "amount_cents": document.total_due_amount_cents}
    else:
        values = {"payment_request": document, "amount_cents": document.amount_cents}
    if connection is not None:
        values.update(connection=connection, provider_customer_id=customer.provider_customer_id or "")
    if method is not None:
        values.update(provider_method_id=method.provider_method_id, payment_method_id=method.payment_method_id)
    values.update(idempotency_key=f"bxb_payment_{payment_id}", actor=current_actor().trail_label)
    values.update(fields)
    manual = origin == PaymentOrigin.MANUAL
    return Payment(
        id=payment_id,
        organization_id=document.organization_id,
        customer=customer,
        payment_type=PaymentType.MANUAL if manual else PaymentType.PROVIDER,
        origin=origin,
        status=status,
        currency=document.currency,
        **values,
    )


def method_to_charge(determined: DeterminedMethod, customer: Any, connection: Any) -> MethodToCharge | None:
    """The method to charge (`payments.services.method_choice` decided which), or None when
    nothing is charged automatically (`manual`, a chosen method gone or at another provider
    connection, no default method)."""
    if not determined.chargeable:
        return None
    if determined.method is None:
        return default_method(customer, connection)
    if determined.method.connection_id != connection.id:
        logger.warning(
            "chosen payment method is at another provider connection",
            extra={"customer_id": str(customer.pk), "payment_method_id": str(determined.method.id)},
        )
        return None
    return MethodToCharge(determined.method.provider_method_id, determined.method.id)


def invoice_collect(
    invoice_id: UUID | str,
    *,
    origin: str = PaymentOrigin.AUTOMATIC,
    now: dt.datetime | None = None,
    override: PaymentMethodChoice | None = None,
) -> Payment | None:
    """Start one provider attempt for the invoice's amount due, with the method chosen for it
    (`payments.services.method_choice.payment_method_determine`; `override`: the `payment_method`
    of a `retry_payment`), else the customer's default.

    Returns the new pending attempt (its submission is enqueued on commit), the attempt already in
    flight, or None when there is nothing to charge or no way to charge it (no provider, manual
    provider, no provider customer, `manual` chosen, no saved method: the invoice waits for
    `payment_url` or a manual payment).
    """
    now = now or timezone.now()
    invoice = Invoice.objects.select_related("customer", "organization").filter(id=invoice_id).first()
    if not _collectable(invoice):
        return None
    assert invoice is not None
    customer, found = invoice.customer, invoice
    source = automatic_source(customer, lambda: payment_method_determine(found, override=override))
    if source is None:
        return None
    connection, method = source
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update(of=("self",)).get(id=invoice.id)
        if not _collectable(invoice):
            return None
        in_flight = Payment.objects.filter(
            invoice=invoice, payment_type=PaymentType.PROVIDER, status__in=IN_FLIGHT
        ).first()
        if in_flight is not None:
            return in_flight
        payment = new_payment(invoice, customer, origin, PaymentStatus.PENDING, connection=connection, method=method)
        payment.save(force_insert=True)
        _enqueue_submit(payment.id)
    return payment


def _description(payment: Payment) -> str:
    if payment.invoice_id:
        return f"Invoice {payment.invoice.number}"
    return f"Payment request {payment.payment_request_id}"


def payment_submit(payment_id: UUID | str, *, now: dt.datetime | None = None) -> Payment:
    """Send a pending attempt to its provider (again, with the same key, if it was sent before).

    Raises TransientProviderError when the outcome is unknown; the task retries it later.
    """
    now = now or timezone.now()
    payment = Payment.objects.select_related("connection", "invoice").get(id=payment_id)
    if payment.status != PaymentStatus.PENDING or payment.payment_type != PaymentType.PROVIDER:
        return payment
    update_rows(Payment.objects.filter(id=payment.id), submissions=F("submissions") + 1, submitted_at=now)
    provider = provider_for(payment.connection)
    metadata = {
        "bxb_payment_id": str(payment.id),
        "bxb_organization_id": str(payment.organization_id),
        "bxb_invoice_id": str(payment.invoice_id or ""),
        "bxb_payment_request_id": str(payment.payment_request_id or ""),
    }
    try:
        result = provider.charge(
            ChargeRequest(
                amount_cents=payment.amount_cents,
                currency=payment.currency,
                provider_customer_id=payment.provider_customer_id,
                payment_method_id=payment.provider_method_id,
                idempotency_key=payment.idempotency_key,
                metadata=metadata,
                description=_description(payment),
            )
        )
    except TransientProviderError as exc:
        update_rows(Payment.objects.filter(id=payment.id), error_message=str(exc)[:2000])
        transaction.on_commit(lambda: metrics.payment_attempted("error"))
        raise
    except ProviderError as exc:
        result = ChargeResult(status=PaymentStatus.FAILED, error_code=exc.code, error_message=str(exc))
    return payment_record_result(payment.id, result, now=now)


def payment_record_result(payment_id: UUID | str, result: ChargeResult, *, now: dt.datetime | None = None) -> Payment:
    """Apply the provider's answer (from the charge call or a webhook). Idempotent; never regresses
    a succeeded payment; a failed one may still succeed later (the customer completed 3DS)."""
    now = now or timezone.now()
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(id=payment_id)
        if result.provider_payment_id and not payment.provider_payment_id:
            payment.provider_payment_id = result.provider_payment_id
        new = result.status
        old = payment.status
        if old == new or old == PaymentStatus.SUCCEEDED or (old in FINAL and new != PaymentStatus.SUCCEEDED):
            payment.save(update_fields=["provider_payment_id", "updated_at"])
            return payment
        payment.status = new
        payment.error_code = result.error_code[:128]
        payment.error_message = result.error_message
        if result.next_action_url:
            payment.next_action_url = result.next_action_url
        if new == PaymentStatus.SUCCEEDED:
            payment.paid_at = now
            payment.next_retry_at = None
        elif new in (PaymentStatus.FAILED, PaymentStatus.CANCELED):
            payment.failed_at = now
        payment.save()
        if new == PaymentStatus.SUCCEEDED:
            _on_success(payment, now)
        elif new in (PaymentStatus.FAILED, PaymentStatus.CANCELED):
            _on_failure(payment, now)
        elif new == PaymentStatus.REQUIRES_ACTION:
            notifications.payment_webhook(payment, "payment.requires_action")
        transaction.on_commit(lambda: metrics.payment_attempted(new))
    return payment


# --------------------------------------------------------------------------- effects on invoices


def apply_amount_to_invoice(invoice_id: UUID | str, amount_cents: int, *, now: dt.datetime) -> Invoice:
    """Add a payment to the invoice's paid amount; fully paid settles it (`succeeded`, which also
    settles paid wallet credits through invoicing). Called inside the caller's transaction."""
    invoice = Invoice.objects.select_for_update(of=("self",)).select_related("organization").get(id=invoice_id)
    paid = min(invoice.total_amount_cents, invoice.total_paid_amount_cents + amount_cents)
    if paid >= invoice.total_amount_cents:
        if invoice.payment_status != InvoicePaymentStatus.SUCCEEDED:
            invoice = lifecycle.invoice_update(
                invoice.organization, invoice_id=invoice.id, payment_status=InvoicePaymentStatus.SUCCEEDED, now=now
            )
            lifecycle.send_invoice_webhook(invoice, "invoice.payment_status_updated")
        _cancel_waiting_attempts(invoice.id)
        return invoice
    invoice.total_paid_amount_cents = paid
    invoice.save(update_fields=["total_paid_amount_cents", "updated_at"])
    return invoice


def _cancel_waiting_attempts(invoice_id: UUID | str) -> None:
    """The invoice is paid: attempts still waiting for the customer (3DS, a hosted page) are
    canceled after commit, so the customer cannot pay it a second time there."""
    waiting = list(
        Payment.objects.filter(
            invoice_id=invoice_id, payment_type=PaymentType.PROVIDER, status=PaymentStatus.REQUIRES_ACTION
        ).values_list("id", flat=True)
    )
    for payment_id in waiting:
        transaction.on_commit(lambda pid=payment_id: payment_cancel(pid))


def _mark_invoice_failed(invoice_id: UUID | str, now: dt.datetime) -> Invoice:
    invoice = Invoice.objects.select_for_update(of=("self",)).select_related("organization").get(id=invoice_id)
    if invoice.payment_status == InvoicePaymentStatus.PENDING:
        invoice = lifecycle.invoice_update(
            invoice.organization, invoice_id=invoice.id, payment_status=InvoicePaymentStatus.FAILED, now=now
        )
        lifecycle.send_invoice_webhook(invoice, "invoice.payment_status_updated")
    return invoice


def mark_invoice_overdue(invoice: Invoice, now: dt.datetime) -> None:
    """The retry schedule is exhausted: the invoice is overdue now (and dunning may start)."""
    invoice = Invoice.objects.select_for_update(of=("self",)).select_related("organization").get(id=invoice.id)
    if invoice.payment_overdue or invoice.payment_status == InvoicePaymentStatus.SUCCEEDED:
        return
    invoice.payment_overdue = True
    invoice.payment_overdue_at = now
    invoice.save(update_fields=["payment_overdue", "payment_overdue_at", "updated_at"])
    lifecycle.send_invoice_webhook(invoice, "invoice.payment_overdue")


def _on_success(payment: Payment, now: dt.datetime) -> None:
    if payment.invoice_id:
        apply_amount_to_invoice(payment.invoice_id, payment.amount_cents, now=now)
    if payment.payment_request_id:
        request = PaymentRequest.objects.select_for_update().get(id=payment.payment_request_id)
        for invoice in request.invoices.all().order_by("issuing_date", "id"):
            if invoice.total_due_amount_cents > 0:
                apply_amount_to_invoice(invoice.id, invoice.total_due_amount_cents, now=now)
        request.payment_status = InvoicePaymentStatus.SUCCEEDED
        request.save(update_fields=["payment_status", "updated_at"])
        notifications.payment_request_webhook(request, "payment_request.payment_status_updated")
    notifications.payment_webhook(payment, "payment.succeeded")
    receipts.receipt_issue(payment)


def _on_failure(payment: Payment, now: dt.datetime) -> None:
    if payment.invoice_id:
        invoice = _mark_invoice_failed(payment.invoice_id, now)
        notifications.invoice_payment_failure(payment, invoice)
        emails.email_schedule(payment.organization, kind=EmailKind.PAYMENT_FAILED, document_id=payment.id)
        if payment.origin in SCHEDULED_ORIGINS:
            _schedule_retry(payment, invoice, now)
    if payment.payment_request_id:
        request = PaymentRequest.objects.select_for_update().get(id=payment.payment_request_id)
        request.payment_status = InvoicePaymentStatus.FAILED
        request.save(update_fields=["payment_status", "updated_at"])
        notifications.payment_request_webhook(request, "payment_request.payment_failure")
    notifications.payment_webhook(payment, "payment.failed")


def _schedule_retry(payment: Payment, invoice: Invoice, now: dt.datetime) -> None:
    """The n-th failed scheduled attempt is retried `schedule[n-1]` days later; after the last
    one the invoice is overdue."""
    schedule = retry_schedule_days()
    failed = Payment.objects.filter(
        invoice_id=invoice.id,
        payment_type=PaymentType.PROVIDER,
        origin__in=SCHEDULED_ORIGINS,
        status__in=[PaymentStatus.FAILED, PaymentStatus.CANCELED],
    ).count()
    if failed <= len(schedule):
        payment.next_retry_at = now + dt.timedelta(days=schedule[failed - 1])
        payment.save(update_fields=["next_retry_at", "updated_at"])
    else:
        mark_invoice_overdue(invoice, now)
        _fail_purchased_credits(invoice, now)


def _fail_purchased_credits(invoice: Invoice, now: dt.datetime) -> None:
    """A `credit` invoice whose retries are exhausted: its purchased credits will not arrive
    (the wallet transactions become `failed`; a later payment no longer settles them)."""
    from invoicing.credits.models import WalletTransaction
    from invoicing.credits.services.wallets import wallet_transaction_fail
    from invoicing.models import InvoiceType

    if invoice.invoice_type != InvoiceType.CREDIT:
        return
    pending = WalletTransaction.objects.filter(invoice_id=invoice.id, status="pending").values_list("id", flat=True)
    for tx_id in list(pending):
        wallet_transaction_fail(tx_id, now=now)


def payments_retry_candidates(now: dt.datetime) -> QuerySet[Payment]:
    """Failed or canceled attempts whose retry is due (`payments_retry_due`; `retry_payments --dry-run`)."""
    return Payment.objects.filter(next_retry_at__lte=now, status__in=[PaymentStatus.FAILED, PaymentStatus.CANCELED])


def payments_stale_pending(now: dt.datetime) -> QuerySet[Payment]:
    """Attempts left `pending` (a worker died or the provider timed out), submitted again."""
    return Payment.objects.filter(
        status=PaymentStatus.PENDING, payment_type=PaymentType.PROVIDER, created_at__lte=now - STALE_PENDING_AFTER
    )


def payments_to_reconcile(now: dt.datetime) -> QuerySet[Payment]:
    """Provider attempts still processing or awaiting action long after they started (`payments_reconcile`)."""
    return (
        Payment.objects.select_related("connection")
        .filter(
            payment_type=PaymentType.PROVIDER,
            status__in=[PaymentStatus.PROCESSING, PaymentStatus.REQUIRES_ACTION],
            updated_at__lte=now - RECONCILE_AFTER,
        )
        .exclude(provider_payment_id="")
    )


def payments_retry_due(now: dt.datetime | None = None) -> list[Payment]:
    """Beat: failed attempts whose retry is due get a new attempt; attempts left `pending` (a
    worker died or the provider timed out) are submitted again with their own key."""
    now = now or timezone.now()
    started: list[Payment] = []
    due = list(payments_retry_candidates(now).values_list("id", flat=True))
    for payment_id in due:
        with transaction.atomic():
            payment = Payment.objects.select_for_update().get(id=payment_id)
            if payment.next_retry_at is None or payment.next_retry_at > now:
                continue
            payment.next_retry_at = None
            payment.save(update_fields=["next_retry_at", "updated_at"])
            invoice_id = payment.invoice_id
        if invoice_id:
            new = invoice_collect(invoice_id, origin=PaymentOrigin.RETRY, now=now)
            if new is not None:
                started.append(new)
    stale = payments_stale_pending(now).values_list("id", flat=True)
    for payment_id in list(stale):
        _enqueue_submit(payment_id)
    return started


def payments_reconcile(now: dt.datetime | None = None) -> int:
    """Beat: attempts still `processing` or `requires_action` an hour after their last change are
    looked up at the provider (a lost webhook never leaves them hanging). An off-session
    3DS challenge nobody completed in 24 hours is canceled, which fails the attempt and schedules
    the next retry (so it cannot block retries). Returns how many changed."""
    now = now or timezone.now()
    stale = list(payments_to_reconcile(now))
    changed = 0
    for payment in stale:
        provider = provider_for(payment.connection)
        try:
            result = provider.retrieve(provider_payment_id=payment.provider_payment_id)
            if (
                result.status == PaymentStatus.REQUIRES_ACTION
                and payment.origin != PaymentOrigin.PAYMENT_URL
                and payment.created_at <= now - ABANDONED_ACTION_AFTER
            ):
                provider.cancel(provider_payment_id=payment.provider_payment_id)
                result = ChargeResult(
                    status=PaymentStatus.CANCELED,
                    provider_payment_id=payment.provider_payment_id,
                    error_code="authentication_abandoned",
                    error_message="The customer did not complete the authentication in time.",
                )
        except (ProviderError, TransientProviderError):
            continue
        if result.status == payment.status:
            Payment.objects.filter(id=payment.id).update(updated_at=now)  # bookkeeping only: not audited
            continue
        payment_record_result(payment.id, result, now=now)
        changed += 1
    return changed


# --------------------------------------------------------------------------- API actions


def _invoice_for(organization: Organization, invoice_id: UUID | str) -> Invoice:
    invoices = (
        Invoice.objects.select_related("customer", "organization")
        .filter(organization=organization)
        .exclude(status__in=HIDDEN_STATUSES)
    )
    return found(first_with_id(invoices, invoice_id), "invoice")


def invoice_retry_payment(
    organization: Organization, *, invoice_id: UUID | str, payment_method: PaymentMethodInput | None = None
) -> Payment | None:
    """`POST /invoices/{id}/retry_payment`: a new attempt now. A payment waiting for the customer
    (3DS, hosted page) is canceled first so it can never block retries;
    one the provider is still processing answers 405. `payment_method` (Lago's override) charges
    that method this time only (`manual`: no attempt); it is checked as when stored (422
    `invalid_payment_method`)."""
    invoice = _invoice_for(organization, invoice_id)
    if invoice.status != InvoiceStatus.FINALIZED or invoice.payment_status == InvoicePaymentStatus.SUCCEEDED:
        raise NotAllowedFailure("invalid_status")
    override = None
    if payment_method is not None:
        override = payment_method_choose(invoice.customer, payment_method)
    in_flight = Payment.objects.filter(invoice=invoice, payment_type=PaymentType.PROVIDER, status__in=IN_FLIGHT).first()
    if in_flight is not None:
        if in_flight.status != PaymentStatus.REQUIRES_ACTION:
            raise NotAllowedFailure("payment_processor_is_currently_handling_payment")
        payment_cancel(in_flight.id)
    return invoice_collect(invoice.id, origin=PaymentOrigin.API_RETRY, override=override)


def payment_cancel(payment_id: UUID | str, *, now: dt.datetime | None = None) -> Payment:
    """Cancel an attempt waiting for the customer, at the provider (best effort) and here."""
    now = now or timezone.now()
    payment = Payment.objects.select_related("connection").get(id=payment_id)
    if payment.provider_payment_id and payment.connection_id:
        # Best effort: the provider's own webhook (canceled/succeeded) tells the rest.
        with contextlib.suppress(ProviderError, TransientProviderError):
            provider_for(payment.connection).cancel(provider_payment_id=payment.provider_payment_id)
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(id=payment_id)
        if payment.status in IN_FLIGHT:
            payment.status = PaymentStatus.CANCELED
            payment.failed_at = now
            payment.error_code = payment.error_code or "canceled"
            payment.save(update_fields=["status", "failed_at", "error_code", "updated_at"])
    return payment


def invoice_payment_url(organization: Organization, *, invoice_id: UUID | str) -> str:
    """`POST /invoices/{id}/payment_url`: a hosted payment page for the amount due."""
    invoice = _invoice_for(organization, invoice_id)
    if not _collectable(invoice):
        raise NotAllowedFailure("invalid_status")
    customer = invoice.customer
    connection = connection_for_customer(customer)
    if connection is None or not provider_for(connection).collects_automatically:
        raise ValidationFailure.single("base", "no_linked_payment_provider")
    if not customer.provider_customer_id:
        from payments.services.customers import provider_customer_ensure

        customer = provider_customer_ensure(customer.id)
    with transaction.atomic():
        locked = Invoice.objects.select_for_update(of=("self",)).get(id=invoice.id)
        in_flight = Payment.objects.filter(
            invoice=locked, payment_type=PaymentType.PROVIDER, status__in=IN_FLIGHT
        ).first()
        if in_flight is not None:
            if in_flight.origin == PaymentOrigin.PAYMENT_URL and in_flight.payment_url:
                return in_flight.payment_url
            raise NotAllowedFailure("payment_processor_is_currently_handling_payment")
        payment = new_payment(
            locked, customer, PaymentOrigin.PAYMENT_URL, PaymentStatus.REQUIRES_ACTION, connection=connection
        )
        payment.save(force_insert=True)
    try:
        page = ChargeRequest(
            amount_cents=payment.amount_cents,
            currency=payment.currency,
            provider_customer_id=payment.provider_customer_id,
            idempotency_key=payment.idempotency_key,
            metadata={
                "bxb_payment_id": str(payment.id),
                "bxb_organization_id": str(payment.organization_id),
                "bxb_invoice_id": str(invoice.id),
            },
            description=f"Invoice {invoice.number}",
        )
        success_url = connection.success_redirect_url or "https://example.com/success"
        url = provider_for(connection).payment_url(page, success_url=success_url)
    except (ProviderError, TransientProviderError) as exc:
        payment_cancel(payment.id)
        raise ProviderFailure(connection.code, {"message": str(exc)}) from exc
    update_rows(Payment.objects.filter(id=payment.id), payment_url=url)
    return url


def wallet_transaction_payment_url(
    organization: Organization, *, transaction_id: UUID | str
) -> tuple[WalletTransaction, str]:
    """`POST /wallet_transactions/{id}/payment_url`: the hosted payment page of a purchase's credit
    invoice, while the purchase waits for its payment (Lago's checks, field `base`)."""
    tx = credits_selectors.wallet_transaction_get(organization, transaction_id)
    if tx.transaction_status != TransactionStatus.PURCHASED:
        raise ValidationFailure.single("base", "wallet_transaction_not_purchased")
    if tx.status == TransactionSettlement.SETTLED:
        raise ValidationFailure.single("base", "wallet_transaction_already_settled")
    if tx.invoice_id is None:
        raise ValidationFailure.single("base", "wallet_transaction_has_no_attached_invoice")
    return tx, invoice_payment_url(organization, invoice_id=tx.invoice_id)


def payment_record_charge(
    invoice_id: UUID | str,
    *,
    connection: Any,
    amount_cents: int,
    provider_payment_id: str,
    provider_customer_id: str,
    provider_method_id: str,
    idempotency_key: str,
    origin: str = PaymentOrigin.AUTOMATIC,
    now: dt.datetime | None = None,
) -> Payment:
    """A charge the caller already made at the provider for this invoice (a UCP checkout charges
    the buyer's instrument before bxb bills, docs/ucp.md): recorded as a succeeded provider payment
    and applied to the invoice, in the caller's transaction. The idempotency key is the one the
    charge was made with; recording the same key again returns the first payment."""
    now = now or timezone.now()
    existing = Payment.objects.filter(idempotency_key=idempotency_key, invoice_id=invoice_id).first()
    if existing is not None:
        return existing
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update(of=("self",)).select_related("customer").get(id=invoice_id)
        if amount_cents <= 0 or amount_cents > invoice.total_due_amount_cents:
            raise ValidationFailure.single("amount_cents", "higher_than_remaining_invoice_amount")
        payment = new_payment(
            invoice,
            invoice.customer,
            origin,
            PaymentStatus.SUCCEEDED,
            connection=connection,
            method=MethodToCharge(provider_method_id),
            amount_cents=amount_cents,
            provider_customer_id=provider_customer_id,
            provider_payment_id=provider_payment_id,
            paid_at=now,
            idempotency_key=idempotency_key,
        )
        payment.save(force_insert=True)
        _on_success(payment, now)
    return payment


def payment_create_manual(
    organization: Organization,
    *,
    invoice_id: UUID | str,
    amount_cents: int,
    reference: str,
    paid_at: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> Payment:
    """`POST /payments`: money received out of band. Partial payments add up
    (`total_paid_amount_cents`); the invoice is `succeeded` once nothing is due."""
    now = now or timezone.now()
    errors: dict[str, list[str]] = {}
    if not isinstance(amount_cents, int) or isinstance(amount_cents, bool) or amount_cents <= 0:
        errors["amount_cents"] = ["value_is_invalid"]
    if not reference or not str(reference).strip():
        errors["reference"] = ["value_is_mandatory"]
    elif len(reference) > 40:
        errors["reference"] = ["value_is_too_long"]
    if not invoice_id:
        errors["invoice_id"] = ["value_is_mandatory"]
    if errors:
        raise ValidationFailure(errors)
    invoice = _invoice_for(organization, invoice_id)
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update(of=("self",)).select_related("customer").get(id=invoice.id)
        if invoice.status != InvoiceStatus.FINALIZED or invoice.payment_status == InvoicePaymentStatus.SUCCEEDED:
            raise NotAllowedFailure("invalid_status")
        if Payment.objects.filter(
            invoice=invoice,
            payment_type=PaymentType.PROVIDER,
            status__in=[PaymentStatus.PENDING, PaymentStatus.PROCESSING],
        ).exists():
            raise NotAllowedFailure("payment_processor_is_currently_handling_payment")
        if amount_cents > invoice.total_due_amount_cents:
            raise ValidationFailure.single("amount_cents", "higher_than_remaining_invoice_amount")
        payment = new_payment(
            invoice,
            invoice.customer,
            PaymentOrigin.MANUAL,
            PaymentStatus.SUCCEEDED,
            amount_cents=amount_cents,
            reference=reference.strip(),
            paid_at=paid_at or now,
        )
        payment.idempotency_key = f"bxb_manual_{payment.id}"
        save_unique(payment, "payment", force_insert=True)  # refused only by a uuid collision
        apply_amount_to_invoice(invoice.id, amount_cents, now=now)
        notifications.payment_webhook(payment, "payment.succeeded")
        receipts.receipt_issue(payment)
    return payment


def payment_dispute_update(
    payment_id: UUID | str, *, status: str, lost: bool, now: dt.datetime | None = None
) -> Payment:
    """`charge.dispute.*`: the dispute's status; a lost dispute marks the invoice's payment as
    disputed and lost (`invoice.payment_dispute_lost`)."""
    now = now or timezone.now()
    with transaction.atomic():
        payment = (
            Payment.objects.select_for_update(of=("self",)).select_related("invoice__organization").get(id=payment_id)
        )
        payment.dispute_status = status
        fields = ["dispute_status", "updated_at"]
        newly_lost = lost and payment.dispute_lost_at is None
        if newly_lost:
            payment.dispute_lost_at = now
            fields.append("dispute_lost_at")
        payment.save(update_fields=fields)
        if newly_lost and payment.invoice_id:
            invoice = Invoice.objects.select_for_update().select_related("organization").get(id=payment.invoice_id)
            lifecycle.invoice_dispute_lost(invoice, now=now)
    return payment
