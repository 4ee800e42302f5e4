"""Checkout sessions (the specification's checkout capability, REST binding).

    checkout_create / checkout_update / checkout_get / checkout_cancel / checkout_complete

Status: `incomplete` until every line resolves to a listed item, the lines can be bought together
and (when the organization asks) the buyer's e-mail is known; then `ready_for_complete`.
Completing locks the session, bills (purchase.bill), charges once (payment.charge), and either
commits all of it (`completed`) or none of it: a declined payment or a 3-D Secure challenge
leaves the session completable again with nothing billed (docs/ucp.md, "Checkout").
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from billing_project.core.errors import DomainError
from ucp import catalog, protocol
from ucp.models import Checkout, CheckoutStatus, UcpSettings
from ucp.negotiation import Platform
from ucp.protocol import UcpError
from ucp.services import orders, payment, purchase
from ucp.services.purchase import Line

TERMINAL = (CheckoutStatus.COMPLETED, CheckoutStatus.CANCELED)
MAX_LINES = 20
MAX_QUANTITY = 10_000


@dataclass
class Request:
    """A create/update body, checked for shape (a malformed body is refused with 400)."""

    lines: list[dict[str, Any]]
    buyer: dict[str, Any] | None
    context: dict[str, Any] | None
    given: set[str] = field(default_factory=set)


def _bad(content: str) -> UcpError:
    return UcpError(400, "invalid_request", content)


def parse_request(body: Any) -> Request:
    if not isinstance(body, dict):
        raise _bad("The request body must be a JSON object")
    raw_lines = body.get("line_items")
    if not isinstance(raw_lines, list) or not raw_lines:
        raise _bad("line_items is required and must list at least one item")
    if len(raw_lines) > MAX_LINES:
        raise _bad(f"At most {MAX_LINES} line items")
    lines = []
    for index, raw in enumerate(raw_lines):
        item = raw.get("item") if isinstance(raw, dict) else None
        item_id = item.get("id") if isinstance(item, dict) else None
        if not isinstance(item_id, str) or not item_id or len(item_id) > 255:
            raise _bad(f"line_items[{index}].item.id is required")
        quantity = raw.get("quantity", 1)
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1 or quantity > MAX_QUANTITY:
            raise _bad(f"line_items[{index}].quantity must be an integer from 1 to {MAX_QUANTITY}")
        line_id = raw.get("id")
        lines.append(
            {
                "id": line_id if isinstance(line_id, str) and 0 < len(line_id) <= 64 else "",
                "item_id": item_id,
                "quantity": quantity,
            }
        )
    buyer = body.get("buyer")
    if buyer is not None and not isinstance(buyer, dict):
        raise _bad("buyer must be an object")
    if buyer is not None:
        email = buyer.get("email")
        if email is not None and (not isinstance(email, str) or "@" not in email or len(email) > 255):
            raise _bad("buyer.email is not an e-mail address")
        buyer = {
            k: str(v)[:255]
            for k, v in buyer.items()
            if k in ("first_name", "last_name", "email", "phone_number") and isinstance(v, str)
        }
    context = body.get("context")
    if context is not None and not isinstance(context, dict):
        raise _bad("context must be an object")
    if context is not None:
        context = {k: v for k, v in context.items() if isinstance(k, str) and isinstance(v, str | int | bool)}
    return Request(lines=lines, buyer=buyer, context=context, given=set(body))


def _number_lines(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[str] = set()
    out = []
    for index, line in enumerate(lines, start=1):
        line_id = line["id"] if line["id"] and line["id"] not in seen else f"li_{index}"
        while line_id in seen:
            line_id += "_"
        seen.add(line_id)
        out.append({**line, "id": line_id})
    return out


# --------------------------------------------------------------------------- evaluation


@dataclass
class Evaluation:
    lines: list[Line]
    messages: list[dict[str, Any]]
    currency: str
    quote: purchase.Quote | None


def _evaluate(settings: UcpSettings, checkout: Checkout) -> Evaluation:
    """Resolve the lines against the catalog, check they can be bought together and price them."""
    messages: list[dict[str, Any]] = []
    lines: list[Line] = []
    for index, raw in enumerate(checkout.line_items):
        found = catalog.resolve(settings, raw["item_id"])
        if found is None:
            messages.append(
                protocol.message_error(
                    "item_unavailable", f"{raw['item_id']} is not sold here", path=f"$.line_items[{index}]"
                )
            )
            continue
        entry, _ = found
        if entry.kind == "plan" and raw["quantity"] != 1:
            messages.append(
                protocol.message_error(
                    "quantity_invalid",
                    "A subscription is bought one at a time: set quantity to 1",
                    path=f"$.line_items[{index}].quantity",
                )
            )
        lines.append(Line(id=raw["id"], entry=entry, quantity=raw["quantity"]))
    currency = lines[0].entry.currency if lines else (checkout.currency or settings.organization.default_currency)
    plans = [line for line in lines if line.entry.kind == "plan"]
    if len(plans) > 1 or (plans and len(lines) > len(plans)):
        messages.append(
            protocol.message_error(
                "invalid_combination",
                "A checkout buys one plan, or add-ons: buy them in separate checkouts",
                path="$.line_items",
            )
        )
    if any(line.entry.currency != currency for line in lines):
        messages.append(
            protocol.message_error("currency_mismatch", "All items must be priced in one currency", path="$.line_items")
        )
    email = (checkout.buyer or {}).get("email")
    if settings.require_buyer_email and not email:
        messages.append(protocol.message_error("missing", "Buyer email is required", path="$.buyer.email"))
    existing = purchase.find_customer(settings, email or "")
    if existing is not None and existing.currency and existing.currency != currency:
        messages.append(
            protocol.message_error(
                "currency_mismatch", f"This buyer is billed in {existing.currency}", path="$.buyer.email"
            )
        )
    if settings.payment_connection is None:
        messages.append(
            protocol.message_error(
                "payment_unavailable", "The business takes no payments through UCP", severity="requires_buyer_input"
            )
        )
    quote = None
    blocking = [m for m in messages if m["type"] == "error"]
    if lines and not [
        m for m in blocking if m["code"] in ("invalid_combination", "currency_mismatch", "quantity_invalid")
    ]:
        try:
            quote = purchase.quote(settings, checkout, lines)
        except DomainError as exc:
            messages.append(
                protocol.message_error(
                    "item_unavailable", f"These items cannot be bought now ({exc})", path="$.line_items"
                )
            )
    for line in lines:
        messages.append(
            protocol.message_info(
                catalog.terms_text(line.entry), code="terms", path=f"$.line_items[{_index(checkout, line.id)}]"
            )
        )
    return Evaluation(lines=lines, messages=messages, currency=currency, quote=quote)


def _index(checkout: Checkout, line_id: str) -> int:
    return next((i for i, raw in enumerate(checkout.line_items) if raw["id"] == line_id), 0)


def _apply(settings: UcpSettings, checkout: Checkout) -> Evaluation:
    evaluation = _evaluate(settings, checkout)
    checkout.currency = evaluation.currency
    checkout.messages = evaluation.messages
    if evaluation.quote is not None:
        checkout.totals = evaluation.quote.totals
        checkout.line_totals = evaluation.quote.line_totals
    else:
        checkout.totals = [{"type": "subtotal", "amount": 0}, {"type": "total", "amount": 0}]
        checkout.line_totals = {}
    errors = [m for m in evaluation.messages if m["type"] == "error"]
    if any(m["severity"] in ("requires_buyer_input", "requires_buyer_review") for m in errors):
        checkout.status = CheckoutStatus.REQUIRES_ESCALATION
        checkout.continue_url = checkout.continue_url or settings.public_base_url
    elif errors or evaluation.quote is None:
        checkout.status = CheckoutStatus.INCOMPLETE
    else:
        checkout.status = CheckoutStatus.READY_FOR_COMPLETE
    return evaluation


# --------------------------------------------------------------------------- operations


def _drop_unavailable(settings: UcpSettings, checkout: Checkout) -> list[dict[str, Any]]:
    """Lines naming nothing the business sells are taken out of the session (when something else
    remains), each reported by a warning: the rest can still be bought."""
    kept: list[dict[str, Any]] = []
    dropped: list[dict[str, Any]] = []
    for raw in checkout.line_items:
        (kept if catalog.resolve(settings, raw["item_id"]) is not None else dropped).append(raw)
    if not dropped or not kept:
        return []
    checkout.line_items = kept
    return [
        protocol.message_warning("item_unavailable", f"{raw['item_id']} is not sold here and was removed")
        for raw in dropped
    ]


def _new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def checkout_create(
    settings: UcpSettings, platform: Platform, body: Any, *, now: dt.datetime | None = None
) -> Checkout:
    now = now or timezone.now()
    request = parse_request(body)
    checkout = Checkout(
        organization_id=settings.organization_id,
        public_id=_new_id("chk"),
        platform_profile_url=platform.profile_url,
        line_items=_number_lines(request.lines),
        buyer=request.buyer or {},
        context=request.context or {},
        expires_at=now + dt.timedelta(minutes=settings.checkout_ttl_minutes),
        currency=settings.organization.default_currency,
    )
    checkout.organization = settings.organization
    removed = _drop_unavailable(settings, checkout)
    evaluation = _apply(settings, checkout)
    checkout.messages = [*removed, *checkout.messages]
    if not evaluation.lines:
        # Nothing the business sells: no session is created (a business outcome, HTTP 200).
        raise protocol.BusinessError(
            [
                protocol.message_error(
                    "item_unavailable", "None of the requested items is sold here", severity="unrecoverable"
                )
            ],
            continue_url=settings.public_base_url,
        )
    checkout.save(force_insert=True)
    return checkout


def _locked(settings: UcpSettings, platform: Platform, public_id: str) -> Checkout:
    """The platform's own session, locked; 404 for another organization's or platform's."""
    checkout = (
        Checkout.objects.select_for_update()
        .filter(
            organization_id=settings.organization_id, platform_profile_url=platform.profile_url, public_id=public_id
        )
        .first()
    )
    if checkout is None:
        raise UcpError(404, "not_found", "Checkout session not found")
    checkout.organization = settings.organization
    return checkout


