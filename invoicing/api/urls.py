from billing_project.core.api.resources import resource_routes, route, routes_under
from invoicing.api import preview
from invoicing.api import views as v

urlpatterns = [
    route("invoices", v.InvoiceCollectionView, "invoices"),
    route("invoices/preview", preview.InvoicePreviewView, "invoice-preview"),
    *routes_under(
        "invoices/<str:invoice_id>",
        "invoice",
        {
            "": v.InvoiceDetailView,
            "finalize": v.InvoiceFinalizeView,
            "refresh": v.InvoiceRefreshView,
            "void": v.InvoiceVoidView,
            "download": v.InvoiceDownloadView,
            "download_pdf": v.InvoiceDownloadPdfView,
            "retry": v.InvoiceRetryView,
            "lose_dispute": v.InvoiceLoseDisputeView,
        },
    ),
    *resource_routes("fees", "fee_id", v.FeeCollectionView, v.FeeDetailView),
    *routes_under(
        "customers/<str:external_id>",
        "customer",
        {
            "invoices": v.CustomerInvoiceListView,
            "current_usage": v.CurrentUsageView,
            "projected_usage": v.ProjectedUsageView,
            "past_usage": v.PastUsageView,
        },
    ),
]
