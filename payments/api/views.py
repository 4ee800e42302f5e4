"""Payments endpoints: checkout_url, payment_url, retry_payment, payments and payment
requests (docs/payments.md).

Views parse, call a service, and render.
"""

from __future__ import annotations

import uuid
from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from billing_project.core.api.pagination import paginated_response
from billing_project.core.api.views import OrganizationAPIView, refuse_unsupported_body, root_payload, validate_input
from billing_project.core.errors import NotFoundFailure
from customers.api.scoped import customer_list_view
from payments import selectors
from payments.api import filters
from payments.api import serializers as s
from payments.representation import (
    payment_method_payload,
    payment_payload,
    payment_receipt_payload,
    payment_request_payload,
)
from payments.services import collection, customers, dunning, emails


def _uuid(value: str, resource: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError):
        raise NotFoundFailure(resource) from None


def _actor(view: OrganizationAPIView) -> str:
    return f"api_key:{getattr(view.api_key, 'id', '')}"


def payment_list_answer(request: Request, organization: Any, params: dict[str, Any]) -> Response:
    """`GET /payments` (and `GET /customers/{external_id}/payments`) for parsed filters."""
    qs = selectors.payment_list(
        organization, external_customer_id=params["external_customer_id"], invoice_id=params["invoice_id"]
    )
    return paginated_response(request, qs, "payments", lambda items: [payment_payload(p) for p in items])


def payment_request_list_answer(request: Request, organization: Any, params: dict[str, Any]) -> Response:
    """`GET /payment_requests` (and `GET /customers/{external_id}/payment_requests`) for parsed filters."""
    qs = selectors.payment_request_list(
        organization,
        external_customer_id=params["external_customer_id"],
        payment_status=params["payment_status"],
    )
    return paginated_response(
        request, qs, "payment_requests", lambda items: [payment_request_payload(r) for r in items]
    )


CustomerPaymentListView = customer_list_view(
    "payments", filters.PaymentFilters, payment_list_answer, s.PaymentListEnvelope, resource_name="payment"
)
CustomerPaymentRequestListView = customer_list_view(
    "payment_requests",
    filters.PaymentRequestFilters,
    payment_request_list_answer,
    s.PaymentRequestListEnvelope,
    resource_name="payment_request",
)


class PaymentCollectionView(OrganizationAPIView):
    resource_name = "payment"

    @extend_schema(
        operation_id="payments_list",
        summary="List payments (provider attempts and manual payments)",
        parameters=filters.PaymentFilters.schema_parameters(),
        responses=s.PaymentListEnvelope,
    )
    def get(self, request: Request) -> Response:
        return payment_list_answer(request, self.organization, filters.PaymentFilters.parse(request))

    @extend_schema(
        operation_id="payments_create",
        summary="Record a manual payment (partial payments add up)",
        request=s.PaymentInputEnvelope,
        responses=s.PaymentEnvelope,
    )
    def post(self, request: Request) -> Response:
        data = validate_input(s.PaymentInput, root_payload(request, "payment"))
        payment = collection.payment_create_manual(
            self.organization,
            invoice_id=_uuid(data["invoice_id"], "invoice"),
            amount_cents=data["amount_cents"],
            reference=data["reference"],
            paid_at=data.get("paid_at"),
            actor=_actor(self),
        )
        return Response({"payment": payment_payload(payment)})


class PaymentDetailView(OrganizationAPIView):
    resource_name = "payment"

    @extend_schema(operation_id="payments_retrieve", summary="A payment", responses=s.PaymentEnvelope)
    def get(self, request: Request, payment_id: str) -> Response:
        return Response({"payment": payment_payload(selectors.payment_get(self.organization, payment_id))})


class InvoiceRetryPaymentView(OrganizationAPIView):
    resource_name = "invoice"

    @extend_schema(
        operation_id="invoices_retry_payment",
        summary="Charge the invoice again now (an empty 200, as Lago)",
        request=None,
        responses={200: None},
    )
    def post(self, request: Request, invoice_id: str) -> Response:
        refuse_unsupported_body(request, s.PAYMENT_METHOD_LAGO_ONLY)
        collection.invoice_retry_payment(self.organization, invoice_id=_uuid(invoice_id, "invoice"), actor=_actor(self))
        return Response(status=200)


