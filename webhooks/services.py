"""Writes of the webhooks app: endpoints, the delivery outbox, attempts and retries.

Other apps call `webhook_send` inside their own transaction. Delivery starts after commit (a
Celery task per delivery, enqueued with `transaction.on_commit`); the beat sweeper re-sends what
the on-commit hook missed and what is due for a retry.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from billing_project.core import metrics
from billing_project.core.errors import NotAllowedFailure, ValidationFailure
from billing_project.core.inputs import UNSET, or_none
from webhooks import backoff, signing, targets, transport
from webhooks.inputs import WebhookEndpointFields
from webhooks.models import (
    DeliveryStatus,
    SignatureAlgo,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookSigningKey,
)
from webhooks.selectors import webhook_delivery_get, webhook_endpoint_get

logger = logging.getLogger(__name__)

MAX_ENDPOINTS_PER_ORGANIZATION = 10
# A retry due within this delay is enqueued as a Celery countdown task; later ones are picked up
# by the sweeper (every 5 minutes), which keeps long ETAs out of the broker.
COUNTDOWN_MAX_SECONDS = 10 * 60
_EVENT_TYPE_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")


# --- Endpoints --------------------------------------------------------------------------------


def _allow_private() -> bool:
    return bool(getattr(settings, "WEBHOOKS_ALLOW_PRIVATE_TARGETS", False))


def _validate_url(url: Any) -> list[str]:
    if url is None or url == "":
        return ["value_is_mandatory"]
    if not targets.url_is_valid(url):
        return ["url_is_invalid"]
    try:
        targets.check_target(url, allow_private=_allow_private())
    except targets.PrivateTargetError:
        return ["url_resolves_to_private_address"]
    return []


def _normalize_event_types(value: Any) -> tuple[list[str] | None, list[str]]:
    """(event types or None for all, error codes)."""
    if value is None:
        return None, []
    if not isinstance(value, list | tuple) or not all(isinstance(item, str) for item in value):
        return None, ["value_is_invalid"]
    cleaned: list[str] = []
    for item in value:
        item = item.strip()
        if item == "*":
            return None, []  # a wildcard: every type
        if not _EVENT_TYPE_RE.match(item):
            return None, ["value_is_invalid"]
        if item not in cleaned:
            cleaned.append(item)
    return (cleaned or None), []


def _apply_endpoint_fields(endpoint: WebhookEndpoint, data: WebhookEndpointFields) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if data.webhook_url is not UNSET:
        url = data.webhook_url.strip() if data.webhook_url is not None else None
        url_errors = _validate_url(url)
        if url_errors or url is None:  # None is refused as mandatory
            errors["webhook_url"] = url_errors
        else:
            endpoint.webhook_url = url
    signature_algo = or_none(data.signature_algo)
    if signature_algo is not None:
        if signature_algo in SignatureAlgo.values:
            endpoint.signature_algo = signature_algo
        else:
            errors["signature_algo"] = ["value_is_invalid"]
    if data.name is not UNSET:
        endpoint.name = data.name or None
    if data.event_types is not UNSET:
        event_types, codes = _normalize_event_types(data.event_types)
        if codes:
            errors["event_types"] = codes
        else:
            endpoint.event_types = event_types
    return errors


def _url_taken(organization: Any, url: str, exclude_pk: Any = None) -> bool:
    qs = WebhookEndpoint.objects.filter(organization_id=organization.pk, webhook_url=url)
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    return qs.exists()


def webhook_endpoint_validation_errors(
    organization: Any, endpoint: WebhookEndpoint | None, data: WebhookEndpointFields
) -> dict[str, list[str]]:
    """Every reason to refuse creating (endpoint None) or updating an endpoint with `data`."""
    probe = WebhookEndpoint(organization_id=organization.pk)
    if endpoint is not None:
        probe.webhook_url, probe.signature_algo = endpoint.webhook_url, endpoint.signature_algo
    errors = _apply_endpoint_fields(probe, data)
    if endpoint is None and data.webhook_url is UNSET:
        errors["webhook_url"] = ["value_is_mandatory"]
    exclude = endpoint.pk if endpoint is not None else None
    if "webhook_url" not in errors and probe.webhook_url and _url_taken(organization, probe.webhook_url, exclude):
        errors["webhook_url"] = ["value_already_exist"]
    if endpoint is None:
        count = WebhookEndpoint.objects.filter(organization_id=organization.pk).count()
        if count >= MAX_ENDPOINTS_PER_ORGANIZATION:
            errors["base"] = ["exceeded_limit"]
    return errors


def webhook_endpoint_create(
    organization: Any,
    *,
    webhook_url: str | None,
    signature_algo: str | None = None,
    name: str | None = None,
    event_types: list[str] | None = None,
) -> WebhookEndpoint:
    """Register an endpoint (at most 10 per organization, URL unique per organization)."""
    endpoint = WebhookEndpoint(organization_id=organization.pk)
    data = WebhookEndpointFields(
        webhook_url=webhook_url, signature_algo=signature_algo, name=name, event_types=event_types
    )
    errors = _apply_endpoint_fields(endpoint, data)
    if errors:
        raise ValidationFailure(errors)
    try:
        with transaction.atomic():
            # Serialize creations of one organization so the limit holds under concurrency.
            type(organization).objects.select_for_update().filter(pk=organization.pk).first()
            if (
                WebhookEndpoint.objects.filter(organization_id=organization.pk).count()
                >= MAX_ENDPOINTS_PER_ORGANIZATION
            ):
                raise ValidationFailure({"base": ["exceeded_limit"]})
            if _url_taken(organization, endpoint.webhook_url):
                raise ValidationFailure({"webhook_url": ["value_already_exist"]})
            endpoint.save()
    except IntegrityError as exc:
        raise ValidationFailure({"webhook_url": ["value_already_exist"]}) from exc
    return endpoint


def webhook_endpoint_update(organization: Any, *, lago_id: Any, data: WebhookEndpointFields) -> WebhookEndpoint:
    """Partial update: only the fields sent change."""
    try:
        with transaction.atomic():
            endpoint = webhook_endpoint_get(organization, lago_id)
            endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
            errors = _apply_endpoint_fields(endpoint, data)
            if "webhook_url" not in errors and _url_taken(organization, endpoint.webhook_url, exclude_pk=endpoint.pk):
                errors["webhook_url"] = ["value_already_exist"]
            if errors:
                raise ValidationFailure(errors)
            endpoint.save()
    except IntegrityError as exc:
        raise ValidationFailure({"webhook_url": ["value_already_exist"]}) from exc
    return endpoint


@transaction.atomic
def webhook_endpoint_delete(organization: Any, *, lago_id: Any) -> WebhookEndpoint:
    """Delete the endpoint. Its deliveries stay in the ledger; those still pending are failed."""
    endpoint = webhook_endpoint_get(organization, lago_id)
    WebhookDelivery.objects.filter(endpoint=endpoint, status=DeliveryStatus.PENDING).update(
        status=DeliveryStatus.FAILED, next_attempt_at=None, last_error="webhook endpoint deleted"
    )
    deleted_pk = endpoint.pk
    endpoint.delete()
    endpoint.pk = deleted_pk  # keep the id for the API's answer
    return endpoint


# --- Signing key ------------------------------------------------------------------------------


def webhook_signing_key_get(organization: Any) -> WebhookSigningKey:
    """The organization's RSA key pair for JWT signatures, created on first need."""
    key = WebhookSigningKey.objects.filter(organization_id=organization.pk).first()
    if key is not None:
        return key
    private_pem, public_pem = signing.generate_rsa_key_pair()
    try:
        with transaction.atomic():
            return WebhookSigningKey.objects.create(
                organization_id=organization.pk, private_key_pem=private_pem, public_key_pem=public_pem
            )
    except IntegrityError:
        return WebhookSigningKey.objects.get(organization_id=organization.pk)


