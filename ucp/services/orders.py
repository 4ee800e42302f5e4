"""Orders: what a completed checkout became (a subscription and its invoices, or a one-off
invoice), served at GET /orders/{id} and pushed to the platform as signed order-event webhooks.

    order_render(checkout, settings) -> the order entity
    order_event_enqueue(checkout, event_type)     on commit, a delivery per event
    order_event_deliver(event_id)                  one attempt; retried by the sweep
    order_events_for_subscription / _for_invoice   receivers: the order changed (renewal
                                                   invoice, credit note, termination)
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from django.conf import settings as django_settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from invoicing.credits.models import CreditNote
from invoicing.models import Invoice, InvoiceStatus, InvoiceSubscription
from subscriptions.models import SubscriptionStatus
from ucp import catalog, protocol, signing
from ucp.models import Checkout, CheckoutStatus, OrderEvent, UcpPlatform, UcpSettings
from ucp.services.setup import signing_key
from webhooks import transport

logger = logging.getLogger(__name__)

RETRY_DELAYS = (60, 300, 1800, 3600, 6 * 3600)  # seconds after attempt 1, 2, ...
GIVE_UP_AFTER = dt.timedelta(days=3)


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def _invoices(checkout: Checkout) -> list[Invoice]:
    if checkout.subscription_id is not None:
        return list(
            Invoice.objects.filter(
                organization_id=checkout.organization_id,
                invoice_subscriptions__subscription_id=checkout.subscription_id,
                status__in=[InvoiceStatus.FINALIZED, InvoiceStatus.VOIDED],
            )
            .distinct()
            .order_by("issuing_date", "created_at")
        )
    return [checkout.invoice] if checkout.invoice is not None else []


def order_render(checkout: Checkout, settings: UcpSettings) -> dict[str, Any]:
    subscription = checkout.subscription
    ended = subscription is not None and subscription.status in (
        SubscriptionStatus.TERMINATED,
        SubscriptionStatus.CANCELED,
    )
    line_items = []
    for raw in checkout.line_items:
        found = catalog.resolve(settings, raw["item_id"])
        entry = found[0] if found else None
        quantity = raw["quantity"]
        total = 0 if ended else quantity
        line_items.append(
            {
                "id": raw["id"],
                "item": {
                    "id": raw["item_id"],
                    "title": entry.title if entry else raw["item_id"],
                    "price": entry.unit_amount if entry else 0,
                },
                "quantity": {"original": quantity, "total": total, "fulfilled": total},
                "totals": checkout.line_totals.get(raw["id"])
                or [{"type": "subtotal", "amount": 0}, {"type": "total", "amount": 0}],
                "status": "removed" if ended else "fulfilled",
            }
        )
    events = []
    line_refs = [{"id": raw["id"], "quantity": raw["quantity"]} for raw in checkout.line_items]
    if subscription is not None:
        if subscription.started_at:
            events.append(
                {
                    "id": f"evt_{subscription.id}_started",
                    "occurred_at": _iso(subscription.started_at),
                    "type": "activated",
                    "line_items": line_refs,
                    "description": f"Subscription {subscription.external_id} started",
                }
            )
        ended_at = subscription.terminated_at or subscription.canceled_at
        if ended and ended_at:
            events.append(
                {
                    "id": f"evt_{subscription.id}_ended",
                    "occurred_at": _iso(ended_at),
                    "type": "canceled",
                    "line_items": line_refs,
                    "description": f"Subscription {subscription.external_id} ended",
                }
            )
    elif checkout.completed_at:
        events.append(
            {
                "id": f"evt_{checkout.public_id}_delivered",
                "occurred_at": _iso(checkout.completed_at),
                "type": "delivered",
                "line_items": line_refs,
                "description": "Delivered with the order",
            }
        )
    invoices = _invoices(checkout)
    adjustments = []
    for note in CreditNote.objects.filter(invoice__in=invoices, voided_at__isnull=True).order_by("created_at"):
        refund = note.refund_amount_cents > 0
        adjustments.append(
            {
                "id": f"adj_{note.id}",
                "type": "refund" if refund else "credit",
                "occurred_at": _iso(note.refunded_at or note.created_at),
                "status": "completed" if (not refund or note.refund_status == "succeeded") else "pending",
                "totals": [{"type": "total", "amount": -int(note.total_amount_cents)}],
                "description": f"Credit note {note.number}" + (f": {note.description}" if note.description else ""),
            }
        )
    body: dict[str, Any] = {
        "ucp": {
            "version": protocol.VERSION,
            "status": "success",
            "capabilities": {protocol.ORDER: [{"version": protocol.VERSION}]},
        },
        "id": checkout.order_public_id,
        "label": checkout.invoice.number
        if checkout.invoice is not None and checkout.invoice.number
        else checkout.order_public_id,
        "checkout_id": checkout.public_id,
        "permalink_url": f"{settings.public_base_url}/orders/{checkout.order_public_id}",
        "currency": checkout.currency,
        "line_items": line_items,
        "fulfillment": {"expectations": [], "events": events},
        "adjustments": adjustments,
        "totals": checkout.totals,
        # bxb's own record of the order, for reconciliation (business-defined fields).
        "subscription": (
            {
                "external_id": subscription.external_id,
                "status": subscription.status,
                "plan_code": subscription.plan.code,
                "started_at": _iso(subscription.started_at),
            }
            if subscription is not None
            else None
        ),
        "invoices": [
            {
                "id": str(invoice.id),
                "number": invoice.number,
                "status": invoice.status,
                "payment_status": invoice.payment_status,
                "issuing_date": invoice.issuing_date.isoformat(),
                "total": {"amount": invoice.total_amount_cents, "currency": invoice.currency},
            }
            for invoice in invoices
        ],
    }
    if body["subscription"] is None:
        del body["subscription"]
    return body


# --------------------------------------------------------------------------- events


def _webhook_url(checkout: Checkout) -> str:
    """The platform's webhook URL from its order capability config (its stored profile)."""
    platform = UcpPlatform.objects.filter(
        organization_id=checkout.organization_id, profile_url=checkout.platform_profile_url, enabled=True
    ).first()
    profile = platform.profile if platform is not None and platform.profile else None
    if profile is None:
        from django.core.cache import cache

        profile = cache.get(f"ucp:profile:{checkout.platform_profile_url}")
    entries = (((profile or {}).get("ucp") or {}).get("capabilities") or {}).get(protocol.ORDER) or []
    for entry in entries if isinstance(entries, list) else []:
        url = ((entry or {}).get("config") or {}).get("webhook_url") if isinstance(entry, dict) else None
        if isinstance(url, str) and url.startswith(("https://", "http://")):
            return url
    return ""


