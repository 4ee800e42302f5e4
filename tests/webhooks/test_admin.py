"""The finance console pages of the webhooks app."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import override_settings

from tests.factories.webhooks import WebhookDeliveryFactory, WebhookEndpointFactory
from webhooks.models import DeliveryStatus, WebhookEndpoint

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    user = get_user_model().objects.create_superuser("admin", "admin@example.test", "pw")
    client.force_login(user)
    return client


def test_every_changelist_add_and_change_page_loads(staff_client, organization):
    endpoint = WebhookEndpointFactory(organization=organization)
    delivery = WebhookDeliveryFactory(endpoint=endpoint)
    for url in (
        "/admin/webhooks/webhookendpoint/",
        "/admin/webhooks/webhookendpoint/add/",
        f"/admin/webhooks/webhookendpoint/{endpoint.pk}/change/",
        "/admin/webhooks/webhookdelivery/",
        "/admin/webhooks/webhookdelivery/?status__exact=failed",
        f"/admin/webhooks/webhookdelivery/{delivery.pk}/change/",
    ):
        assert staff_client.get(url).status_code == 200, url
    # The ledger cannot be written by hand.
    assert staff_client.get("/admin/webhooks/webhookdelivery/add/").status_code == 403
    endpoint_page = staff_client.get(f"/admin/webhooks/webhookendpoint/{endpoint.pk}/change/").content.decode()
    assert organization.webhook_hmac_key in endpoint_page  # integrators need it to verify HMAC signatures
    page = staff_client.get(f"/admin/webhooks/webhookdelivery/{delivery.pk}/change/").content.decode()
    assert "customer.created" in page and "Save" not in page


def test_admin_creates_endpoints_through_the_service_rules(staff_client, organization):
    data = {
        "organization": organization.pk,
        "webhook_url": "https://hooks.example.test/admin",
        "signature_algo": "hmac",
        "name": "Admin",
        "event_types": "customer.created, invoice.created",
    }
    response = staff_client.post("/admin/webhooks/webhookendpoint/add/", data)
    assert response.status_code == 302
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.event_types == ["customer.created", "invoice.created"]

    duplicate = staff_client.post("/admin/webhooks/webhookendpoint/add/", data)
    assert duplicate.status_code == 200
    assert "value_already_exist" in duplicate.content.decode()
    with override_settings(WEBHOOKS_ALLOW_PRIVATE_TARGETS=False):
        private = staff_client.post(
            "/admin/webhooks/webhookendpoint/add/", {**data, "webhook_url": "http://10.0.0.1/x"}
        )
    assert "WEBHOOKS_ALLOW_PRIVATE_TARGETS" in private.content.decode()
    assert WebhookEndpoint.objects.count() == 1


def test_retry_actions(staff_client, organization):
    endpoint = WebhookEndpointFactory(organization=organization)
    failed = WebhookDeliveryFactory.create_batch(2, endpoint=endpoint, status=DeliveryStatus.FAILED)
    succeeded = WebhookDeliveryFactory(endpoint=endpoint, status=DeliveryStatus.SUCCEEDED)

    response = staff_client.post(
        "/admin/webhooks/webhookdelivery/",
        {"action": "retry_now", "_selected_action": [str(failed[0].pk), str(succeeded.pk)]},
        follow=True,
    )
    page = response.content.decode()
    assert "Queued 1 delivery(ies)" in page and "is_succeeded" in page
    failed[0].refresh_from_db()
    assert failed[0].status == DeliveryStatus.PENDING

    response = staff_client.post(
        "/admin/webhooks/webhookdelivery/",
        {"action": "retry_all_failed_for_endpoint", "_selected_action": [str(succeeded.pk)]},
        follow=True,
    )
    assert "Queued 1 failed delivery(ies) of 1 endpoint(s)" in response.content.decode()
    failed[1].refresh_from_db()
    assert failed[1].status == DeliveryStatus.PENDING

    failed[1].status = DeliveryStatus.FAILED
    failed[1].save()
    response = staff_client.post(
        "/admin/webhooks/webhookendpoint/",
        {"action": "retry_failed_deliveries", "_selected_action": [str(endpoint.pk)]},
        follow=True,
    )
    assert "Queued 1 failed delivery(ies)" in response.content.decode()