# --- The outbox -------------------------------------------------------------------------------


def _enqueue(delivery_ids: Iterable[str], countdown: float | None = None) -> None:
    from webhooks.tasks import webhook_deliver

    for delivery_id in delivery_ids:
        if countdown:
            webhook_deliver.apply_async((delivery_id,), countdown=countdown)
        else:
            webhook_deliver.delay(delivery_id)


def _enqueue_on_commit(delivery_ids: list[str], countdown: float | None = None) -> None:
    # robust: a broker outage must not break the caller's request; the sweeper catches up.
    transaction.on_commit(lambda: _enqueue(delivery_ids, countdown), robust=True)


def webhook_body(organization: Any, *, webhook_type: str, object_type: str, payload: Any) -> str:
    """The JSON text delivered: `{"webhook_type", "object_type", "organization_id", <object_type>}`."""
    document = {
        "webhook_type": webhook_type,
        "object_type": object_type,
        "organization_id": str(organization.pk),
        object_type: payload,
    }
    return json.dumps(document, cls=DjangoJSONEncoder, ensure_ascii=False, separators=(",", ":"))


def webhook_send(
    organization: Any,
    *,
    webhook_type: str,
    object_type: str,
    payload: Mapping[str, Any] | Callable[[], Mapping[str, Any]],
    endpoints_exist: bool | None = None,
) -> list[WebhookDelivery]:
    """Record one delivery per matching endpoint of the organization, inside the caller's transaction
    (an outbox). Delivery is enqueued with transaction.on_commit; a sweeper re-sends what the hook missed.

    `payload` is the serialized object (JSON-able, decimals already strings). It may also be a
    callable returning it, called only when some endpoint wants this webhook type. With no
    endpoint this costs one query; none when the caller passes `endpoints_exist=False`, the answer
    of `selectors.endpoints_exist()` folded into a statement of the same transaction.
    """
    if not webhook_type or not object_type:
        raise ValueError("webhook_type and object_type are required")
    if endpoints_exist is False:
        return []
    endpoints = [
        endpoint
        for endpoint in WebhookEndpoint.objects.filter(organization_id=organization.pk).only(
            "id", "webhook_url", "event_types"
        )
        if endpoint.accepts(webhook_type)
    ]
    if not endpoints:
        return []
    document = payload() if callable(payload) else payload
    body = webhook_body(organization, webhook_type=webhook_type, object_type=object_type, payload=document)
    now = timezone.now()
    # No savepoint inside the caller's transaction (SAVEPOINT + RELEASE would be two more
    # statements): a failed insert fails the caller's transaction, which is what an outbox wants.
    with transaction.atomic(savepoint=False):
        deliveries = WebhookDelivery.objects.bulk_create(
            [
                WebhookDelivery(
                    organization_id=organization.pk,
                    endpoint=endpoint,
                    webhook_url=endpoint.webhook_url,
                    webhook_type=webhook_type,
                    object_type=object_type,
                    body=body,
                    status=DeliveryStatus.PENDING,
                    next_attempt_at=now,
                )
                for endpoint in endpoints
            ]
        )
        _enqueue_on_commit([str(delivery.pk) for delivery in deliveries])
    return deliveries


