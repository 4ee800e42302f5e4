"""Outbound webhooks and customer emails of the payments app (recorded in the caller's transaction)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from customers.models import Customer, Organization
from invoicing.models import Invoice
from webhooks.services import webhook_send, webhook_send_row

if TYPE_CHECKING:
    from payments.models import Payment, PaymentRequest

logger = logging.getLogger(__name__)


def payment_webhook(payment: Payment, webhook_type: str) -> None:
    from payments.representation import payment_payload

    webhook_send_row(payment, webhook_type, "payment", payment_payload)


def payment_request_webhook(request: PaymentRequest, webhook_type: str) -> None:
    from payments.representation import payment_request_payload

    webhook_send_row(request, webhook_type, "payment_request", payment_request_payload)


def invoice_payment_failure(payment: Payment, invoice: Invoice) -> None:
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


def customer_webhook(organization: Organization, customer: Customer, webhook_type: str, extra: dict[str, Any]) -> None:
    from customers.representation import customer_payload

    webhook_send(
        organization,
        webhook_type=webhook_type,
        object_type="customer",
        payload=lambda: {**customer_payload(customer), **extra},
    )
