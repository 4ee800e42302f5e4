from django.urls import path

from audit.api import views

urlpatterns = [
    path("activity_logs", views.ActivityLogCollectionView.as_view(), name="activity-logs"),
    path("activity_logs/<str:activity_id>", views.ActivityLogDetailView.as_view(), name="activity-log-detail"),
]
