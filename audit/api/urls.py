from audit.api import views as v
from billing_project.core.api.resources import resource_routes

urlpatterns = [
    *resource_routes("activity_logs", "activity_id", v.ActivityLogCollectionView, v.ActivityLogDetailView),
    *resource_routes("api_logs", "request_id", v.ApiLogCollectionView, v.ApiLogDetailView),
]
