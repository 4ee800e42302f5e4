"""Payments endpoints: checkout_url, payment_url, retry_payment, payments and payment
requests (docs/payments.md).

Views parse, call a service, and render.
"""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response

from billing_project.core.api.pagination import paginated_response
from billing_project.core.api.resources import ResourceView, endpoint, named
from billing_project.core.api.views import OrganizationAPIView, validate_input
from billing_project.core.lookup import uuid_or_not_found
from customers.api.scoped import customer_list_view
from customers.payment_choice import payment_method_sent
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
        currency=params["currency"],
    )
    return paginated_response(
        request, qs, "payment_requests", lambda items: [payment_request_payload(r) for r in items]
    )


CustomerPaymentListView = customer_list_view(
    "payments", filters.PaymentFilters, payment_list_answer, s.PaymentListEnvelope
)
CustomerPaymentRequestListView = customer_list_view(
    "payment_requests", filters.PaymentRequestFilters, payment_request_list_answer, s.PaymentRequestListEnvelope
)


class PaymentView(ResourceView):
    resource_name = "payment"
    render = staticmethod(payment_payload)


class PaymentCollectionView(PaymentView):
    @endpoint("payments_list", s.PaymentListEnvelope, parameters=filters.PaymentFilters.schema_parameters())
    def get(self, request: Request) -> Response:
        """List payments (provider attempts and manual payments)"""
        return payment_list_answer(request, self.organization, filters.PaymentFilters.parse(request))

    @endpoint("payments_create", s.PaymentEnvelope, request=s.PaymentInputEnvelope)
    def post(self, request: Request) -> Response:
        """Record a manual payment (partial payments add up)"""
        data = self.body(request, s.PaymentInput)
        payment = collection.payment_create_manual(
            self.organization,
            invoice_id=uuid_or_not_found(data["invoice_id"], "invoice"),
            amount_cents=data["amount_cents"],
            reference=data["reference"],
            paid_at=data.get("paid_at"),
        )
        return self.one(payment)


class PaymentDetailView(PaymentView):
    @endpoint("payments_retrieve", s.PaymentEnvelope)
    def get(self, request: Request, payment_id: str) -> Response:
        """A payment"""
        return self.one(selectors.payment_get(self.organization, payment_id))


class InvoiceRetryPaymentView(OrganizationAPIView):
    resource_name = "invoice"

    @endpoint("invoices_retry_payment", {200: None}, request=s.RetryPaymentInput)
    def post(self, request: Request, invoice_id: str) -> Response:
        """Charge the invoice again now (an empty 200, as Lago)"""
        data = validate_input(s.RetryPaymentInput, request.data if isinstance(request.data, dict) else {})
        collection.invoice_retry_payment(
            self.organization,
            invoice_id=uuid_or_not_found(invoice_id, "invoice"),
            payment_method=payment_method_sent(data),
        )
        return Response(status=200)


class WalletTransactionPaymentUrlView(OrganizationAPIView):
    resource_name = "wallet_transaction"

    @endpoint("wallet_transactions_payment_url", s.WalletTransactionPaymentUrlEnvelope, request=None)
    def post(self, request: Request, transaction_id: str) -> Response:
        """A hosted payment page for a purchase of credits waiting for its payment"""
        tx, url = collection.wallet_transaction_payment_url(self.organization, transaction_id=transaction_id)
        customer = tx.wallet.customer
        return Response(
            {
                "wallet_transaction_payment_details": {
                    "lago_customer_id": str(customer.id),
                    "external_customer_id": customer.external_id,
                    "payment_provider": customer.payment_provider,
                    "lago_wallet_transaction_id": str(tx.id),
                    "payment_url": url,
                }
            }
        )


class InvoicePaymentUrlView(OrganizationAPIView):
    resource_name = "invoice"

    @endpoint("invoices_payment_url", s.PaymentUrlEnvelope, request=None)
    def post(self, request: Request, invoice_id: str) -> Response:
        """A hosted payment page for the amount due"""
        from invoicing.models import Invoice

        invoice_uuid = uuid_or_not_found(invoice_id, "invoice")
        url = collection.invoice_payment_url(self.organization, invoice_id=invoice_uuid)
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

    @endpoint("customers_checkout_url", s.CheckoutUrlEnvelope, request=None)
    def post(self, request: Request, external_id: str) -> Response:
        """A provider checkout session (setup mode) where the customer saves a payment method"""
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


class PaymentRequestView(ResourceView):
    resource_name = "payment_request"
    render = staticmethod(payment_request_payload)


