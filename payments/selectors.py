"""Reads of the payments app. Every selector takes the organization first."""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import QuerySet

from billing_project.core.errors import NotFoundFailure
from billing_project.core.found import found
from billing_project.core.lookup import uuid_or_not_found
from payments.models import Payment, PaymentMethod, PaymentReceipt, PaymentRequest


def payment_list(
    organization: Any, *, external_customer_id: str | None = None, invoice_id: str | None = None
) -> QuerySet[Payment]:
    qs = Payment.objects.filter(organization=organization).select_related(
        "customer", "invoice", "connection", "payment_request"
    )
    if external_customer_id:
        qs = qs.filter(customer__external_id=external_customer_id)
    if invoice_id:
        try:
            qs = qs.filter(invoice_id=uuid.UUID(str(invoice_id)))
        except ValueError:
            return qs.none()
    return qs.order_by("-created_at", "id")


def payment_get(organization: Any, payment_id: Any) -> Payment:
    return found(
        Payment.objects.select_related("customer", "invoice", "connection", "payment_request")
        .filter(organization=organization, id=uuid_or_not_found(payment_id, "payment"))
        .first(),
        "payment",
    )


def payment_request_list(
    organization: Any,
    *,
    external_customer_id: str | None = None,
    payment_status: str | None = None,
    currency: str | None = None,
) -> QuerySet[PaymentRequest]:
    qs = PaymentRequest.objects.filter(organization=organization).select_related("customer__organization")
    if external_customer_id:
        qs = qs.filter(customer__external_id=external_customer_id)
    if payment_status:
        qs = qs.filter(payment_status=payment_status)
    if currency:
        qs = qs.filter(currency=currency)
    return qs.prefetch_related("invoices").order_by("-created_at", "id")


def payment_request_get(organization: Any, request_id: Any) -> PaymentRequest:
    return found(
        PaymentRequest.objects.select_related("customer__organization")
        .filter(organization=organization, id=uuid_or_not_found(request_id, "payment_request"))
        .first(),
        "payment_request",
    )


def invoice_payment_dispute_lost_at(invoice: Any) -> Any:
    """When a dispute on one of the invoice's payments was lost (None when none was)."""
    payment = Payment.objects.filter(invoice=invoice, dispute_lost_at__isnull=False).order_by("dispute_lost_at").first()
    return payment.dispute_lost_at if payment else None


def customer_payment_methods(organization: Any, *, external_id: str) -> QuerySet[PaymentMethod]:
    """A customer's saved payment methods, the default first, then the newest.
    NotFoundFailure("customer") when the customer is not in this organization."""
    from customers.models import Customer

    customer = Customer.objects.filter(
        organization=organization, external_id=external_id, deleted_at__isnull=True
    ).first()
    if customer is None:
        raise NotFoundFailure("customer")
    return (
        PaymentMethod.objects.filter(organization=organization, customer=customer)
        .select_related("connection")
        .order_by("-is_default", "-created_at", "id")
    )


def customer_payment_method_get(organization: Any, *, external_id: str, method_id: Any) -> PaymentMethod:
    return found(
        customer_payment_methods(organization, external_id=external_id)
        .filter(id=uuid_or_not_found(method_id, "payment_method"))
        .first(),
        "payment_method",
    )


def payment_receipt_list(organization: Any, *, invoice_id: str | None = None) -> QuerySet[PaymentReceipt]:
    """Receipts, newest first; `invoice_id`: those of payments on that invoice, including payments
    of a payment request that covers it."""
    from django.db.models import Q

    qs = PaymentReceipt.objects.filter(organization=organization).select_related(
        "payment", "payment__customer", "payment__invoice", "payment__connection", "payment__payment_request"
    )
    if invoice_id:
        try:
            wanted = uuid.UUID(str(invoice_id))
        except ValueError:
            return qs.none()
        qs = qs.filter(Q(payment__invoice_id=wanted) | Q(payment__payment_request__invoices__id=wanted)).distinct()
    return qs.order_by("-created_at", "id")


def payment_receipt_get(organization: Any, receipt_id: Any) -> PaymentReceipt:
    return found(
        payment_receipt_list(organization).filter(id=uuid_or_not_found(receipt_id, "payment_receipt")).first(),
        "payment_receipt",
    )
