"""customer.created / customer.updated, the first real events, end to end."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import jwt
import pytest

from tests.factories.webhooks import WebhookEndpointFactory
from webhooks.models import DeliveryStatus, WebhookDelivery


@pytest.mark.django_db(transaction=True)
def test_customer_upsert_emits_created_then_updated(tenant, receiver):
    WebhookEndpointFactory(organization=tenant.organization, webhook_url=receiver.url, signature_algo="hmac")
    created = tenant.client.post(
        "/api/v1/customers", {"customer": {"external_id": "c-1", "name": "Acme"}}, format="json"
    )
    assert created.status_code == 200
    updated = tenant.client.post(
        "/api/v1/customers", {"customer": {"external_id": "c-1", "name": "Acme 2"}}, format="json"
    )
    assert updated.status_code == 200

    assert len(receiver.requests) == 2
    first, second = (json.loads(r.body) for r in receiver.requests)
    assert first["webhook_type"] == "customer.created"
    assert second["webhook_type"] == "customer.updated"
    assert first["object_type"] == "customer"
    assert first["organization_id"] == str(tenant.organization.pk)
    assert first["customer"] == created.json()["customer"]
    assert second["customer"]["name"] == "Acme 2"
    assert second["customer"]["lago_id"] == first["customer"]["lago_id"]
    secret = tenant.organization.webhook_hmac_key.encode()
    for request in receiver.requests:
        expected = base64.b64encode(hmac.new(secret, request.body, hashlib.sha256).digest()).decode()
        assert request.headers["X-Lago-Signature"] == expected
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {DeliveryStatus.SUCCEEDED}


@pytest.mark.django_db(transaction=True)
def test_a_refused_upsert_sends_nothing(tenant, receiver):
    WebhookEndpointFactory(organization=tenant.organization, webhook_url=receiver.url)
    response = tenant.client.post(
        "/api/v1/customers", {"customer": {"external_id": "c-1", "currency": "XXX1"}}, format="json"
    )
    assert response.status_code == 422
    assert receiver.requests == []
    assert not WebhookDelivery.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_integrator_flow_with_the_official_lago_client(lago, receiver, settings):
    """Register an endpoint, fetch the public key and receive a JWT-signed customer.created."""
    from lago_python_client.models import Customer, WebhookEndpoint

    endpoint = lago.client.webhook_endpoints.create(
        WebhookEndpoint(webhook_url=receiver.url, signature_algo="jwt", name="mine", event_types=["customer.created"])
    )
    assert endpoint.webhook_url == receiver.url
    assert endpoint.lago_organization_id == str(lago.organization.pk)
    public_pem = lago.client.webhooks.public_key()

    lago.client.customers.create(Customer(external_id="acme", name="Acme"))
    lago.client.customers.create(Customer(external_id="acme", name="Acme Inc"))  # an update: not subscribed

    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    claims = jwt.decode(
        request.headers["X-Lago-Signature"], public_pem, algorithms=["RS256"], issuer=settings.BXB_API_URL
    )
    assert claims["data"] == request.body.decode()
    body = json.loads(claims["data"])
    assert body["webhook_type"] == "customer.created"
    assert body["customer"]["external_id"] == "acme"
