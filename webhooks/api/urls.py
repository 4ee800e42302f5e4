from django.urls import path

from webhooks.api import views

urlpatterns = [
    path("webhook_endpoints", views.WebhookEndpointCollectionView.as_view(), name="webhook-endpoints"),
    path("webhook_endpoints/<str:lago_id>", views.WebhookEndpointDetailView.as_view(), name="webhook-endpoint-detail"),
    path("webhooks/json_public_key", views.WebhookPublicKeyView.as_view(), name="webhooks-public-key"),
    path("webhooks/public_key", views.WebhookPlainPublicKeyView.as_view(), name="webhooks-plain-public-key"),
    path("webhooks", views.WebhookDeliveryCollectionView.as_view(), name="webhooks"),
    path("webhooks/<str:lago_id>", views.WebhookDeliveryDetailView.as_view(), name="webhook-detail"),
    path("webhooks/<str:lago_id>/retry", views.WebhookDeliveryRetryView.as_view(), name="webhook-retry"),
]
