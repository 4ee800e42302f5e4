from __future__ import annotations

import json
from datetime import UTC

import factory

from tests.factories import ModelFactory
from tests.factories.customers import OrganizationFactory
from webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint


class WebhookEndpointFactory(ModelFactory[WebhookEndpoint]):
    class Meta:
        model = WebhookEndpoint

    organization = factory.SubFactory(OrganizationFactory)
    webhook_url = factory.Sequence(lambda n: f"https://hooks.example.test/{n}")
    signature_algo = "hmac"
    name = factory.Sequence(lambda n: f"Endpoint {n}")
    event_types = None


class WebhookDeliveryFactory(ModelFactory[WebhookDelivery]):
    class Meta:
        model = WebhookDelivery

    endpoint = factory.SubFactory(WebhookEndpointFactory)
    organization = factory.SelfAttribute("endpoint.organization")
    webhook_url = factory.SelfAttribute("endpoint.webhook_url")
    webhook_type = "customer.created"
    object_type = "customer"
    body = factory.LazyAttribute(
        lambda o: json.dumps(
            {
                "webhook_type": o.webhook_type,
                "object_type": "customer",
                "organization_id": str(o.organization.pk),
                "customer": {"external_id": "c"},
            }
        )
    )
    status = DeliveryStatus.PENDING
    next_attempt_at = factory.Faker("date_time_this_month", tzinfo=UTC)