class InvoicePaymentUrlView(OrganizationAPIView):
    resource_name = "invoice"

    @extend_schema(
        operation_id="invoices_payment_url",
        summary="A hosted payment page for the amount due",
        request=None,
        responses=s.PaymentUrlEnvelope,
    )
    def post(self, request: Request, invoice_id: str) -> Response:
        from invoicing.models import Invoice

        invoice_uuid = _uuid(invoice_id, "invoice")
        url = collection.invoice_payment_url(self.organization, invoice_id=invoice_uuid, actor=_actor(self))
        invoice = Invoice.objects.select_related("customer").get(organization=self.organization, id=invoice_uuid)
        return Response(
            {
                "invoice_payment_details": {
                    "lago_customer_id": str(invoice.customer_id),
                    "lago_invoice_id": str(invoice.id),
                    "external_customer_id": invoice.customer.external_id,
                    "payment_provider": invoice.customer.payment_provider,
                    "payment_url": url,
                }
            }
        )


class CustomerCheckoutUrlView(OrganizationAPIView):
    resource_name = "customer"

    @extend_schema(
        operation_id="customers_checkout_url",
        summary="A provider checkout session (setup mode) where the customer saves a payment method",
        request=None,
        responses=s.CheckoutUrlEnvelope,
    )
    def post(self, request: Request, external_id: str) -> Response:
        customer, url = customers.customer_checkout_url(self.organization, external_id=external_id)
        return Response(
            {
                "customer": {
                    "lago_customer_id": str(customer.id),
                    "external_customer_id": customer.external_id,
                    "payment_provider": customer.payment_provider,
                    "payment_provider_code": customer.payment_provider_code,
                    "checkout_url": url,
                }
            }
        )


class PaymentRequestCollectionView(OrganizationAPIView):
    resource_name = "payment_request"

    @extend_schema(
        operation_id="payment_requests_list",
        summary="List payment requests",
        parameters=filters.PaymentRequestFilters.schema_parameters(),
        responses=s.PaymentRequestListEnvelope,
    )
    def get(self, request: Request) -> Response:
        return payment_request_list_answer(request, self.organization, filters.PaymentRequestFilters.parse(request))

    @extend_schema(
        operation_id="payment_requests_create",
        summary="Request payment of a customer's overdue invoices (charged and emailed)",
        request=s.PaymentRequestInputEnvelope,
        responses=s.PaymentRequestEnvelope,
    )
    def post(self, request: Request) -> Response:
        payload = root_payload(request, "payment_request", lago_only=s.PAYMENT_METHOD_LAGO_ONLY)
        data = validate_input(s.PaymentRequestInput, payload)
        payment_request = dunning.payment_request_create(
            self.organization,
            external_customer_id=data["external_customer_id"],
            email=data.get("email"),
            invoice_ids=data["lago_invoice_ids"],
        )
        return Response({"payment_request": payment_request_payload(payment_request)})


class PaymentRequestDetailView(OrganizationAPIView):
    resource_name = "payment_request"

    @extend_schema(
        operation_id="payment_requests_retrieve", summary="A payment request", responses=s.PaymentRequestEnvelope
    )
    def get(self, request: Request, request_id: str) -> Response:
        payment_request = selectors.payment_request_get(self.organization, request_id)
        return Response({"payment_request": payment_request_payload(payment_request)})


class CustomerPaymentMethodCollectionView(OrganizationAPIView):
    resource_name = "payment_method"

    @extend_schema(
        operation_id="customers_payment_methods_list",
        summary="A customer's saved payment methods (the default first)",
        responses=s.PaymentMethodListEnvelope,
    )
    def get(self, request: Request, external_id: str) -> Response:
        qs = selectors.customer_payment_methods(self.organization, external_id=external_id)
        return paginated_response(
            request, qs, "payment_methods", lambda items: [payment_method_payload(m) for m in items]
        )


class CustomerPaymentMethodDetailView(OrganizationAPIView):
    resource_name = "payment_method"

    @extend_schema(
        operation_id="customers_payment_methods_destroy",
        summary="Stop using a saved payment method",
        responses=s.PaymentMethodEnvelope,
    )
    def delete(self, request: Request, external_id: str, method_id: str) -> Response:
        method = customers.payment_method_destroy(self.organization, external_id=external_id, method_id=method_id)
        return Response({"payment_method": payment_method_payload(method)})


