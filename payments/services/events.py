"""Inbound provider webhooks: verify, store once under the provider's event id, process after
commit. A replayed event is acknowledged and ignored; an event about a record we do not have yet
(it raced our own commit) waits and is retried, never dropped."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable
from typing import Any, TypeVar
from uuid import UUID

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from billing_project.core.errors import NotFoundFailure
from payments.models import EventStatus, Payment, PaymentProviderConnection, ProviderEvent, Refund
from payments.providers import (
    ChargeResult,
    DisputeUpdate,
    MethodRemoved,
    MethodSaved,
    PaymentUpdate,
    ProviderError,
    ProviderUpdate,
    RefundUpdate,
    TransientProviderError,
    WebhookSignatureError,
    provider_for,
)
from payments.providers.base import InboundEvent
from payments.services import collection, refunds
from payments.services.customers import customer_unpaid_invoice_ids, payment_method_save, payment_methods_forget

logger = logging.getLogger(__name__)

MAX_WAITING_ATTEMPTS = 8

# A handler of one provider event type: the stored event, the event's object, the time of processing.
Handler = Callable[[ProviderEvent, dict[str, Any], dt.datetime], None]
Row = TypeVar("Row", Payment, Refund)


class NotReady(Exception):
    """The event refers to a record we do not have (yet)."""


def _retry_delay(attempts: int) -> dt.timedelta:
    return dt.timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 6 * 3600))


def provider_event_receive(
    organization_id: UUID | str, provider: str, *, body: bytes, headers: dict[str, str], code: str | None = None
) -> tuple[ProviderEvent, bool]:
    """Verify the signature with each candidate connection's secret, then store the event.

    Returns (event, created) for the delivery's first event. Raises NotFoundFailure (unknown
    organization or connection) or WebhookSignatureError (forged)."""
    return provider_events_receive(organization_id, provider, body=body, headers=headers, code=code)[0]


def provider_events_receive(
    organization_id: UUID | str, provider: str, *, body: bytes, headers: dict[str, str], code: str | None = None
) -> list[tuple[ProviderEvent, bool]]:
    """Every event of one delivery (Adyen and GoCardless batch several), each verified, each
    stored once under its own id: [(event, created)], in the delivery's order."""
    connections = PaymentProviderConnection.objects.filter(organization_id=organization_id, provider=provider)
    if code:
        connections = connections.filter(code=code)
    candidates = list(connections)
    if not candidates:
        raise NotFoundFailure("payment_provider")
    parsed: list[InboundEvent] = []
    connection = None
    for candidate in candidates:
        try:
            parsed = provider_for(candidate).parse_webhook_events(body=body, headers=headers)
            connection = candidate
            break
        except WebhookSignatureError:
            continue
    if not parsed or connection is None:
        raise WebhookSignatureError("no connection verifies this signature")
    return [_store(connection, provider, item) for item in parsed]


def _store(connection: PaymentProviderConnection, provider: str, parsed: InboundEvent) -> tuple[ProviderEvent, bool]:
    try:
        with transaction.atomic():
            event = ProviderEvent.objects.create(
                organization_id=connection.organization_id,
                connection=connection,
                provider=provider,
                event_id=parsed.id[:255],
                event_type=parsed.type[:128],
                payload=parsed.raw,
            )
            event_id = str(event.id)
            transaction.on_commit(lambda: _enqueue(event_id))
            return event, True
    except IntegrityError:
        existing = ProviderEvent.objects.get(
            organization_id=connection.organization_id, provider=provider, event_id=parsed.id[:255]
        )
        return existing, False


def _enqueue(event_id: str, countdown: int = 0) -> None:
    from payments import tasks

    if countdown:
        tasks.process_provider_event.apply_async((event_id,), countdown=countdown)
    else:
        tasks.process_provider_event.delay(event_id)