class PaymentRequestCollectionView(PaymentRequestView):
    @endpoint(
        "payment_requests_list",
        s.PaymentRequestListEnvelope,
        parameters=filters.PaymentRequestFilters.schema_parameters(),
    )
    def get(self, request: Request) -> Response:
        """List payment requests"""
        return payment_request_list_answer(request, self.organization, filters.PaymentRequestFilters.parse(request))

    @endpoint("payment_requests_create", s.PaymentRequestEnvelope, request=s.PaymentRequestInputEnvelope)
    def post(self, request: Request) -> Response:
        """Request payment of a customer's overdue invoices (charged and emailed)"""
        data = self.body(request, s.PaymentRequestInput)
        payment_request = dunning.payment_request_create(
            self.organization,
            external_customer_id=data["external_customer_id"],
            email=data.get("email"),
            invoice_ids=data["lago_invoice_ids"],
            payment_method=payment_method_sent(data),
        )
        return self.one(payment_request)


class PaymentRequestDetailView(PaymentRequestView):
    @endpoint("payment_requests_retrieve", s.PaymentRequestEnvelope)
    def get(self, request: Request, request_id: str) -> Response:
        """A payment request"""
        return self.one(selectors.payment_request_get(self.organization, request_id))


class PaymentMethodView(ResourceView):
    resource_name = "payment_method"
    render = staticmethod(payment_method_payload)


class CustomerPaymentMethodCollectionView(PaymentMethodView):
    @endpoint("customers_payment_methods_list", s.PaymentMethodListEnvelope)
    def get(self, request: Request, external_id: str) -> Response:
        """A customer's saved payment methods (the default first)"""
        return self.page(request, selectors.customer_payment_methods(self.organization, external_id=external_id))


class CustomerPaymentMethodDetailView(PaymentMethodView):
    @endpoint("customers_payment_methods_destroy", s.PaymentMethodEnvelope)
    def delete(self, request: Request, external_id: str, method_id: str) -> Response:
        """Stop using a saved payment method"""
        return self.one(
            customers.payment_method_destroy(self.organization, external_id=external_id, method_id=method_id)
        )


class CustomerPaymentMethodDefaultView(PaymentMethodView):
    @endpoint("customers_payment_methods_set_as_default", s.PaymentMethodEnvelope, request=None)
    def put(self, request: Request, external_id: str, method_id: str) -> Response:
        """Make a saved payment method the one collection charges"""
        return self.one(
            customers.payment_method_set_default(self.organization, external_id=external_id, method_id=method_id)
        )


class PaymentReceiptView(ResourceView):
    resource_name = "payment_receipt"
    render = staticmethod(payment_receipt_payload)


class PaymentReceiptCollectionView(PaymentReceiptView):
    @endpoint(
        "payment_receipts_list",
        s.PaymentReceiptListEnvelope,
        parameters=filters.PaymentReceiptFilters.schema_parameters(),
    )
    def get(self, request: Request) -> Response:
        """Payment receipts (one per succeeded payment), newest first"""
        params = filters.PaymentReceiptFilters.parse(request)
        return self.page(request, selectors.payment_receipt_list(self.organization, invoice_id=params["invoice_id"]))


class PaymentReceiptDetailView(PaymentReceiptView):
    @endpoint("payment_receipts_retrieve", s.PaymentReceiptEnvelope)
    def get(self, request: Request, receipt_id: str) -> Response:
        """A payment receipt"""
        return self.one(selectors.payment_receipt_get(self.organization, receipt_id))


def _resend_view(resource: str, kind: str, noun: str) -> type[OrganizationAPIView]:
    """The `resend_email` action of one kind of document (`POST /<documents>/{id}/resend_email`)."""

    class ResendEmailView(OrganizationAPIView):
        resource_name = resource

        @endpoint(
            f"{resource}s_resend_email",
            {200: None},
            request=s.ResendEmailInput,
            summary=f"E-mail the {noun} again (to the customer, or to the addresses given)",
        )
        def post(self, request: Request, **kwargs: str) -> Response:
            (document_id,) = kwargs.values()
            body = request.data if isinstance(request.data, dict) else {}
            data = validate_input(s.ResendEmailInput, body) if body else {}
            recipients = [*data.get("to", []), *data.get("cc", []), *data.get("bcc", [])] or None
            emails.document_resend(self.organization, kind=kind, document_id=document_id, recipients=recipients)
            return Response(status=200)

    return named(ResendEmailView, "".join(part.title() for part in resource.split("_")) + "ResendEmailView", __name__)


InvoiceResendEmailView = _resend_view("invoice", "invoice.finalized", "invoice")
CreditNoteResendEmailView = _resend_view("credit_note", "credit_note.created", "credit note")
PaymentReceiptResendEmailView = _resend_view("payment_receipt", "payment_receipt.created", "payment receipt")


class CustomerPortalUrlView(OrganizationAPIView):
    resource_name = "customer"

    @endpoint("customers_portal_url", s.PortalUrlEnvelope)
    def get(self, request: Request, external_id: str) -> Response:
        """A signed, expiring link to the customer's portal (docs/portal.md)"""
        from payments import portal

        _, url = portal.portal_url(self.organization, external_id=external_id)
        return Response({"customer": {"portal_url": url}})
