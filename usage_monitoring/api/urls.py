from billing_project.core.api.resources import route
from usage_monitoring.api import views as v

_WALLET = "customers/<str:external_customer_id>/wallets/<str:wallet_code>"

urlpatterns = [
    route("subscriptions/<str:external_id>/alerts", v.AlertCollectionView, "subscription-alerts"),
    route("subscriptions/<str:external_id>/alerts/<str:code>", v.AlertDetailView, "subscription-alert-detail"),
    route(f"{_WALLET}/alerts", v.WalletAlertCollectionView, "wallet-alerts"),
    route(f"{_WALLET}/alerts/<str:code>", v.WalletAlertDetailView, "wallet-alert-detail"),
    route("subscriptions/<str:external_id>/lifetime_usage", v.LifetimeUsageView, "subscription-lifetime-usage"),
]
