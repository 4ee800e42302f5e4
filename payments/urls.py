from django.urls import path

from payments import views

urlpatterns = [
    path("webhooks/<str:provider>/<uuid:organization_id>", views.provider_webhook, name="provider-webhook"),
]
