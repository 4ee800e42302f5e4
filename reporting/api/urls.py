from django.urls import path

from reporting.api import views

urlpatterns = [
    path("analytics/gross_revenue", views.GrossRevenueView.as_view(), name="analytics-gross-revenue"),
    path("analytics/invoice_collection", views.InvoiceCollectionView.as_view(), name="analytics-invoice-collection"),
    path("analytics/usage", views.UsageView.as_view(), name="analytics-usage"),
    path("analytics/invoiced_usage", views.InvoicedUsageView.as_view(), name="analytics-invoiced-usage"),
    path("analytics/mrr", views.MrrView.as_view(), name="analytics-mrr"),
    path("analytics/overdue_balance", views.OverdueBalanceView.as_view(), name="analytics-overdue-balance"),
    path("analytics/churn", views.ChurnView.as_view(), name="analytics-churn"),
    path("analytics/net_revenue_retention", views.RetentionView.as_view(), name="analytics-net-revenue-retention"),
    path(
        "analytics/customer_lifetime_value", views.LifetimeValueView.as_view(), name="analytics-customer-lifetime-value"
    ),
    path("exports", views.ExportCollectionView.as_view(), name="exports"),
    path("exports/<uuid:export_id>", views.ExportDetailView.as_view(), name="export-detail"),
    path("exports/<uuid:export_id>/download", views.ExportDownloadView.as_view(), name="export-download"),
]