def provider_event_process(event_id: UUID | str, *, now: dt.datetime | None = None) -> ProviderEvent:
    """Process one stored event (safe to run twice: a processed event is left alone and every
    handler is idempotent)."""
    now = now or timezone.now()
    with transaction.atomic():
        event = ProviderEvent.objects.select_for_update().select_related("connection").get(id=event_id)
        if event.status in (EventStatus.PROCESSED, EventStatus.IGNORED, EventStatus.FAILED):
            return event
        event.attempts += 1
        event.save(update_fields=["attempts", "updated_at"])
    status, error, next_at = EventStatus.PROCESSED, "", None
    try:
        updates = provider_for(event.connection).event_updates(
            InboundEvent(id=event.event_id, type=event.event_type, data=event.payload, raw=event.payload)
        )
    except (ProviderError, TransientProviderError) as exc:  # a lookup at the provider (GoCardless mandate)
        logger.warning("provider event not interpreted", extra={"provider_event_id": str(event.id)})
        updates, error = [], repr(exc)[:2000]
        status, next_at = EventStatus.WAITING, now + _retry_delay(event.attempts)
    handler: Any = None
    if updates is None:
        handler = HANDLERS.get(event.event_type)
    elif updates:
        handler = _apply_updates(updates)
    if status == EventStatus.WAITING:
        pass
    elif handler is None:
        status = EventStatus.IGNORED
    else:
        try:
            handler(event, (event.payload.get("data") or {}).get("object") or {}, now)
        except NotReady as exc:
            if event.attempts >= MAX_WAITING_ATTEMPTS:
                status, error = EventStatus.FAILED, f"still unknown after {event.attempts} attempts: {exc}"
            else:
                status, error, next_at = EventStatus.WAITING, str(exc), now + _retry_delay(event.attempts)
        except Exception as exc:
            logger.exception("provider event failed", extra={"provider_event_id": str(event.id)})
            status, error, next_at = EventStatus.WAITING, repr(exc)[:2000], now + _retry_delay(event.attempts)
    ProviderEvent.objects.filter(id=event.id).update(
        status=status,
        error=error,
        next_attempt_at=next_at,
        processed_at=now if status == EventStatus.PROCESSED else None,
    )
    event.refresh_from_db()
    countdown = int((next_at - now).total_seconds()) if next_at is not None else 0
    if 0 < countdown <= settings.CELERY_COUNTDOWN_MAX_SECONDS and not getattr(
        settings, "CELERY_TASK_ALWAYS_EAGER", False
    ):
        # (Eager mode has no countdown, and a longer wait than the broker's visibility timeout allows
        # is not held by a worker: the beat sweeper retries those waiting events.)
        transaction.on_commit(lambda: _enqueue(str(event.id), countdown=countdown))
    return event


def provider_events_due(now: dt.datetime) -> list[Any]:
    """Waiting events whose time has come, and received events nobody processed (5 minutes)."""
    ids = list(
        ProviderEvent.objects.filter(
            status__in=[EventStatus.WAITING, EventStatus.RECEIVED], next_attempt_at__lte=now
        ).values_list("id", flat=True)
    )
    stale_received = ProviderEvent.objects.filter(
        status=EventStatus.RECEIVED, next_attempt_at__isnull=True, created_at__lte=now - dt.timedelta(minutes=5)
    ).values_list("id", flat=True)
    return ids + list(stale_received)


def provider_events_retry_due(now: dt.datetime | None = None) -> int:
    """Beat: waiting events whose time has come (the countdown task may have been lost)."""
    now = now or timezone.now()
    ids = provider_events_due(now)
    for event_id in ids:
        provider_event_process(event_id, now=now)
    return len(ids)


# --------------------------------------------------------------------------- handlers


def _matched(
    model: type[Row], provider_object: dict[str, Any], *, our_id_key: str, ours: dict[str, Any], theirs: dict[str, Any]
) -> Row:
    """Our row a provider object speaks of: by the id we wrote into its metadata (`our_id_key`, among
    the rows `ours` narrows to), else by the provider's own id (`theirs` narrows, plus the provider
    id field: the object was made outside bxb, or its metadata is gone). Neither found: NotReady,
    the event waits for our commit that creates the row."""
    row = None
    our_id = (provider_object.get("metadata") or {}).get(our_id_key)
    if our_id:
        try:
            row = model.objects.filter(**ours, id=uuid.UUID(str(our_id))).first()
        except ValueError:
            row = None
    if row is None and provider_object.get("id"):
        row = model.objects.filter(**theirs).first()
    if row is None:
        raise NotReady(f"no {model._meta.model_name} for {provider_object.get('id')}")
    return row


