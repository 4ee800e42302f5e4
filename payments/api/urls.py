from django.urls import path

from payments.api import views

urlpatterns = [
    path("payments", views.PaymentCollectionView.as_view(), name="payments"),
    path("customers/<str:external_id>/payments", views.CustomerPaymentListView.as_view(), name="customer-payments"),
    path(
        "customers/<str:external_id>/payment_requests",
        views.CustomerPaymentRequestListView.as_view(),
        name="customer-payment-requests",
    ),
    path("payments/<str:payment_id>", views.PaymentDetailView.as_view(), name="payment-detail"),
    path("payment_receipts", views.PaymentReceiptCollectionView.as_view(), name="payment-receipts"),
    path("payment_receipts/<str:receipt_id>", views.PaymentReceiptDetailView.as_view(), name="payment-receipt-detail"),
    path("payment_requests", views.PaymentRequestCollectionView.as_view(), name="payment-requests"),
    path("payment_requests/<str:request_id>", views.PaymentRequestDetailView.as_view(), name="payment-request-detail"),
    path(
        "invoices/<str:invoice_id>/retry_payment",
        views.InvoiceRetryPaymentView.as_view(),
        name="invoice-retry-payment",
    ),
    path("invoices/<str:invoice_id>/payment_url", views.InvoicePaymentUrlView.as_view(), name="invoice-payment-url"),
    path(
        "customers/<str:external_id>/checkout_url",
        views.CustomerCheckoutUrlView.as_view(),
        name="customer-checkout-url",
    ),
    path("customers/<str:external_id>/portal_url", views.CustomerPortalUrlView.as_view(), name="customer-portal-url"),
    path(
        "customers/<str:external_id>/payment_methods",
        views.CustomerPaymentMethodCollectionView.as_view(),
        name="customer-payment-methods",
    ),
    path(
        "customers/<str:external_id>/payment_methods/<str:method_id>",
        views.CustomerPaymentMethodDetailView.as_view(),
        name="customer-payment-method-detail",
    ),
    path(
        "customers/<str:external_id>/payment_methods/<str:method_id>/set_as_default",
        views.CustomerPaymentMethodDefaultView.as_view(),
        name="customer-payment-method-default",
    ),
    path("invoices/<str:invoice_id>/resend_email", views.InvoiceResendEmailView.as_view(), name="invoice-resend-email"),
    path(
        "credit_notes/<str:credit_note_id>/resend_email",
        views.CreditNoteResendEmailView.as_view(),
        name="credit-note-resend-email",
    ),
    path(
        "payment_receipts/<str:receipt_id>/resend_email",
        views.PaymentReceiptResendEmailView.as_view(),
        name="payment-receipt-resend-email",
    ),
]
