from billing_project.core.api.resources import resource_routes, route
from webhooks.api import views as v

urlpatterns = [
    *resource_routes("webhook_endpoints", "lago_id", v.WebhookEndpointCollectionView, v.WebhookEndpointDetailView),
    route("webhooks/json_public_key", v.WebhookPublicKeyView, "webhooks-public-key"),
    route("webhooks/public_key", v.WebhookPlainPublicKeyView, "webhooks-plain-public-key"),
    *resource_routes("webhooks", "lago_id", v.WebhookDeliveryCollectionView, v.WebhookDeliveryDetailView),
    route("webhooks/<str:lago_id>/retry", v.WebhookDeliveryRetryView, "webhook-retry"),
]
