from django.urls import path

from payments import portal, views

urlpatterns = [
    path("portal/<str:token>/", portal.portal_home, name="portal-home"),
    path("portal/<str:token>/invoices/<str:invoice_id>/pdf", portal.portal_invoice_pdf, name="portal-invoice-pdf"),
    path("portal/<str:token>/invoices/<str:invoice_id>/pay", portal.portal_pay, name="portal-invoice-pay"),
    path("portal/<str:token>/receipts/<str:receipt_id>/pdf", portal.portal_receipt_pdf, name="portal-receipt-pdf"),
    path("portal/<str:token>/payment_methods/add", portal.portal_add_method, name="portal-method-add"),
    path(
        "portal/<str:token>/payment_methods/<str:method_id>/default",
        portal.portal_method_default,
        name="portal-method-default",
    ),
    path(
        "portal/<str:token>/payment_methods/<str:method_id>/remove",
        portal.portal_method_remove,
        name="portal-method-remove",
    ),
    path("webhooks/<str:provider>/<uuid:organization_id>", views.provider_webhook, name="provider-webhook"),
]
