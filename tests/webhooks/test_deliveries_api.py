"""The deliveries ledger over the API: list with filters, detail with attempts, retry."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from tests.factories.webhooks import WebhookDeliveryFactory, WebhookEndpointFactory
from webhooks import services
from webhooks.models import DeliveryStatus, WebhookDelivery

pytestmark = pytest.mark.django_db


def test_list_filters_by_status_type_and_endpoint(tenant):
    endpoint = WebhookEndpointFactory(organization=tenant.organization)
    other_endpoint = WebhookEndpointFactory(organization=tenant.organization)
    failed = WebhookDeliveryFactory(endpoint=endpoint, status=DeliveryStatus.FAILED, next_attempt_at=None)
    succeeded = WebhookDeliveryFactory(endpoint=endpoint, status=DeliveryStatus.SUCCEEDED, next_attempt_at=None)
    pending = WebhookDeliveryFactory(endpoint=other_endpoint, webhook_type="invoice.created", object_type="invoice")

    def ids(**params):
        response = tenant.client.get("/api/v1/webhooks", params)
        assert response.status_code == 200
        return {item["lago_id"] for item in response.json()["webhooks"]}

    assert ids() == {str(failed.pk), str(succeeded.pk), str(pending.pk)}
    assert ids(status="failed") == {str(failed.pk)}
    assert ids(**{"statuses[]": ["failed", "pending"]}) == {str(failed.pk), str(pending.pk)}
    assert ids(webhook_type="invoice.created") == {str(pending.pk)}
    assert ids(webhook_endpoint_id=str(endpoint.pk)) == {str(failed.pk), str(succeeded.pk)}
    assert ids(webhook_endpoint_id="nope") == set()

    item = tenant.client.get("/api/v1/webhooks", {"status": "failed"}).json()["webhooks"][0]
    assert item["status"] == "failed"
    assert item["lago_webhook_endpoint_id"] == str(endpoint.pk)
    assert item["payload"]["webhook_type"] == "customer.created"
    assert item["retries"] == 0


def test_retry_sends_a_failed_delivery_again(tenant, receiver, django_capture_on_commit_callbacks):
    receiver.status = 500
    WebhookEndpointFactory(organization=tenant.organization, webhook_url=receiver.url)
    (delivery,) = services.webhook_send(
        tenant.organization, webhook_type="customer.created", object_type="customer", payload={"external_id": "c"}
    )
    services.webhook_delivery_attempt(delivery.pk)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.FAILED, next_attempt_at=None)

    receiver.status = 200
    with django_capture_on_commit_callbacks(execute=True):
        response = tenant.client.post(f"/api/v1/webhooks/{delivery.pk}/retry")
    assert response.status_code == 200
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert delivery.attempts_count == 2
    assert len(receiver.requests) == 2

    again = tenant.client.post(f"/api/v1/webhooks/{delivery.pk}/retry")
    assert again.status_code == 405
    assert again.json()["code"] == "is_succeeded"
    detail = tenant.client.get(f"/api/v1/webhooks/{delivery.pk}").json()["webhook"]
    assert [(a["number"], a["http_status"], a["succeeded"]) for a in detail["attempts"]] == [
        (1, 500, False),
        (2, 200, True),
    ]


def test_retry_of_a_delivery_whose_endpoint_is_gone_is_refused(tenant):
    endpoint = WebhookEndpointFactory(organization=tenant.organization)
    delivery = WebhookDeliveryFactory(endpoint=endpoint)
    services.webhook_endpoint_delete(tenant.organization, lago_id=endpoint.pk)
    response = tenant.client.post(f"/api/v1/webhooks/{delivery.pk}/retry")
    assert response.status_code == 405
    assert response.json()["code"] == "webhook_endpoint_deleted"


def test_another_tenant_gets_404_on_deliveries(tenant, other_tenant):
    delivery = WebhookDeliveryFactory(endpoint=WebhookEndpointFactory(organization=tenant.organization))
    for response in (
        other_tenant.client.get(f"/api/v1/webhooks/{delivery.pk}"),
        other_tenant.client.post(f"/api/v1/webhooks/{delivery.pk}/retry"),
    ):
        assert response.status_code == 404
        assert response.json()["code"] == "webhook_not_found"
    assert other_tenant.client.get("/api/v1/webhooks").json()["webhooks"] == []
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING


def test_retry_all_failed_for_an_endpoint(organization):
    endpoint = WebhookEndpointFactory(organization=organization)
    failed = WebhookDeliveryFactory.create_batch(3, endpoint=endpoint, status=DeliveryStatus.FAILED)
    succeeded = WebhookDeliveryFactory(endpoint=endpoint, status=DeliveryStatus.SUCCEEDED)
    assert services.webhook_endpoint_retry_failed(organization, lago_id=endpoint.pk) == 3
    assert {d.status for d in WebhookDelivery.objects.filter(pk__in=[d.pk for d in failed])} == {"pending"}
    succeeded.refresh_from_db()
    assert succeeded.status == DeliveryStatus.SUCCEEDED


def test_sweep_command(organization, receiver):
    WebhookEndpointFactory(organization=organization, webhook_url=receiver.url)
    services.webhook_send(organization, webhook_type="customer.created", object_type="customer", payload={"a": "1"})
    from io import StringIO

    out = StringIO()
    call_command("webhooks_sweep", "--dry-run", stdout=out)
    assert "1 delivery(ies) due; nothing sent" in out.getvalue()
    assert receiver.requests == []
    out = StringIO()
    call_command("webhooks_sweep", "--inline", stdout=out)
    assert "Attempted 1 delivery(ies): 1 succeeded" in out.getvalue()
    assert len(receiver.requests) == 1
    out = StringIO()
    call_command("webhooks_sweep", stdout=out)
    assert "Enqueued 0 delivery(ies)." in out.getvalue()


def test_retry_webhooks_command_sends_failed_deliveries_again_in_bulk(
    organization, other_tenant, receiver, django_capture_on_commit_callbacks
):
    from io import StringIO

    endpoint = WebhookEndpointFactory(organization=organization, webhook_url=receiver.url + "/T0/B0/s3cr3t?token=abc")
    failed = WebhookDeliveryFactory.create_batch(
        3, organization=organization, endpoint=endpoint, webhook_url=endpoint.webhook_url, status=DeliveryStatus.FAILED
    )
    other = WebhookDeliveryFactory(
        organization=other_tenant.organization,
        endpoint=WebhookEndpointFactory(organization=other_tenant.organization),
        status=DeliveryStatus.FAILED,
    )
    out = StringIO()
    call_command("retry_webhooks", "--organization", organization.name, "--dry-run", stdout=out)
    assert "dry run: 3 failed delivery(ies) would be sent again" in out.getvalue()
    assert "s3cr3t" not in out.getvalue() and "token=abc" not in out.getvalue()  # URLs may carry tokens
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"failed"}
    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("retry_webhooks", "--organization", str(organization.id), "--no-progress", stdout=out)
    assert "3 failed delivery(ies) queued again" in out.getvalue()
    assert len(receiver.requests) == 3
    assert {d.status for d in WebhookDelivery.objects.filter(pk__in=[d.pk for d in failed])} == {"succeeded"}
    other.refresh_from_db()
    assert other.status == "failed"  # another organization's dead letter is left alone
    with pytest.raises(CommandError):
        call_command("retry_webhooks", "--endpoint", "nope")
