from django.urls import path

from subscriptions.api import views

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
]
