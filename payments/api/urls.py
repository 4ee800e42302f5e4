from billing_project.core.api.resources import resource_routes, route, routes_under
from payments.api import views as v

_CUSTOMER = "customers/<str:external_id>"

urlpatterns = [
    *routes_under(
        _CUSTOMER,
        "customer",
        {"payments": v.CustomerPaymentListView, "payment_requests": v.CustomerPaymentRequestListView},
    ),
    *resource_routes("payments", "payment_id", v.PaymentCollectionView, v.PaymentDetailView),
    *resource_routes("payment_receipts", "receipt_id", v.PaymentReceiptCollectionView, v.PaymentReceiptDetailView),
    *resource_routes("payment_requests", "request_id", v.PaymentRequestCollectionView, v.PaymentRequestDetailView),
    *routes_under(
        "invoices/<str:invoice_id>",
        "invoice",
        {"retry_payment": v.InvoiceRetryPaymentView, "payment_url": v.InvoicePaymentUrlView},
    ),
    route(
        "wallet_transactions/<str:transaction_id>/payment_url",
        v.WalletTransactionPaymentUrlView,
        "wallet-transaction-payment-url",
    ),
    *routes_under(
        _CUSTOMER,
        "customer",
        {
            "checkout_url": v.CustomerCheckoutUrlView,
            "portal_url": v.CustomerPortalUrlView,
            "payment_methods": v.CustomerPaymentMethodCollectionView,
            "payment_methods/<str:method_id>": (v.CustomerPaymentMethodDetailView, "customer-payment-method-detail"),
            "payment_methods/<str:method_id>/set_as_default": (
                v.CustomerPaymentMethodDefaultView,
                "customer-payment-method-default",
            ),
        },
    ),
    route("invoices/<str:invoice_id>/resend_email", v.InvoiceResendEmailView, "invoice-resend-email"),
    route("credit_notes/<str:credit_note_id>/resend_email", v.CreditNoteResendEmailView, "credit-note-resend-email"),
    route(
        "payment_receipts/<str:receipt_id>/resend_email",
        v.PaymentReceiptResendEmailView,
        "payment-receipt-resend-email",
    ),
]
