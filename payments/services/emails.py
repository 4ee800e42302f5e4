"""Document e-mails: invoice finalized, credit note created, payment receipt, payment failed and
dunning reminders (payment requests) (docs/payments.md §11).

Sent through Django's e-mail framework (SMTP from the environment, the console backend when
`EMAIL_HOST` is unset), HTML and text bodies, the document's PDF attached, the organization's name
as the sender's name and its e-mail as Reply-To.

At most once: `email_schedule` records a `SentEmail` row (unique per kind, document and sequence:
0 for the automatic sending, 1, 2, … for each resend) in the caller's transaction and enqueues the
task after commit. `email_deliver` locks the row, sends only if it is not `sent`, and records the
outcome in the same transaction; an SMTP failure leaves it `failed` and re-raises, so the task's
retry sends it later (the beat sweep re-enqueues failed and stale pending rows too)."""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
from collections.abc import Callable
from email.utils import formataddr
from typing import Any
from uuid import UUID

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.template.loader import render_to_string
from django.utils import timezone

from billing_project.core.errors import NotFoundFailure
from billing_project.core.money import format_amount
from payments.models import EmailKind, PaymentRequest, SentEmail, SentEmailStatus

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
SEND_ERRORS = (smtplib.SMTPException, OSError)


def _recipients(customer: Any) -> list[str]:
    return [address.strip() for address in (customer.email or "").split(",") if address.strip()]


# Kinds sent only when the organization's `email_settings` names them; the rest always go out.
OPTIONAL_KINDS = frozenset(
    {
        EmailKind.INVOICE_FINALIZED,
        EmailKind.CREDIT_NOTE_CREATED,
        EmailKind.PAYMENT_RECEIPT_CREATED,
        EmailKind.PAYMENT_FAILED,
    }
)


def _document(kind: str, document_id: UUID | str) -> Any:
    from payments.models import Payment, PaymentRequest

    if kind == EmailKind.PAYMENT_FAILED:
        return Payment.objects.select_related("customer", "organization", "invoice").filter(id=document_id).first()
    if kind == EmailKind.PAYMENT_REQUEST_CREATED:
        return PaymentRequest.objects.select_related("customer", "organization").filter(id=document_id).first()
    if kind == EmailKind.INVOICE_FINALIZED:
        from invoicing.models import Invoice

        return Invoice.objects.select_related("customer", "organization").filter(id=document_id).first()
    if kind == EmailKind.CREDIT_NOTE_CREATED:
        from invoicing.credits.models import CreditNote

        return CreditNote.objects.select_related("customer", "organization", "invoice").filter(id=document_id).first()
    from payments.models import PaymentReceipt

    return (
        PaymentReceipt.objects.select_related("organization", "payment", "payment__customer", "payment__invoice")
        .filter(id=document_id)
        .first()
    )


def _customer(kind: str, document: Any) -> Any:
    return document.payment.customer if kind == EmailKind.PAYMENT_RECEIPT_CREATED else document.customer


def email_schedule(
    organization: Any,
    *,
    kind: str,
    document_id: UUID | str,
    resend: bool = False,
    recipients: list[str] | None = None,
) -> SentEmail | None:
    """Record the e-mail of a document and send it after commit. The automatic sending happens
    only when the organization's `email_settings` has the kind, once per document (a second call
    returns None); a resend always adds one. None too when the customer has no address."""
    if not resend and kind in OPTIONAL_KINDS and kind not in (organization.email_settings or []):
        return None
    document = _document(kind, document_id)
    if document is None:
        return None
    if kind == EmailKind.PAYMENT_REQUEST_CREATED:  # the request's own addresses (the API may name them)
        to = recipients or [a.strip() for a in (document.email or "").split(",") if a.strip()]
    else:
        to = recipients or _recipients(_customer(kind, document))
    if not to:
        return None
    with transaction.atomic():
        sequence = 0
        if resend:
            last = SentEmail.objects.filter(kind=kind, document_id=document_id).aggregate(m=Max("sequence"))["m"]
            sequence = (last or 0) + 1  # 0 stays the automatic sending's
        try:
            with transaction.atomic():
                row = SentEmail.objects.create(
                    organization_id=organization.id, kind=kind, document_id=document_id, sequence=sequence,
                    recipients=to,
                )  # fmt: skip
        except IntegrityError:
            if not resend:
                return None  # already scheduled: at most once
            raise
        row_id = str(row.id)
        transaction.on_commit(lambda: _enqueue(row_id))
    return row


