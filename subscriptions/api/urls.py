from django.urls import path

from subscriptions.api import fixed_charges, views

urlpatterns = [
    path("subscriptions", views.SubscriptionCollectionView.as_view(), name="subscriptions"),
    path(
        "customers/<str:external_id>/subscriptions",
        views.CustomerSubscriptionListView.as_view(),
        name="customer-subscriptions",
    ),
    path("subscriptions/<str:external_id>", views.SubscriptionDetailView.as_view(), name="subscription-detail"),
    path("subscriptions/<str:external_id>/charges", views.SubscriptionChargeCollectionView.as_view()),
    path("subscriptions/<str:external_id>/charges/<str:charge_code>", views.SubscriptionChargeDetailView.as_view()),
    path(
        "subscriptions/<str:external_id>/charges/<str:charge_code>/filters",
        views.SubscriptionChargeFilterCollectionView.as_view(),
    ),
    path(
        "subscriptions/<str:external_id>/charges/<str:charge_code>/filters/<str:filter_id>",
        views.SubscriptionChargeFilterDetailView.as_view(),
    ),
    path(
        "subscriptions/<str:external_id>/fixed_charges",
        fixed_charges.SubscriptionFixedChargeCollectionView.as_view(),
    ),
    path(
        "subscriptions/<str:external_id>/fixed_charges/<str:fixed_charge_code>",
        fixed_charges.SubscriptionFixedChargeDetailView.as_view(),
    ),
]
