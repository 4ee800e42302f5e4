from collections.abc import Callable
from typing import Any

from django.urls import URLPattern, path

from payments import portal, views


def _portal(route: str, view: Callable[..., Any], name: str) -> URLPattern:
    """`portal/<token>/<route>`, named `portal-<name>`: a customer's portal (docs/portal.md)."""
    return path(f"portal/<str:token>/{route}", view, name=f"portal-{name}")


urlpatterns = [
    _portal("", portal.portal_home, "home"),
    _portal("invoices/<str:invoice_id>/pdf", portal.portal_invoice_pdf, "invoice-pdf"),
    _portal("invoices/<str:invoice_id>/pay", portal.portal_pay, "invoice-pay"),
    _portal("receipts/<str:receipt_id>/pdf", portal.portal_receipt_pdf, "receipt-pdf"),
    _portal("payment_methods/add", portal.portal_add_method, "method-add"),
    _portal("payment_methods/<str:method_id>/default", portal.portal_method_default, "method-default"),
    _portal("payment_methods/<str:method_id>/remove", portal.portal_method_remove, "method-remove"),
    path("webhooks/<str:provider>/<uuid:organization_id>", views.provider_webhook, name="provider-webhook"),
]
