from django.urls import path

from audit.api import views

urlpatterns = [
    path("activity_logs", views.ActivityLogCollectionView.as_view(), name="activity-logs"),
    path("activity_logs/<str:activity_id>", views.ActivityLogDetailView.as_view(), name="activity-log-detail"),
]
urlpatterns += [
    path("api_logs", views.ApiLogCollectionView.as_view(), name="api-logs"),
    path("api_logs/<str:request_id>", views.ApiLogDetailView.as_view(), name="api-log-detail"),
]