def _find_payment(event: ProviderEvent, intent: dict[str, Any]) -> Payment:
    return _matched(
        Payment,
        intent,
        our_id_key="bxb_payment_id",
        ours={"organization_id": event.organization_id},
        theirs={"connection_id": event.connection_id, "provider_payment_id": intent.get("id")},
    )


def _intent_event(status: str) -> Handler:
    def handle(event: ProviderEvent, intent: dict[str, Any], now: dt.datetime) -> None:
        from payments.providers.stripe import charge_result

        payment = _find_payment(event, intent)
        result = charge_result(intent)
        if status:
            result.status = status
        if result.status == "failed" and not result.error_code:
            error = intent.get("last_payment_error") or {}
            result.error_code = error.get("decline_code") or error.get("code") or "payment_failed"
            result.error_message = error.get("message") or ""
        collection.payment_record_result(payment.id, result, now=now)

    return handle


def _checkout_completed(event: ProviderEvent, session: dict[str, Any], now: dt.datetime) -> None:
    if session.get("mode") == "setup":
        setup_intent = session.get("setup_intent")
        if isinstance(setup_intent, dict):
            setup_intent = setup_intent.get("id")
        if not setup_intent:
            return
        found = provider_for(event.connection).setup_payment_method(setup_intent_id=setup_intent)
        if found:
            _save_method(event, session.get("customer") or "", found[0], found[1], now)
        return
    if session.get("mode") == "payment" and session.get("payment_status") == "paid":
        metadata = session.get("metadata") or {}
        intent = {"id": session.get("payment_intent") or "", "metadata": metadata, "status": "succeeded"}
        payment = _find_payment(event, intent)
        collection.payment_record_result(
            payment.id, ChargeResult(status="succeeded", provider_payment_id=intent["id"] or ""), now=now
        )


def _save_method(
    event: ProviderEvent,
    provider_customer_id: str | dict[str, Any],
    method_id: str,
    method_type: str,
    now: dt.datetime,
    details: dict[str, Any] | None = None,
) -> None:
    if isinstance(provider_customer_id, dict):
        provider_customer_id = provider_customer_id.get("id") or ""
    method = payment_method_save(
        event.connection,
        provider_customer_id=provider_customer_id,
        provider_method_id=method_id,
        method_type=method_type,
        details=details,
    )
    if method is None:
        raise NotReady(f"no customer {provider_customer_id}")
    # A new method: collect what the customer still owes (each attempt is idempotent and one per invoice).
    for invoice_id in customer_unpaid_invoice_ids(method.customer_id):
        if not Payment.objects.filter(invoice_id=invoice_id, next_retry_at__isnull=False).exists():
            collection.invoice_collect(invoice_id, origin="retry", now=now)


def _setup_succeeded(event: ProviderEvent, intent: dict[str, Any], now: dt.datetime) -> None:
    method = intent.get("payment_method")
    if isinstance(method, dict):
        method_id, method_type = method.get("id") or "", method.get("type") or ""
    else:
        method_id, method_type = method or "", ""
    if not method_id:
        return
    _save_method(event, intent.get("customer") or "", method_id, method_type, now)


def _charge_refunded(event: ProviderEvent, charge: dict[str, Any], now: dt.datetime) -> None:
    refund_list = ((charge.get("refunds") or {}).get("data")) or []
    for item in refund_list:
        _refund_update(event, item, now)


def _refund_updated(event: ProviderEvent, item: dict[str, Any], now: dt.datetime) -> None:
    _refund_update(event, item, now)


