from billing_project.core.api.resources import route
from reporting.api import views as v

urlpatterns = [
    route("analytics/gross_revenue", v.GrossRevenueView, "analytics-gross-revenue"),
    route("analytics/invoice_collection", v.InvoiceCollectionView, "analytics-invoice-collection"),
    route("analytics/usage", v.UsageView, "analytics-usage"),
    route("analytics/invoiced_usage", v.InvoicedUsageView, "analytics-invoiced-usage"),
    route("analytics/mrr", v.MrrView, "analytics-mrr"),
    route("analytics/overdue_balance", v.OverdueBalanceView, "analytics-overdue-balance"),
    route("analytics/churn", v.ChurnView, "analytics-churn"),
    route("analytics/net_revenue_retention", v.RetentionView, "analytics-net-revenue-retention"),
    route("analytics/customer_lifetime_value", v.LifetimeValueView, "analytics-customer-lifetime-value"),
    route("exports", v.ExportCollectionView, "exports"),
    route("exports/<uuid:export_id>", v.ExportDetailView, "export-detail"),
    route("exports/<uuid:export_id>/download", v.ExportDownloadView, "export-download"),
]
