"""Delivery of webhooks to a real HTTP receiver on loopback: signatures, retries, idempotency."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import timedelta

import jwt
import pytest
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from tests.factories.webhooks import WebhookEndpointFactory
from webhooks import selectors, services, tasks
from webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery

pytestmark = pytest.mark.django_db

PAYLOAD = {"lago_id": "c0ffee00-0000-4000-8000-000000000001", "external_id": "cust_1", "amount": "12.50"}


def send(organization, webhook_type="customer.created", payload=None):
    return services.webhook_send(
        organization, webhook_type=webhook_type, object_type="customer", payload=payload or PAYLOAD
    )


def test_send_without_endpoints_costs_one_query(organization, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert send(organization) == []
    assert not WebhookDelivery.objects.exists()


def test_send_writes_one_delivery_per_matching_endpoint_and_delivers_after_commit(
    organization, receiver, django_capture_on_commit_callbacks
):
    endpoint = WebhookEndpointFactory(organization=organization, webhook_url=receiver.url, signature_algo="hmac")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        deliveries = send(organization)
    assert len(deliveries) == 1
    assert receiver.requests == []  # nothing leaves before commit
    for callback in callbacks:
        callback()
    assert len(receiver.requests) == 1
    delivery = WebhookDelivery.objects.get()
    assert delivery.endpoint == endpoint
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert delivery.attempts_count == 1
    assert delivery.last_http_status == 200
    body = json.loads(receiver.requests[0].body)
    assert body == {
        "webhook_type": "customer.created",
        "object_type": "customer",
        "organization_id": str(organization.pk),
        "customer": PAYLOAD,
    }
    attempt = WebhookAttempt.objects.get()
    assert attempt.succeeded and attempt.http_status == 200
    assert attempt.response_excerpt == '{"ok":true}'


def test_hmac_signature_verifies_and_a_tampered_body_does_not(organization, receiver):
    WebhookEndpointFactory(organization=organization, webhook_url=receiver.url, signature_algo="hmac")
    (delivery,) = send(organization)
    tasks.webhook_deliver(str(delivery.pk))

    request = receiver.requests[0]
    assert request.headers["X-Lago-Signature-Algorithm"] == "hmac"
    assert request.headers["X-Lago-Unique-Key"] == str(delivery.pk)
    assert request.headers["Content-Type"] == "application/json"
    secret = organization.webhook_hmac_key.encode()

    def verify(body: bytes) -> bool:
        expected = base64.b64encode(hmac.new(secret, body, hashlib.sha256).digest()).decode()
        return hmac.compare_digest(expected, request.headers["X-Lago-Signature"])

    assert verify(request.body)
    tampered = request.body.replace(b"12.50", b"99.50")
    assert tampered != request.body
    assert not verify(tampered)


def test_jwt_signature_verifies_with_the_public_key_and_a_tampered_body_does_not(tenant, receiver, settings):
    organization = tenant.organization
    WebhookEndpointFactory(organization=organization, webhook_url=receiver.url, signature_algo="jwt")
    (delivery,) = send(organization)
    tasks.webhook_deliver(str(delivery.pk))

    request = receiver.requests[0]
    assert request.headers["X-Lago-Signature-Algorithm"] == "jwt"
    response = tenant.client.get("/api/v1/webhooks/json_public_key")
    assert response.status_code == 200
    public_pem = base64.b64decode(response.json()["webhook"]["public_key"])

    token = request.headers["X-Lago-Signature"]
    claims = jwt.decode(token, public_pem, algorithms=["RS256"], issuer=settings.BXB_API_URL)
    assert claims["data"] == request.body.decode()  # the signed data is exactly the body received

    tampered_body = request.body.replace(b"12.50", b"99.50")
    assert jwt.decode(token, public_pem, algorithms=["RS256"])["data"] != tampered_body.decode()
    header, _claims, signature = token.split(".")
    forged_claims = base64.urlsafe_b64encode(json.dumps({"data": tampered_body.decode()}).encode()).rstrip(b"=")
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(f"{header}.{forged_claims.decode()}.{signature}", public_pem, algorithms=["RS256"])


def test_receiver_down_then_500_then_timeout_then_up_delivers_exactly_once(organization, idle_receiver):
    rec = idle_receiver
    WebhookEndpointFactory(organization=organization, webhook_url=rec.url)
    (delivery,) = send(organization)
    t0 = delivery.created_at

    # 1. Nobody listens: connection refused.
    first = services.webhook_delivery_attempt(delivery.pk, now=t0)
    assert first.status == DeliveryStatus.PENDING
    assert first.last_http_status is None and first.last_error
    delay1 = first.next_attempt_at - t0
    # Not due yet: a premature run does nothing.
    assert services.webhook_delivery_attempt(delivery.pk, now=t0 + timedelta(seconds=30)) is None

    # 2. Up, but answering 500.
    rec.status = 500
    rec.start()
    t1 = first.next_attempt_at
    second = services.webhook_delivery_attempt(delivery.pk, now=t1)
    assert second.status == DeliveryStatus.PENDING and second.last_http_status == 500
    delay2 = second.next_attempt_at - t1

    # 3. Too slow: the bounded timeout cuts it.
    rec.status, rec.delay = 200, 1.5
    t2 = second.next_attempt_at
    with override_settings(WEBHOOKS_TIMEOUT_SECONDS=0.5):
        third = services.webhook_delivery_attempt(delivery.pk, now=t2)
    assert third.status == DeliveryStatus.PENDING and third.last_http_status is None
    assert "timeout" in third.last_error
    delay3 = third.next_attempt_at - t2

    # 4. Healthy.
    rec.delay = 0
    t3 = third.next_attempt_at
    fourth = services.webhook_delivery_attempt(delivery.pk, now=t3)
    assert fourth.status == DeliveryStatus.SUCCEEDED
    assert fourth.delivered_at == t3 and fourth.next_attempt_at is None
    # Once delivered, nothing is ever sent again.
    assert services.webhook_delivery_attempt(delivery.pk, now=t3 + timedelta(days=1)) is None

    assert delay1 < delay2 < delay3  # backoff grows
    assert timedelta(minutes=1) <= delay1 <= timedelta(minutes=1.1)
    assert timedelta(minutes=5) <= delay2 <= timedelta(minutes=5.5)
    assert timedelta(minutes=15) <= delay3 <= timedelta(minutes=16.5)

    attempts = list(WebhookAttempt.objects.filter(delivery=delivery).order_by("number"))
    assert [a.number for a in attempts] == [1, 2, 3, 4]
    assert [a.http_status for a in attempts] == [None, 500, None, 200]
    assert [a.succeeded for a in attempts] == [False, False, False, True]
    assert attempts[2].duration_ms >= 400
    assert "timeout" in attempts[2].error
    # The receiver saw the 500, the timed-out one and the successful one: a single success.
    assert len(rec.requests) == 3
    assert {r.headers["X-Lago-Unique-Key"] for r in rec.requests} == {str(delivery.pk)}
    assert len({r.body for r in rec.requests}) == 1  # identical body on every retry


@override_settings(WEBHOOKS_RETRY_MAX_AGE_SECONDS=3600)
def test_after_the_maximum_age_the_delivery_is_failed_and_visible(tenant, receiver):
    organization = tenant.organization
    receiver.status = 503
    receiver.reply = b"maintenance"
    WebhookEndpointFactory(organization=organization, webhook_url=receiver.url)
    (delivery,) = send(organization)
    now = delivery.created_at
    attempts = 0
    while True:
        result = services.webhook_delivery_attempt(delivery.pk, now=now)
        attempts += 1
        if result.status != DeliveryStatus.PENDING:
            break
        now = result.next_attempt_at
    # 0, +1, +6, +21, +51 minutes; the next (+111 min) would pass the 1 hour maximum age.
    assert attempts == 5
    assert result.status == DeliveryStatus.FAILED and result.next_attempt_at is None
    assert result.last_http_status == 503 and result.last_error == "HTTP 503"
    assert services.webhook_delivery_attempt(delivery.pk, now=now + timedelta(hours=1)) is None
    assert len(receiver.requests) == 5

    listed = tenant.client.get("/api/v1/webhooks", {"status": "failed"}).json()
    assert [item["lago_id"] for item in listed["webhooks"]] == [str(delivery.pk)]
    detail = tenant.client.get(f"/api/v1/webhooks/{delivery.pk}").json()["webhook"]
    assert [a["http_status"] for a in detail["attempts"]] == [503] * 5
    assert detail["attempts"][0]["response"] == "maintenance"


def test_endpoints_filter_by_event_type(organization, receiver):
    invoices_only = WebhookEndpointFactory(
        organization=organization, webhook_url=receiver.url + "?only=invoices", event_types=["invoice.created"]
    )
    everything = WebhookEndpointFactory(organization=organization, webhook_url=receiver.url + "?all=1")
    customer_deliveries = send(organization, "customer.created")
    assert [d.endpoint for d in customer_deliveries] == [everything]
    invoice_deliveries = services.webhook_send(
        organization, webhook_type="invoice.created", object_type="invoice", payload={"lago_id": "i"}
    )
    assert {d.endpoint for d in invoice_deliveries} == {invoices_only, everything}


def test_other_organizations_endpoints_receive_nothing(organization, other_tenant, receiver):
    WebhookEndpointFactory(organization=other_tenant.organization, webhook_url=receiver.url)
    assert send(organization) == []


def test_the_task_run_twice_delivers_once(organization, receiver):
    WebhookEndpointFactory(organization=organization, webhook_url=receiver.url)
    (delivery,) = send(organization)
    tasks.webhook_deliver(str(delivery.pk))
    tasks.webhook_deliver(str(delivery.pk))
    assert len(receiver.requests) == 1
    assert WebhookAttempt.objects.filter(delivery=delivery).count() == 1


def test_a_delivery_held_by_a_worker_is_not_sent_by_another(organization, receiver):
    WebhookEndpointFactory(organization=organization, webhook_url=receiver.url)
    (delivery,) = send(organization)
    now = timezone.now()
    assert services._claim(delivery.pk, now) is not None  # worker A is sending it
    assert services.webhook_delivery_attempt(delivery.pk, now=now) is None  # worker B does nothing
    assert receiver.requests == []
    # If worker A died, its lease expires and the delivery is taken again.
    later = now + services._lease_duration() + timedelta(seconds=1)
    assert services.webhook_delivery_attempt(delivery.pk, now=later).status == DeliveryStatus.SUCCEEDED
    assert len(receiver.requests) == 1


def test_the_sweeper_sends_what_the_on_commit_hook_missed(organization, receiver):
    WebhookEndpointFactory(organization=organization, webhook_url=receiver.url)
    # No on-commit callback runs here: as if the process died right after commit.
    (delivery,) = send(organization)
    assert receiver.requests == []
    assert selectors.webhook_deliveries_due(timezone.now()) == [str(delivery.pk)]
    assert tasks.webhook_deliveries_sweep() == 1
    assert len(receiver.requests) == 1
    assert tasks.webhook_deliveries_sweep() == 0
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED


def test_deleting_the_endpoint_fails_its_pending_deliveries(organization, idle_receiver):
    endpoint = WebhookEndpointFactory(organization=organization, webhook_url=idle_receiver.url)
    (delivery,) = send(organization)
    services.webhook_endpoint_delete(organization, lago_id=endpoint.pk)
    delivery.refresh_from_db()
    assert delivery.endpoint is None
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.last_error == "webhook endpoint deleted"
    assert services.webhook_delivery_attempt(delivery.pk) is None


@override_settings(WEBHOOKS_ALLOW_PRIVATE_TARGETS=False)
def test_a_target_that_became_private_is_not_called(organization, receiver):
    WebhookEndpointFactory(organization=organization, webhook_url=receiver.url)  # saved while allowed
    (delivery,) = send(organization)
    result = services.webhook_delivery_attempt(delivery.pk)
    assert result.status == DeliveryStatus.PENDING
    assert "private" in result.last_error and "WEBHOOKS_ALLOW_PRIVATE_TARGETS" in result.last_error
    assert receiver.requests == []


def test_payload_callable_is_only_called_when_someone_listens(organization):
    calls = []

    def payload():
        calls.append(1)
        return PAYLOAD

    assert (
        services.webhook_send(organization, webhook_type="customer.created", object_type="customer", payload=payload)
        == []
    )
    assert calls == []
    WebhookEndpointFactory(organization=organization)
    assert (
        len(
            services.webhook_send(
                organization, webhook_type="customer.created", object_type="customer", payload=payload
            )
        )
        == 1
    )
    assert calls == [1]


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_transaction_sends_nothing_and_a_committed_one_sends(receiver):
    from tests.factories.customers import OrganizationFactory

    organization = OrganizationFactory()
    WebhookEndpointFactory(organization=organization, webhook_url=receiver.url)

    class Boom(Exception):
        pass

    with pytest.raises(Boom), transaction.atomic():
        assert len(send(organization)) == 1
        raise Boom
    assert not WebhookDelivery.objects.exists()
    assert receiver.requests == []

    with transaction.atomic():
        send(organization)
        assert receiver.requests == []  # not before commit
    # After commit the on-commit hook enqueued the task (eager in tests): delivered.
    assert len(receiver.requests) == 1
    assert WebhookDelivery.objects.get().status == DeliveryStatus.SUCCEEDED


def test_receiver_down_for_an_hour_loses_nothing_with_the_beat_sweeper(organization, idle_receiver):
    """Simulated clock: the sweeper ticks every 5 minutes for 3 hours; the receiver is down for the first hour."""
    rec = idle_receiver
    WebhookEndpointFactory(organization=organization, webhook_url=rec.url)
    deliveries = [send(organization, payload={"n": str(n)})[0] for n in range(3)]
    t0 = max(d.created_at for d in deliveries)
    attempted_at: list = []
    for tick in range(0, 181, 5):
        now = t0 + timedelta(minutes=tick)
        if tick >= 60 and rec._server is None:
            rec.start()
        for delivery_id in selectors.webhook_deliveries_due(now):
            if services.webhook_delivery_attempt(delivery_id, now=now) is not None:
                attempted_at.append(tick)
    statuses = set(WebhookDelivery.objects.filter(pk__in=[d.pk for d in deliveries]).values_list("status", flat=True))
    assert statuses == {DeliveryStatus.SUCCEEDED}
    assert len(rec.requests) == 3  # each delivered once, none lost
    assert {r.headers["X-Lago-Unique-Key"] for r in rec.requests} == {str(d.pk) for d in deliveries}
    # With 5-minute ticks: attempts at 0, 5, 15, 35 minutes fail; the first one after the outage works.
    for delivery in deliveries:
        attempts = list(WebhookAttempt.objects.filter(delivery=delivery).order_by("number"))
        assert [a.succeeded for a in attempts] == [False] * 4 + [True]
        minutes = [(a.started_at - t0).total_seconds() / 60 for a in attempts]
        assert minutes[:4] == [0, 5, 15, 35]
        assert 60 <= minutes[-1] <= 75