def _refund_update(event: ProviderEvent, item: dict[str, Any], now: dt.datetime) -> None:
    from payments.providers.stripe import refund_result

    refund = _matched(
        Refund,
        item,
        our_id_key="bxb_refund_id",
        ours={"organization_id": event.organization_id},
        theirs={"organization_id": event.organization_id, "provider_refund_id": item.get("id")},
    )
    refunds.refund_record_result(refund.id, refund_result(item), now=now)


def _dispute(lost_on_close: bool) -> Handler:
    def handle(event: ProviderEvent, dispute: dict[str, Any], now: dt.datetime) -> None:
        intent_id = dispute.get("payment_intent")
        payment = Payment.objects.filter(connection_id=event.connection_id, provider_payment_id=intent_id).first()
        if payment is None:
            raise NotReady(f"no payment for {intent_id}")
        collection.payment_dispute_update(
            payment.id,
            status=dispute.get("status") or "",
            lost=lost_on_close and dispute.get("status") == "lost",
            now=now,
        )

    return handle


def _our_row(model: type[Row], organization_id: UUID, our_id: str) -> Row | None:
    try:
        return model.objects.filter(organization_id=organization_id, id=uuid.UUID(str(our_id))).first()
    except ValueError:
        return None


def _updated_row(
    event: ProviderEvent, model: type[Row], our_id: str | None, provider_id: str | None, *, scope: str
) -> Row:
    """The payment or refund a provider's update names: by our id, else by the provider's id
    (`provider_<model>_id`) among the rows of the event's `scope` (`connection_id` or
    `organization_id`). NotReady when neither finds it yet (the event is tried again later)."""
    what = model.__name__.lower()
    row = _our_row(model, event.organization_id, our_id) if our_id else None
    if row is None and provider_id:
        row = model.objects.filter(**{scope: getattr(event, scope), f"provider_{what}_id": provider_id}).first()
    if row is None:
        raise NotReady(f"no {what} for {our_id or provider_id}")
    return row


def _apply_updates(updates: list[ProviderUpdate]) -> Handler:
    """A handler applying a provider's neutral updates (Adyen, GoCardless) with the same services
    as Stripe's handlers."""

    def handle(event: ProviderEvent, _data: dict[str, Any], now: dt.datetime) -> None:
        for update in updates:
            if isinstance(update, PaymentUpdate):
                payment = _updated_row(
                    event, Payment, update.payment_id, update.result.provider_payment_id, scope="connection_id"
                )
                collection.payment_record_result(payment.id, update.result, now=now)
            elif isinstance(update, RefundUpdate):
                refund = _updated_row(
                    event, Refund, update.refund_id, update.result.provider_refund_id, scope="organization_id"
                )
                refunds.refund_record_result(refund.id, update.result, now=now)
            elif isinstance(update, MethodSaved):
                _save_method(
                    event,
                    update.provider_customer_id,
                    update.provider_method_id,
                    update.method_type,
                    now,
                    details=update.details,
                )
            elif isinstance(update, MethodRemoved):
                payment_methods_forget(event.connection, provider_method_id=update.provider_method_id)
            elif isinstance(update, DisputeUpdate):
                disputed = Payment.objects.filter(
                    connection_id=event.connection_id, provider_payment_id=update.provider_payment_id
                ).first()
                if disputed is None:
                    raise NotReady(f"no payment for {update.provider_payment_id}")
                collection.payment_dispute_update(disputed.id, status=update.status, lost=update.lost, now=now)

    return handle


HANDLERS: dict[str, Handler] = {
    "payment_intent.succeeded": _intent_event("succeeded"),
    "payment_intent.payment_failed": _intent_event("failed"),
    "payment_intent.canceled": _intent_event("canceled"),
    "payment_intent.requires_action": _intent_event("requires_action"),
    "payment_intent.processing": _intent_event("processing"),
    "checkout.session.completed": _checkout_completed,
    "setup_intent.succeeded": _setup_succeeded,
    "charge.refunded": _charge_refunded,
    "charge.refund.updated": _refund_updated,
    "refund.updated": _refund_updated,
    "charge.dispute.created": _dispute(False),
    "charge.dispute.closed": _dispute(True),
}