def order_event_enqueue(checkout: Checkout, event_type: str, *, now: dt.datetime | None = None) -> OrderEvent | None:
    """Record the event with the order as it is now and send it after commit; nothing when the
    platform gave no webhook URL."""
    now = now or timezone.now()
    url = _webhook_url(checkout)
    if not url:
        return None
    settings = UcpSettings.objects.select_related("organization").get(organization_id=checkout.organization_id)
    payload = order_render(checkout, settings)
    payload["event_id"] = f"evt_{secrets.token_hex(12)}"
    payload["event_type"] = event_type
    payload["created_time"] = _iso(now)
    event = OrderEvent.objects.create(
        organization_id=checkout.organization_id,
        checkout=checkout,
        event_type=event_type,
        webhook_url=url,
        payload=payload,
        next_attempt_at=now,
    )
    event_id = str(event.id)
    transaction.on_commit(lambda: _send_later(event_id), robust=True)
    return event


def _send_later(event_id: str) -> None:
    from ucp import tasks

    tasks.deliver_order_event.delay(event_id)


def order_event_deliver(event_id: str, *, now: dt.datetime | None = None) -> OrderEvent:
    """One delivery attempt: signed POST of the stored payload; a non-2xx answer is retried later."""
    now = now or timezone.now()
    with transaction.atomic():
        event = OrderEvent.objects.select_for_update().get(id=event_id)
        if event.delivered_at or event.failed_at:
            return event
        event.attempts += 1
        event.next_attempt_at = now + dt.timedelta(seconds=RETRY_DELAYS[min(event.attempts - 1, len(RETRY_DELAYS) - 1)])
        event.save(update_fields=["attempts", "next_attempt_at", "updated_at"])
    settings = UcpSettings.objects.get(organization_id=event.organization_id)
    key, kid = signing_key(settings)
    body = json.dumps(event.payload, separators=(",", ":")).encode()
    headers = {
        "ucp-agent": f'profile="{settings.public_base_url}/.well-known/ucp"',
        "idempotency-key": str(event.id),
        "content-type": "application/json",
    }
    signed = signing.sign_request("POST", event.webhook_url, headers, body, key=key, kid=kid)
    outgoing = {
        "UCP-Agent": headers["ucp-agent"],
        "Idempotency-Key": headers["idempotency-key"],
        "Content-Type": "application/json",
        "Webhook-Id": event.payload.get("event_id", str(event.id)),
        "Webhook-Timestamp": str(int(event.created_at.timestamp())),
        **signed,
    }
    outcome = transport.post(
        event.webhook_url,
        body,
        outgoing,
        timeout=float(getattr(django_settings, "WEBHOOKS_TIMEOUT_SECONDS", 10)),
        allow_private=bool(getattr(django_settings, "WEBHOOKS_ALLOW_PRIVATE_TARGETS", False)),
    )
    with transaction.atomic():
        event = OrderEvent.objects.select_for_update().get(id=event_id)
        event.last_status = outcome.http_status
        event.last_error = outcome.error[:500]
        if outcome.succeeded:
            event.delivered_at = now
            event.next_attempt_at = None
        elif now - event.created_at > GIVE_UP_AFTER:
            event.failed_at = now
            event.next_attempt_at = None
        event.save()
    return event


