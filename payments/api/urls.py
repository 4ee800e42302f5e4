from billing_project.core.api.resources import resource_routes, route
from payments.api import views as v

urlpatterns = [
    route("customers/<str:external_id>/payments", v.CustomerPaymentListView, "customer-payments"),
    route(
        "customers/<str:external_id>/payment_requests", v.CustomerPaymentRequestListView, "customer-payment-requests"
    ),
    *resource_routes("payments", "payment_id", v.PaymentCollectionView, v.PaymentDetailView),
    *resource_routes("payment_receipts", "receipt_id", v.PaymentReceiptCollectionView, v.PaymentReceiptDetailView),
    *resource_routes("payment_requests", "request_id", v.PaymentRequestCollectionView, v.PaymentRequestDetailView),
    route("invoices/<str:invoice_id>/retry_payment", v.InvoiceRetryPaymentView, "invoice-retry-payment"),
    route("invoices/<str:invoice_id>/payment_url", v.InvoicePaymentUrlView, "invoice-payment-url"),
    route(
        "wallet_transactions/<str:transaction_id>/payment_url",
        v.WalletTransactionPaymentUrlView,
        "wallet-transaction-payment-url",
    ),
    route("customers/<str:external_id>/checkout_url", v.CustomerCheckoutUrlView, "customer-checkout-url"),
    route("customers/<str:external_id>/portal_url", v.CustomerPortalUrlView, "customer-portal-url"),
    route(
        "customers/<str:external_id>/payment_methods",
        v.CustomerPaymentMethodCollectionView,
        "customer-payment-methods",
    ),
    route(
        "customers/<str:external_id>/payment_methods/<str:method_id>",
        v.CustomerPaymentMethodDetailView,
        "customer-payment-method-detail",
    ),
    route(
        "customers/<str:external_id>/payment_methods/<str:method_id>/set_as_default",
        v.CustomerPaymentMethodDefaultView,
        "customer-payment-method-default",
    ),
    route("invoices/<str:invoice_id>/resend_email", v.InvoiceResendEmailView, "invoice-resend-email"),
    route("credit_notes/<str:credit_note_id>/resend_email", v.CreditNoteResendEmailView, "credit-note-resend-email"),
    route(
        "payment_receipts/<str:receipt_id>/resend_email",
        v.PaymentReceiptResendEmailView,
        "payment-receipt-resend-email",
    ),
]