def webhook_send_row(
    row: Any, webhook_type: str, object_type: str, payload: Callable[[Any], Mapping[str, Any]]
) -> None:
    """`webhook_send` about one row of an organization (`row.organization`): its payload is
    `payload(row)`, built only when an endpoint wants this webhook type."""
    webhook_send(row.organization, webhook_type=webhook_type, object_type=object_type, payload=lambda: payload(row))


# --- Delivery ---------------------------------------------------------------------------------


def _lease_duration() -> timedelta:
    timeout = float(settings.WEBHOOKS_TIMEOUT_SECONDS)
    return timedelta(seconds=4 * timeout + 60)


def _max_age() -> timedelta:
    return timedelta(seconds=int(settings.WEBHOOKS_RETRY_MAX_AGE_SECONDS))


def signature_headers(delivery: WebhookDelivery, endpoint: WebhookEndpoint, body: bytes) -> dict[str, str]:
    if endpoint.signature_algo == SignatureAlgo.HMAC:
        signature = signing.hmac_signature(endpoint.organization.webhook_hmac_key, body)
    else:
        key = webhook_signing_key_get(endpoint.organization)
        signature = signing.jwt_signature(key.private_key_pem, body, settings.BXB_API_URL)
    return {
        "X-Lago-Signature": signature,
        "X-Lago-Signature-Algorithm": endpoint.signature_algo,
        "X-Lago-Unique-Key": str(delivery.pk),
    }


def _claim(delivery_id: Any, now: datetime) -> uuid.UUID | None:
    """Take the delivery for one attempt; None when it is not due or another worker holds it."""
    token = uuid.uuid4()
    claimed = (
        WebhookDelivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
        .filter(Q(leased_until__isnull=True) | Q(leased_until__lte=now))
        .update(leased_until=now + _lease_duration(), lease_token=token)
    )
    return token if claimed == 1 else None


def webhook_delivery_attempt(delivery_id: Any, *, now: datetime | None = None) -> WebhookDelivery | None:
    """Make one attempt if the delivery is due and nobody else holds it; record it; plan the next.

    Returns the updated delivery, or None when there was nothing to do (safe to call twice).
    """
    now = now or timezone.now()
    token = _claim(delivery_id, now)
    if token is None:
        return None
    delivery = WebhookDelivery.objects.select_related("endpoint__organization").get(pk=delivery_id)
    endpoint = delivery.endpoint
    final = False
    url = delivery.webhook_url
    if endpoint is None:
        outcome = transport.Outcome(False, None, 0, "webhook endpoint deleted", "")
        final = True
    else:
        url = endpoint.webhook_url
        body = delivery.body.encode("utf-8")
        headers = signature_headers(delivery, endpoint, body)
        # The transport resolves the host once, refuses private addresses and connects to the checked one.
        outcome = transport.post(
            url, body, headers, timeout=float(settings.WEBHOOKS_TIMEOUT_SECONDS), allow_private=_allow_private()
        )
    return _record_attempt(delivery.pk, token, now, url, outcome, final=final)