def order_events_due(now: dt.datetime | None = None, limit: int = 500) -> list[str]:
    now = now or timezone.now()
    return [
        str(pk)
        for pk in OrderEvent.objects.filter(
            delivered_at__isnull=True, failed_at__isnull=True, next_attempt_at__lte=now
        ).values_list("id", flat=True)[:limit]
    ]


def _completed_checkouts(**filters: Any) -> list[Checkout]:
    return list(
        Checkout.objects.filter(status=CheckoutStatus.COMPLETED, **filters).select_related("invoice", "subscription")
    )


def order_events_for_subscription(subscription_id: str) -> int:
    """A subscription bought through UCP changed (ended): its order is sent again."""
    sent = 0
    with transaction.atomic():
        for checkout in _completed_checkouts(subscription_id=subscription_id):
            sent += order_event_enqueue(checkout, "order.updated") is not None
    return sent


def order_events_for_invoice(invoice_id: str) -> int:
    """An invoice of an order was finalized or credited: its order is sent again."""
    return order_events_for_invoices([invoice_id])


def order_events_for_invoices(invoice_ids: Sequence[str]) -> int:
    """Invoices were finalized (a billing batch's) or credited: the orders they belong to are sent
    again. Three reads whatever the number of invoices when none belongs to an order (the usual
    case), whose invoices' credit notes are then read once."""
    existing = [str(i) for i in Invoice.objects.filter(id__in=list(invoice_ids)).values_list("id", flat=True)]
    if not existing:
        return 0
    subscriptions_of: dict[str, set[Any]] = defaultdict(set)
    for row_invoice_id, subscription_id in InvoiceSubscription.objects.filter(invoice_id__in=existing).values_list(
        "invoice_id", "subscription_id"
    ):
        subscriptions_of[str(row_invoice_id)].add(subscription_id)
    subscription_ids = set().union(*subscriptions_of.values()) if subscriptions_of else set()
    sent = 0
    with transaction.atomic():
        checkouts = list(
            Checkout.objects.filter(status=CheckoutStatus.COMPLETED)
            .filter(Q(subscription_id__in=subscription_ids) | Q(invoice_id__in=existing, subscription_id__isnull=True))
            .select_related("invoice", "subscription")
        )
        if not checkouts:
            return 0
        credited = {
            str(i) for i in CreditNote.objects.filter(invoice_id__in=existing).values_list("invoice_id", flat=True)
        }
        for invoice_id in existing:
            mine = subscriptions_of.get(invoice_id, set())
            for checkout in checkouts:
                if checkout.subscription_id is not None:
                    if checkout.subscription_id not in mine:
                        continue
                elif str(checkout.invoice_id) != invoice_id:
                    continue
                if str(checkout.invoice_id) == invoice_id and invoice_id not in credited:
                    continue  # the first invoice is in the order.created event already
                sent += order_event_enqueue(checkout, "order.updated") is not None
    return sent


def order_confirmation_email(checkout_id: str) -> bool:
    """The confirmation the specification asks the business to send the buyer once the checkout is
    completed (Django's email backend). Returns whether it was sent."""
    from django.core.mail import send_mail

    from billing_project.core.money import format_amount

    checkout = (
        Checkout.objects.select_related("organization", "subscription__plan", "invoice").filter(id=checkout_id).first()
    )
    email = str((checkout.buyer or {}).get("email") or "") if checkout is not None else ""
    if checkout is None or checkout.status != CheckoutStatus.COMPLETED or not email:
        return False
    settings = UcpSettings.objects.get(organization_id=checkout.organization_id)
    total = next((t["amount"] for t in checkout.totals if t.get("type") == "total"), 0)
    lines = [f"Thank you for your order {checkout.order_public_id} with {checkout.organization.name}.", ""]
    for raw in checkout.line_items:
        found = catalog.resolve(settings, raw["item_id"])
        if found is not None:
            lines.append(f"  {found[0].title} x {raw['quantity']}: {catalog.terms_text(found[0])}")
    lines += ["", f"Paid now: {format_amount(int(total), checkout.currency)}"]
    if checkout.invoice is not None and checkout.invoice.number:
        lines.append(f"Invoice: {checkout.invoice.number}")
    lines += ["", f"Order: {settings.public_base_url}/orders/{checkout.order_public_id}"]
    try:
        send_mail(
            subject=f"{checkout.organization.name}: order {checkout.order_public_id} confirmed",
            message="\n".join(lines),
            from_email=getattr(django_settings, "DEFAULT_FROM_EMAIL", None),
            recipient_list=[email],
        )
    except Exception:
        logger.exception("order confirmation email failed", extra={"checkout_id": str(checkout.id)})
        return False
    return True
