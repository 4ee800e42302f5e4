"""Outbound webhooks and customer emails of the payments app (recorded in the caller's transaction)."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.mail import send_mail

from customers.models import Organization
from webhooks.services import webhook_send

logger = logging.getLogger(__name__)


def payment_webhook(payment: Any, webhook_type: str) -> None:
    from payments.representation import payment_payload

    webhook_send(
        payment.organization, webhook_type=webhook_type, object_type="payment", payload=lambda: payment_payload(payment)
    )


def payment_request_webhook(request: Any, webhook_type: str) -> None:
    from payments.representation import payment_request_payload

    webhook_send(
        request.organization,
        webhook_type=webhook_type,
        object_type="payment_request",
        payload=lambda: payment_request_payload(request),
    )


def invoice_payment_failure(payment: Any, invoice: Any) -> None:
    """Lago's `invoice.payment_failure` (object `payment_provider_invoice_payment_error`)."""
    connection = payment.connection
    customer = payment.customer
    webhook_send(
        payment.organization,
        webhook_type="invoice.payment_failure",
        object_type="payment_provider_invoice_payment_error",
        payload=lambda: {
            "lago_invoice_id": str(invoice.id),
            "lago_customer_id": str(customer.id),
            "external_customer_id": customer.external_id,
            "provider_customer_id": payment.provider_customer_id or None,
            "payment_provider": connection.provider if connection else None,
            "payment_provider_code": connection.code if connection else None,
            "provider_error": {"message": payment.error_message, "error_code": payment.error_code},
        },
    )


def customer_webhook(organization: Organization, customer: Any, webhook_type: str, extra: dict[str, Any]) -> None:
    from customers.api.serializers import CustomerOutput

    webhook_send(
        organization,
        webhook_type=webhook_type,
        object_type="customer",
        payload=lambda: {**dict(CustomerOutput(customer).data), **extra},
    )


def email_payment_request(request: Any, *, payment_url: str | None = None) -> bool:
    """Email the customer about their overdue invoices (Django's email backend). Returns sent."""
    recipients = [address.strip() for address in (request.email or "").split(",") if address.strip()]
    if not recipients:
        return False
    from billing_project.core.money import format_amount

    lines = [
        f"Hello {request.customer.name or request.customer.external_id},",
        "",
        f"The following invoices from {request.organization.name} are overdue:",
    ]
    for invoice in request.invoices.all().order_by("issuing_date", "id"):
        lines.append(
            f"  {invoice.number}  due {invoice.payment_due_date}  {format_amount(invoice.total_due_amount_cents, invoice.currency)}"
        )
    lines += ["", f"Total due: {format_amount(request.amount_cents, request.currency)}"]
    if payment_url:
        lines += ["", f"Pay online: {payment_url}"]
    try:
        send_mail(
            subject=f"{request.organization.name}: overdue invoices",
            message="\n".join(lines),
            from_email=getattr(settings, "DEFAULT_FROM_EMAIL", None),
            recipient_list=recipients,
        )
    except Exception:
        logger.exception("payment request email failed", extra={"payment_request_id": str(request.id)})
        return False
    return True
