"""API and webhook shapes of payments objects (Lago's V1 serializers). Decimals never appear here:
every amount is an integer of minor units."""

from __future__ import annotations

from typing import Any, TypedDict

from billing_project.core.api.shapes import DateTime, Uuid, utc_iso
from customers.representation import CustomerShape, customer_payload
from invoicing.representation import InvoiceBaseShape, invoice_base_payload
from payments.models import Payment, PaymentMethod, PaymentReceipt, PaymentRequest, PaymentStatus

_LAGO_PAYMENT_STATUS = {
    PaymentStatus.PENDING: "pending",
    PaymentStatus.PROCESSING: "processing",
    PaymentStatus.REQUIRES_ACTION: "pending",
    PaymentStatus.SUCCEEDED: "succeeded",
    PaymentStatus.FAILED: "failed",
    PaymentStatus.CANCELED: "failed",
}


class PaymentNextActionShape(TypedDict):
    redirect_url: str


class PaymentShape(TypedDict):
    lago_id: Uuid
    lago_customer_id: Uuid
    external_customer_id: str
    invoice_ids: list[Uuid]
    invoice_numbers: list[str]
    lago_payable_id: Uuid
    payable_type: str
    amount_cents: int
    amount_currency: str
    status: str
    payment_status: str
    type: str
    reference: str
    payment_provider_code: str | None
    payment_provider_type: str | None
    external_payment_id: str | None
    provider_payment_id: str | None
    provider_customer_id: str | None
    payment_method_id: Uuid | None  # the saved payment method charged (docs/payments.md §12)
    next_action: PaymentNextActionShape | None
    paid_at: DateTime | None
    created_at: DateTime


class PaymentRequestShape(TypedDict):
    lago_id: Uuid
    email: str
    amount_cents: int
    amount_currency: str
    payment_status: str
    created_at: DateTime
    customer: CustomerShape | None
    invoices: list[InvoiceBaseShape]


def _invoices(payment: Payment) -> list[Any]:
    if payment.invoice_id:
        return [payment.invoice]
    if payment.payment_request_id:
        return list(payment.payment_request.invoices.all())
    return []


def payment_payload(payment: Payment) -> PaymentShape:
    invoices = _invoices(payment)
    connection = payment.connection
    return {
        "lago_id": str(payment.id),
        "lago_customer_id": str(payment.customer_id),
        "external_customer_id": payment.customer.external_id,
        "invoice_ids": [str(invoice.id) for invoice in invoices],
        "invoice_numbers": [invoice.number for invoice in invoices],
        "lago_payable_id": str(payment.invoice_id or payment.payment_request_id),
        "payable_type": "Invoice" if payment.invoice_id else "PaymentRequest",
        "amount_cents": payment.amount_cents,
        "amount_currency": payment.currency,
        "status": payment.status,
        "payment_status": _LAGO_PAYMENT_STATUS[PaymentStatus(payment.status)],
        "type": payment.payment_type,
        "reference": payment.reference,
        "payment_provider_code": connection.code if connection else None,
        "payment_provider_type": connection.provider if connection else None,
        "external_payment_id": payment.provider_payment_id or None,
        "provider_payment_id": payment.provider_payment_id or None,
        "provider_customer_id": payment.provider_customer_id or None,
        "payment_method_id": str(payment.payment_method_id) if payment.payment_method_id else None,
        "next_action": {"redirect_url": payment.next_action_url} if payment.next_action_url else None,
        "paid_at": utc_iso(payment.paid_at),
        "created_at": utc_iso(payment.created_at),
    }


def payment_request_payload(request: PaymentRequest, *, with_customer: bool = True) -> PaymentRequestShape:
    invoices = list(request.invoices.all().order_by("issuing_date", "id"))
    return {
        "lago_id": str(request.id),
        "email": request.email,
        "amount_cents": request.amount_cents,
        "amount_currency": request.currency,
        "payment_status": request.payment_status,
        "created_at": utc_iso(request.created_at),
        "customer": customer_payload(request.customer) if with_customer else None,
        "invoices": [invoice_base_payload(invoice) for invoice in invoices],
    }


def payment_method_payload(method: PaymentMethod) -> dict[str, Any]:
    """Lago's payment method object (`GET /customers/{external_id}/payment_methods`), with bxb's
    `method_type` and the provider's `details` (brand, last4) beside it."""
    connection = method.connection
    return {
        "lago_id": str(method.id),
        "is_default": method.is_default,
        "payment_provider_code": connection.code if connection else None,
        "payment_provider_name": (connection.name or connection.code) if connection else None,
        "payment_provider_type": connection.provider if connection else None,
        "provider_method_id": method.provider_method_id,
        "method_type": method.method_type or None,
        "details": method.details or {},
        "created_at": utc_iso(method.created_at),
    }


def payment_receipt_file_url(receipt: PaymentReceipt) -> str | None:
    if not receipt.file:
        return None
    from django.conf import settings

    path = f"/{settings.MEDIA_URL.strip('/')}/{receipt.file.name}"
    base = getattr(settings, "PUBLIC_URL", "") or ""
    return f"{base.rstrip('/')}{path}" if base else path


def payment_receipt_payload(receipt: PaymentReceipt) -> dict[str, Any]:
    """Lago's payment receipt: its number, the PDF's URL (null until rendered), the payment."""
    return {
        "lago_id": str(receipt.id),
        "number": receipt.number,
        "file_url": payment_receipt_file_url(receipt),
        "xml_url": None,
        "payment": payment_payload(receipt.payment),
        "created_at": utc_iso(receipt.created_at),
    }