def _enqueue(row_id: str) -> None:
    from celery.exceptions import Retry

    from payments import tasks

    try:
        tasks.send_document_email.delay(row_id)
    except (Retry, *SEND_ERRORS):  # eager mode: the failure is recorded; the sweep retries it
        logger.warning("document e-mail deferred", extra={"sent_email_id": row_id})


def _portal_link(customer: Any) -> tuple[str, str] | None:
    """A "Pay online" button to the customer's portal when bxb knows its public address."""
    if not (getattr(settings, "PUBLIC_URL", "") or "").startswith("http"):
        return None
    from payments.portal import portal_url

    _, url = portal_url(customer.organization, external_id=customer.external_id)
    return ("Pay online", url)


def _with_pdf(kind: str, document: Any) -> tuple[Any, str, list[tuple[str, str]]]:
    """An invoice, credit note or payment receipt with its PDF generated, what it is called, and the
    lines the e-mail shows about it."""
    from invoicing.credits.services.documents import credit_note_generate_pdf
    from invoicing.services.documents import invoice_generate_pdf
    from payments.services.receipts import receipt_generate_pdf

    generate: Callable[[Any], Any]
    if kind == EmailKind.INVOICE_FINALIZED:
        generate, label = invoice_generate_pdf, "Invoice"
    elif kind == EmailKind.CREDIT_NOTE_CREATED:
        generate, label = credit_note_generate_pdf, "Credit note"
    else:
        generate, label = receipt_generate_pdf, "Payment receipt"
    document = generate(document.id) or document
    return document, label, _document_lines(kind, document)


def _document_lines(kind: str, document: Any) -> list[tuple[str, str]]:
    if kind == EmailKind.INVOICE_FINALIZED:
        due = document.payment_due_date
        return [
            ("Amount due", format_amount(document.total_due_amount_cents, document.currency)),
            ("Issued", document.issuing_date.isoformat()),
            ("Due", due.isoformat() if due else ""),
        ]
    if kind == EmailKind.CREDIT_NOTE_CREATED:
        invoice_number = document.invoice.number if document.invoice_id else ""
        return [
            ("Amount", format_amount(document.total_amount_cents, document.currency)),
            ("For invoice", invoice_number),
        ]
    payment = document.payment
    return [
        ("Amount paid", format_amount(payment.amount_cents, payment.currency)),
        ("Paid on", (payment.paid_at or payment.created_at).date().isoformat()),
        ("Invoice", payment.invoice.number if payment.invoice_id else ""),
    ]


def _message(row: SentEmail, document: Any) -> EmailMultiAlternatives:
    organization = document.organization
    customer = _customer(row.kind, document)
    context: dict[str, Any] = {"organization": organization, "customer": customer, "kind": row.kind}
    attachment: tuple[str, Any] | None = None
    if row.kind == EmailKind.PAYMENT_FAILED:
        subject, attachment = _payment_failed(document, context)
    elif row.kind == EmailKind.PAYMENT_REQUEST_CREATED:
        subject = _payment_request(document, context)
    else:
        document, label, lines = _with_pdf(row.kind, document)
        subject = f"{label} {document.number} from {organization.name}"
        context.update(title=f"{label} {document.number}", lines=lines)
        attachment = (f"{document.number}.pdf", document.file)
    context["lines"] = [(label, value) for label, value in context["lines"] if value]
    text = render_to_string("payments/email/document.txt", context)
    html = render_to_string("payments/email/document.html", context)
    sender = formataddr((organization.name, settings.DEFAULT_FROM_EMAIL))
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=sender,
        to=list(row.recipients),
        reply_to=[organization.email] if organization.email else None,
    )
    message.attach_alternative(html, "text/html")
    if attachment is not None and attachment[1]:
        with attachment[1].open("rb") as handle:
            message.attach(attachment[0], handle.read(), "application/pdf")
    return message


def _payment_failed(payment: Any, context: dict[str, Any]) -> tuple[str, tuple[str, Any] | None]:
    """A charge of an invoice failed: what, why, what happens next; the invoice PDF attached."""
    from invoicing.services.documents import invoice_generate_pdf

    invoice = invoice_generate_pdf(payment.invoice_id) or payment.invoice
    organization = payment.organization
    retry = payment.next_retry_at
    context.update(
        title=f"Payment of invoice {invoice.number} failed",
        intro=(
            f"We could not collect {format_amount(payment.amount_cents, payment.currency)} for invoice "
            f"{invoice.number} from {organization.name}. "
            + (
                f"We will try again on {retry.date().isoformat()}; you can also pay it now."
                if retry
                else "Please pay it or update your payment method."
            )
        ),
        lines=[
            ("Amount due", format_amount(invoice.total_due_amount_cents, invoice.currency)),
            ("Invoice", invoice.number),
            ("Due", invoice.payment_due_date.isoformat() if invoice.payment_due_date else ""),
            ("Reason", payment.error_message or payment.error_code or ""),
        ],
        link=_portal_link(payment.customer),
    )
    subject = f"Payment failed: invoice {invoice.number} from {organization.name}"
    return subject, ((f"{invoice.number}.pdf", invoice.file) if invoice.file else None)