def _expire(checkout: Checkout, now: dt.datetime) -> None:
    if checkout.status not in TERMINAL and checkout.expires_at <= now:
        checkout.status = CheckoutStatus.CANCELED
        checkout.canceled_at = now
        checkout.messages = [protocol.message_info("The checkout session expired", code="expired")]
        checkout.save()


def _current(settings: UcpSettings, platform: Platform, public_id: str, now: dt.datetime) -> Checkout:
    """The platform's session, locked, canceled first if it expired by `now`."""
    checkout = _locked(settings, platform, public_id)
    _expire(checkout, now)
    return checkout


def checkout_get(
    settings: UcpSettings, platform: Platform, public_id: str, *, now: dt.datetime | None = None
) -> Checkout:
    with transaction.atomic():
        return _current(settings, platform, public_id, now or timezone.now())


def _refuse_terminal(checkout: Checkout, action: str) -> None:
    if checkout.status in TERMINAL:
        raise UcpError(409, "invalid_status", f"A {checkout.status} checkout cannot be {action}")


def checkout_update(
    settings: UcpSettings, platform: Platform, public_id: str, body: Any, *, now: dt.datetime | None = None
) -> Checkout:
    now = now or timezone.now()
    request = parse_request(body)
    with transaction.atomic():
        checkout = _current(settings, platform, public_id, now)
        _refuse_terminal(checkout, "updated")
        if checkout.status == CheckoutStatus.COMPLETE_IN_PROGRESS:
            raise UcpError(409, "invalid_status", "The checkout is being completed")
        checkout.line_items = _number_lines(request.lines)
        if "buyer" in request.given:
            checkout.buyer = request.buyer or {}
        if "context" in request.given:
            checkout.context = request.context or {}
        if checkout.pending_provider_payment_id:
            payment.abandon(settings, checkout)
        checkout.continue_url = ""
        removed = _drop_unavailable(settings, checkout)
        _apply(settings, checkout)
        checkout.messages = [*removed, *checkout.messages]
        checkout.save()
    return checkout


