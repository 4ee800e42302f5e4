from billing_project.core.api.resources import resource_routes, route
from invoicing.api import preview
from invoicing.api import views as v

urlpatterns = [
    route("invoices", v.InvoiceCollectionView, "invoices"),
    route("invoices/preview", preview.InvoicePreviewView, "invoice-preview"),
    route("invoices/<str:invoice_id>", v.InvoiceDetailView, "invoice-detail"),
    route("invoices/<str:invoice_id>/finalize", v.InvoiceFinalizeView, "invoice-finalize"),
    route("invoices/<str:invoice_id>/refresh", v.InvoiceRefreshView, "invoice-refresh"),
    route("invoices/<str:invoice_id>/void", v.InvoiceVoidView, "invoice-void"),
    route("invoices/<str:invoice_id>/download", v.InvoiceDownloadView, "invoice-download"),
    route("invoices/<str:invoice_id>/download_pdf", v.InvoiceDownloadPdfView, "invoice-download-pdf"),
    route("invoices/<str:invoice_id>/retry", v.InvoiceRetryView, "invoice-retry"),
    route("invoices/<str:invoice_id>/lose_dispute", v.InvoiceLoseDisputeView, "invoice-lose-dispute"),
    *resource_routes("fees", "fee_id", v.FeeCollectionView, v.FeeDetailView),
    route("customers/<str:external_id>/invoices", v.CustomerInvoiceListView, "customer-invoices"),
    route("customers/<str:external_id>/current_usage", v.CurrentUsageView, "customer-current-usage"),
    route("customers/<str:external_id>/projected_usage", v.ProjectedUsageView, "customer-projected-usage"),
    route("customers/<str:external_id>/past_usage", v.PastUsageView, "customer-past-usage"),
]