class CustomerPaymentMethodDefaultView(OrganizationAPIView):
    resource_name = "payment_method"

    @extend_schema(
        operation_id="customers_payment_methods_set_as_default",
        summary="Make a saved payment method the one collection charges",
        request=None,
        responses=s.PaymentMethodEnvelope,
    )
    def put(self, request: Request, external_id: str, method_id: str) -> Response:
        method = customers.payment_method_set_default(self.organization, external_id=external_id, method_id=method_id)
        return Response({"payment_method": payment_method_payload(method)})


class PaymentReceiptCollectionView(OrganizationAPIView):
    resource_name = "payment_receipt"

    @extend_schema(
        operation_id="payment_receipts_list",
        summary="Payment receipts (one per succeeded payment), newest first",
        parameters=filters.PaymentReceiptFilters.schema_parameters(),
        responses=s.PaymentReceiptListEnvelope,
    )
    def get(self, request: Request) -> Response:
        params = filters.PaymentReceiptFilters.parse(request)
        qs = selectors.payment_receipt_list(self.organization, invoice_id=params["invoice_id"])
        return paginated_response(
            request, qs, "payment_receipts", lambda items: [payment_receipt_payload(r) for r in items]
        )


class PaymentReceiptDetailView(OrganizationAPIView):
    resource_name = "payment_receipt"

    @extend_schema(
        operation_id="payment_receipts_retrieve", summary="A payment receipt", responses=s.PaymentReceiptEnvelope
    )
    def get(self, request: Request, receipt_id: str) -> Response:
        receipt = selectors.payment_receipt_get(self.organization, receipt_id)
        return Response({"payment_receipt": payment_receipt_payload(receipt)})


class _ResendEmailView(OrganizationAPIView):
    kind = ""

    def _resend(self, request: Request, document_id: str) -> Response:
        body = request.data if isinstance(request.data, dict) else {}
        data = validate_input(s.ResendEmailInput, body) if body else {}
        recipients = [*data.get("to", []), *data.get("cc", []), *data.get("bcc", [])] or None
        emails.document_resend(self.organization, kind=self.kind, document_id=document_id, recipients=recipients)
        return Response(status=200)


class InvoiceResendEmailView(_ResendEmailView):
    resource_name = "invoice"
    kind = "invoice.finalized"

    @extend_schema(
        operation_id="invoices_resend_email",
        summary="E-mail the invoice again (to the customer, or to the addresses given)",
        request=s.ResendEmailInput,
        responses={200: None},
    )
    def post(self, request: Request, invoice_id: str) -> Response:
        return self._resend(request, invoice_id)


class CreditNoteResendEmailView(_ResendEmailView):
    resource_name = "credit_note"
    kind = "credit_note.created"

    @extend_schema(
        operation_id="credit_notes_resend_email",
        summary="E-mail the credit note again (to the customer, or to the addresses given)",
        request=s.ResendEmailInput,
        responses={200: None},
    )
    def post(self, request: Request, credit_note_id: str) -> Response:
        return self._resend(request, credit_note_id)


class PaymentReceiptResendEmailView(_ResendEmailView):
    resource_name = "payment_receipt"
    kind = "payment_receipt.created"

    @extend_schema(
        operation_id="payment_receipts_resend_email",
        summary="E-mail the payment receipt again (to the customer, or to the addresses given)",
        request=s.ResendEmailInput,
        responses={200: None},
    )
    def post(self, request: Request, receipt_id: str) -> Response:
        return self._resend(request, receipt_id)


class CustomerPortalUrlView(OrganizationAPIView):
    resource_name = "customer"

    @extend_schema(
        operation_id="customers_portal_url",
        summary="A signed, expiring link to the customer's portal (docs/portal.md)",
        responses=s.PortalUrlEnvelope,
    )
    def get(self, request: Request, external_id: str) -> Response:
        from payments import portal

        _, url = portal.portal_url(self.organization, external_id=external_id)
        return Response({"customer": {"portal_url": url}})