def checkout_cancel(
    settings: UcpSettings, platform: Platform, public_id: str, *, now: dt.datetime | None = None
) -> Checkout:
    now = now or timezone.now()
    with transaction.atomic():
        checkout = _current(settings, platform, public_id, now)
        _refuse_terminal(checkout, "canceled")
        if checkout.pending_provider_payment_id:
            payment.abandon(settings, checkout)
        checkout.status = CheckoutStatus.CANCELED
        checkout.canceled_at = now
        checkout.continue_url = ""
        checkout.messages = []
        checkout.save()
    return checkout


class _Abort(Exception):
    """Completion stops: everything it billed is rolled back; `apply` records the outcome."""

    def __init__(
        self, status: str, message: dict[str, Any], *, next_attempt: bool, pending_id: str = "", continue_url: str = ""
    ):
        super().__init__(message["content"])
        self.status = status
        self.message = message
        self.next_attempt = next_attempt
        self.pending_id = pending_id
        self.continue_url = continue_url


def checkout_complete(
    settings: UcpSettings, platform: Platform, public_id: str, body: Any, *, now: dt.datetime | None = None
) -> Checkout:
    now = now or timezone.now()
    if not isinstance(body, dict):
        raise _bad("The request body must be a JSON object")
    instrument = payment.selected_instrument(settings, body.get("payment"))
    try:
        with transaction.atomic():
            checkout = _current(settings, platform, public_id, now)
            if checkout.status == CheckoutStatus.COMPLETED:
                return checkout  # completing again answers the order placed, nothing more
            _refuse_terminal(checkout, "completed")
            evaluation = _apply(settings, checkout)
            if checkout.status != CheckoutStatus.READY_FOR_COMPLETE or evaluation.quote is None:
                checkout.save()
                raise UcpError(409, "not_ready", "The checkout is not ready for completion: see its messages")
            quoted = evaluation.quote
            billed = purchase.bill(settings, checkout, evaluation.lines, now=now)
            due = billed.invoice.total_due_amount_cents if billed.invoice is not None else 0
            if due != quoted.total:
                raise _Abort(
                    CheckoutStatus.READY_FOR_COMPLETE,
                    protocol.message_error(
                        "price_changed", "The price changed: review the new totals and complete again"
                    ),
                    next_attempt=False,
                )
            outcome = payment.charge(settings, checkout, billed, instrument, amount_cents=due, now=now)
            if outcome.status == "requires_action":
                raise _Abort(
                    CheckoutStatus.REQUIRES_ESCALATION,
                    protocol.message_error(
                        "payment_authentication_required",
                        "The buyer must authenticate the payment (3-D Secure) at continue_url, then complete again",
                        severity="requires_buyer_input",
                    ),
                    next_attempt=False,
                    pending_id=outcome.provider_payment_id,
                    continue_url=outcome.next_action_url,
                )
            if outcome.status != "succeeded":
                raise _Abort(
                    CheckoutStatus.READY_FOR_COMPLETE,
                    protocol.message_error(
                        "payment_failed", outcome.error_message or "The payment was declined", path="$.payment"
                    ),
                    next_attempt=True,
                )
            checkout.status = CheckoutStatus.COMPLETED
            checkout.completed_at = now
            checkout.customer = billed.customer
            checkout.subscription = billed.subscription
            checkout.invoice = billed.invoice
            checkout.order_public_id = _new_id("ord")
            checkout.pending_provider_payment_id = ""
            checkout.continue_url = ""
            checkout.messages = [m for m in checkout.messages if m["type"] == "info"]
            checkout.save()
            orders.order_event_enqueue(checkout, "order.created", now=now)
            checkout_pk = str(checkout.id)
            transaction.on_commit(lambda: _confirm_later(checkout_pk), robust=True)
            return checkout
    except _Abort as abort:
        with transaction.atomic():
            checkout = _locked(settings, platform, public_id)
            _apply(settings, checkout)
            if (
                abort.status == CheckoutStatus.REQUIRES_ESCALATION
                or checkout.status == CheckoutStatus.READY_FOR_COMPLETE
            ):
                checkout.status = abort.status
            checkout.messages = [abort.message, *checkout.messages]
            checkout.pending_provider_payment_id = abort.pending_id
            checkout.continue_url = abort.continue_url
            if abort.next_attempt:
                checkout.payment_attempt += 1
            checkout.save()
        return checkout


