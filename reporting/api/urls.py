from billing_project.core.api.resources import route
from reporting.api import views as v

urlpatterns = [
    *(route(f"analytics/{view.metric}", view, f"analytics-{view.metric.replace('_', '-')}") for view in v.ANALYTICS),
    route("exports", v.ExportCollectionView, "exports"),
    route("exports/<uuid:export_id>", v.ExportDetailView, "export-detail"),
    route("exports/<uuid:export_id>/download", v.ExportDownloadView, "export-download"),
]
