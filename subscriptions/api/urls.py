from billing_project.core.api.resources import route
from subscriptions.api import fixed_charges
from subscriptions.api import views as v

_CHARGE = "subscriptions/<str:external_id>/charges/<str:charge_code>"

urlpatterns = [
    route("subscriptions", v.SubscriptionCollectionView, "subscriptions"),
    route("customers/<str:external_id>/subscriptions", v.CustomerSubscriptionListView, "customer-subscriptions"),
    route("subscriptions/<str:external_id>", v.SubscriptionDetailView, "subscription-detail"),
    route("subscriptions/<str:external_id>/charges", v.SubscriptionChargeCollectionView),
    route(_CHARGE, v.SubscriptionChargeDetailView),
    route(f"{_CHARGE}/filters", v.SubscriptionChargeFilterCollectionView),
    route(f"{_CHARGE}/filters/<str:filter_id>", v.SubscriptionChargeFilterDetailView),
    route("subscriptions/<str:external_id>/fixed_charges", fixed_charges.SubscriptionFixedChargeCollectionView),
    route(
        "subscriptions/<str:external_id>/fixed_charges/<str:fixed_charge_code>",
        fixed_charges.SubscriptionFixedChargeDetailView,
    ),
]
