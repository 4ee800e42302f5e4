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
        "customers/<str:external_customer_id>/wallets/<str:wallet_code>/alerts",
        views.WalletAlertCollectionView.as_view(),
        name="wallet-alerts",
    ),
    path(
        "customers/<str:external_customer_id>/wallets/<str:wallet_code>/alerts/<str:code>",
        views.WalletAlertDetailView.as_view(),
        name="wallet-alert-detail",
    ),
    path(
        "subscriptions/<str:external_id>/lifetime_usage",
        views.LifetimeUsageView.as_view(),
        name="subscription-lifetime-usage",
    ),
]
