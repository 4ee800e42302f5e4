from django.urls import path

from invoicing.api import preview, views

urlpatterns = [
    path("invoices", views.InvoiceCollectionView.as_view(), name="invoices"),
    path("invoices/preview", preview.InvoicePreviewView.as_view(), name="invoice-preview"),
    path("invoices/<str:invoice_id>", views.InvoiceDetailView.as_view(), name="invoice-detail"),
    path("invoices/<str:invoice_id>/finalize", views.InvoiceFinalizeView.as_view(), name="invoice-finalize"),
    path("invoices/<str:invoice_id>/refresh", views.InvoiceRefreshView.as_view(), name="invoice-refresh"),
    path("invoices/<str:invoice_id>/void", views.InvoiceVoidView.as_view(), name="invoice-void"),
    path("invoices/<str:invoice_id>/download", views.InvoiceDownloadView.as_view(), name="invoice-download"),
    path("fees", views.FeeCollectionView.as_view(), name="fees"),
    path("fees/<str:fee_id>", views.FeeDetailView.as_view(), name="fee-detail"),
    path("customers/<str:external_id>/invoices", views.CustomerInvoiceListView.as_view(), name="customer-invoices"),
    path("customers/<str:external_id>/current_usage", views.CurrentUsageView.as_view(), name="customer-current-usage"),
    path("customers/<str:external_id>/past_usage", views.PastUsageView.as_view(), name="customer-past-usage"),
]
