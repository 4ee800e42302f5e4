from django.urls import path

from subscriptions.api import views

urlpatterns = [
    path("subscriptions", views.SubscriptionCollectionView.as_view(), name="subscriptions"),
    path("subscriptions/<str:external_id>", views.SubscriptionDetailView.as_view(), name="subscription-detail"),
]