def _confirm_later(checkout_id: str) -> None:
    from ucp import tasks

    tasks.send_order_confirmation.delay(checkout_id)


# --------------------------------------------------------------------------- representation


def render(checkout: Checkout, settings: UcpSettings, platform: Platform) -> dict[str, Any]:
    from ucp import profile

    by_id = {}
    for raw in checkout.line_items:
        found = catalog.resolve(settings, raw["item_id"])
        by_id[raw["id"]] = found[0] if found else None
    line_items = []
    for raw in checkout.line_items:
        entry = by_id[raw["id"]]
        item: dict[str, Any] = {
            "id": raw["item_id"],
            "title": entry.title if entry else raw["item_id"],
            "price": entry.unit_amount if entry else 0,
        }
        line_items.append(
            {
                "id": raw["id"],
                "item": item,
                "quantity": raw["quantity"],
                "totals": checkout.line_totals.get(raw["id"])
                or [{"type": "subtotal", "amount": 0}, {"type": "total", "amount": 0}],
            }
        )
    body: dict[str, Any] = {
        "ucp": {
            "version": protocol.VERSION,
            "status": "success",
            "capabilities": platform.response_capabilities("checkout"),
            "payment_handlers": profile.payment_handlers(settings),
        },
        "id": checkout.public_id,
        "status": checkout.status,
        "currency": checkout.currency,
        "line_items": line_items,
        "totals": checkout.totals,
        "messages": checkout.messages,
        "links": _links(settings),
        "expires_at": checkout.expires_at.isoformat().replace("+00:00", "Z"),
    }
    if checkout.buyer:
        body["buyer"] = checkout.buyer
    if checkout.context:
        body["context"] = checkout.context
    if checkout.continue_url and checkout.status not in TERMINAL:
        body["continue_url"] = checkout.continue_url
    if checkout.status == CheckoutStatus.COMPLETED and checkout.order_public_id:
        body["order"] = {
            "id": checkout.order_public_id,
            "label": checkout.invoice.number
            if checkout.invoice is not None and checkout.invoice.number
            else checkout.order_public_id,
            "permalink_url": f"{settings.public_base_url}/orders/{checkout.order_public_id}",
        }
    return body


def _links(settings: UcpSettings) -> list[dict[str, str]]:
    links = []
    if settings.terms_url:
        links.append({"type": "terms_of_service", "url": settings.terms_url})
    if settings.privacy_url:
        links.append({"type": "privacy_policy", "url": settings.privacy_url})
    return links