def _payment_request(request: PaymentRequest, context: dict[str, Any]) -> str:
    """A dunning reminder: the overdue invoices of the request and their total."""
    organization = request.organization
    invoices = list(request.invoices.all().order_by("issuing_date", "id"))
    context.update(
        title="Overdue invoices",
        intro=f"The following invoices from {organization.name} are overdue.",
        lines=[
            (
                f"{invoice.number} (due {invoice.payment_due_date.isoformat() if invoice.payment_due_date else '-'})",
                format_amount(invoice.total_due_amount_cents, invoice.currency),
            )
            for invoice in invoices
        ]
        + [("Total due", format_amount(request.amount_cents, request.currency))],
        link=_portal_link(request.customer),
    )
    return f"{organization.name}: overdue invoices"


def email_deliver(row_id: UUID | str, *, now: dt.datetime | None = None) -> SentEmail:
    """Send one recorded e-mail unless it was sent. Raises the SMTP error after recording it."""
    now = now or timezone.now()
    failure: BaseException | None = None
    with transaction.atomic():
        row = SentEmail.objects.select_for_update().get(id=row_id)
        if row.status == SentEmailStatus.SENT:
            return row
        document = _document(row.kind, row.document_id)
        if document is None:
            row.status, row.error = SentEmailStatus.FAILED, "the document no longer exists"
            row.save(update_fields=["status", "error", "updated_at"])
            return row
        row.attempts += 1
        try:
            _message(row, document).send(fail_silently=False)
        except SEND_ERRORS as exc:
            row.status, row.error = SentEmailStatus.FAILED, repr(exc)[:2000]
            failure = exc
        else:
            row.status, row.error, row.sent_at = SentEmailStatus.SENT, "", now
            if row.kind == EmailKind.PAYMENT_REQUEST_CREATED:
                from payments.models import PaymentRequest

                PaymentRequest.objects.filter(id=document.id, emailed_at__isnull=True).update(emailed_at=now)
        row.save(update_fields=["status", "error", "sent_at", "attempts", "updated_at"])
    if failure is not None:
        raise failure
    return row


def emails_retry_due(now: dt.datetime | None = None, limit: int = 200) -> int:
    """Beat: failed rows under `MAX_ATTEMPTS`, and pending rows nobody sent (5 minutes)."""
    now = now or timezone.now()
    from django.db.models import Q

    due = SentEmail.objects.filter(
        Q(status=SentEmailStatus.FAILED, attempts__lt=MAX_ATTEMPTS, updated_at__lte=now - dt.timedelta(minutes=5))
        | Q(status=SentEmailStatus.PENDING, created_at__lte=now - dt.timedelta(minutes=5))
    ).values_list("id", flat=True)[:limit]
    sent = 0
    for row_id in list(due):
        try:
            email_deliver(row_id, now=now)
            sent += 1
        except SEND_ERRORS:
            continue
    return sent


def document_resend(
    organization: Any, *, kind: str, document_id: Any, recipients: list[str] | None = None
) -> SentEmail:
    """`POST /{invoices|credit_notes|payment_receipts}/{id}/resend_email`: one more sending of the
    document's e-mail (to the customer, or to the addresses given)."""
    import uuid

    try:
        document = _document(kind, uuid.UUID(str(document_id)))
    except ValueError:
        document = None
    if document is None or document.organization_id != organization.id:
        raise NotFoundFailure(_resource(kind))
    if getattr(document, "status", "finalized") not in ("finalized", "voided", "available", "consumed"):
        from billing_project.core.errors import NotAllowedFailure

        raise NotAllowedFailure("is_draft")
    row = email_schedule(organization, kind=kind, document_id=document.id, resend=True, recipients=recipients)
    if row is None:
        from billing_project.core.errors import ValidationFailure

        raise ValidationFailure.single("email", "no_recipient")
    return row


def _resource(kind: str) -> str:
    return {
        EmailKind.INVOICE_FINALIZED: "invoice",
        EmailKind.CREDIT_NOTE_CREATED: "credit_note",
    }.get(kind, "payment_receipt")  # type: ignore[call-overload]
