from django.urls import path

from usage_monitoring.api import views

urlpatterns = [
    path("subscriptions/<str:external_id>/alerts", views.AlertCollectionView.as_view(), name="subscription-alerts"),
    path(
        "subscriptions/<str:external_id>/alerts/<str:code>",
        views.AlertDetailView.as_view(),
        name="subscription-alert-detail",
    ),
    path(
        "subscriptions/<str:external_id>/lifetime_usage",
        views.LifetimeUsageView.as_view(),
        name="subscription-lifetime-usage",
    ),
]