def _record_attempt(
    delivery_pk: Any, token: uuid.UUID, now: datetime, url: str, outcome: transport.Outcome, *, final: bool
) -> WebhookDelivery:
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery_pk)
        number = delivery.attempts_count + 1
        # The attempt row keeps the transport's outcome, field for field.
        WebhookAttempt.objects.create(delivery=delivery, number=number, started_at=now, **asdict(outcome))
        delivery.attempts_count = number
        delivery.last_attempt_at = now
        delivery.last_http_status = outcome.http_status
        delivery.last_error = outcome.error
        delivery.webhook_url = url
        if delivery.lease_token == token:
            delivery.leased_until = None
            delivery.lease_token = None
            if outcome.succeeded:
                delivery.status = DeliveryStatus.SUCCEEDED
                delivery.delivered_at = now
                delivery.next_attempt_at = None
            else:
                planned = None
                if not final:
                    planned = backoff.next_attempt_at(
                        created_at=delivery.created_at, now=now, failed_attempts=number, max_age=_max_age()
                    )
                if planned is None:
                    delivery.status = DeliveryStatus.FAILED
                    delivery.next_attempt_at = None
                    logger.warning("webhook %s failed for good after %s attempt(s)", delivery.pk, number)
                else:
                    delivery.next_attempt_at = planned
                    countdown = (planned - timezone.now()).total_seconds()
                    if 0 < countdown <= COUNTDOWN_MAX_SECONDS:
                        _enqueue_on_commit([str(delivery.pk)], countdown=countdown)
        elif outcome.succeeded and delivery.status == DeliveryStatus.PENDING:
            # Our lease ran out and another worker holds the delivery; it did reach the receiver.
            delivery.status = DeliveryStatus.SUCCEEDED
            delivery.delivered_at = now
            delivery.next_attempt_at = None
        delivery.save()
    if outcome.succeeded:
        metrics.webhook_delivered("succeeded")
    else:
        metrics.webhook_delivered("failed" if delivery.status == DeliveryStatus.FAILED else "retrying")
    return delivery


# --- Retries by hand --------------------------------------------------------------------------


@transaction.atomic
def webhook_delivery_retry(organization: Any, *, lago_id: Any, now: datetime | None = None) -> WebhookDelivery:
    """Attempt a failed (or waiting) delivery again now. A succeeded one is not resent (405)."""
    found = webhook_delivery_get(organization, lago_id)
    delivery = WebhookDelivery.objects.select_for_update().get(pk=found.pk)
    if delivery.status == DeliveryStatus.SUCCEEDED:
        raise NotAllowedFailure("is_succeeded")
    if delivery.endpoint_id is None:
        raise NotAllowedFailure("webhook_endpoint_deleted")
    delivery.status = DeliveryStatus.PENDING
    delivery.next_attempt_at = now or timezone.now()
    delivery.save(update_fields=["status", "next_attempt_at", "updated_at"])
    _enqueue_on_commit([str(delivery.pk)])
    return delivery


def _requeue_failed(now: datetime | None, **scope: Any) -> int:
    """The failed deliveries of `scope` (locked) back in the queue, due now; how many. Called inside
    the caller's transaction."""
    ids = [
        str(pk)
        for pk in WebhookDelivery.objects.select_for_update()
        .filter(status=DeliveryStatus.FAILED, **scope)
        .values_list("pk", flat=True)
    ]
    if not ids:
        return 0
    WebhookDelivery.objects.filter(pk__in=ids).update(
        status=DeliveryStatus.PENDING, next_attempt_at=now or timezone.now(), updated_at=timezone.now()
    )
    _enqueue_on_commit(ids)
    return len(ids)


@transaction.atomic
def webhook_endpoint_retry_failed(organization: Any, *, lago_id: Any, now: datetime | None = None) -> int:
    """Put every failed delivery of the endpoint back in the queue, due now. Returns how many."""
    endpoint = webhook_endpoint_get(organization, lago_id)
    return _requeue_failed(now, organization_id=organization.pk, endpoint=endpoint)


@transaction.atomic
def webhook_deliveries_retry(delivery_ids: list[Any], *, now: datetime | None = None) -> int:
    """Failed deliveries (ops: `manage.py retry_webhooks`) back in the queue, due now: each is
    attempted again as a new retry, keeping its `X-Lago-Unique-Key`. Deliveries no longer failed
    (retried meanwhile) or whose endpoint was deleted are left alone. Returns how many."""
    return _requeue_failed(now, pk__in=list(delivery_ids), endpoint__isnull=False)
