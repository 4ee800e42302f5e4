"""UCP's REST binding for one organization at /ucp/<slug>/ (docs/ucp.md)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET, require_POST

from billing_project.core.actor import ACTOR_SYSTEM, Actor, acting_as
from ucp import catalog, idempotency, negotiation, profile, protocol
from ucp.http import json_response, ucp_view
from ucp.models import Checkout, CheckoutStatus, UcpSettings
from ucp.negotiation import Platform
from ucp.protocol import BusinessError, UcpError
from ucp.services import checkouts, orders

# Profiles are stable documents: shared caches may keep them five minutes (the specification asks
# for `public` and at least 60 seconds, never private/no-store/no-cache).
PROFILE_CACHE_CONTROL = "public, max-age=300"


@require_GET
@ucp_view
def well_known(request: HttpRequest, settings: UcpSettings) -> HttpResponse:
    return json_response(profile.business_profile(settings), headers={"Cache-Control": PROFILE_CACHE_CONTROL})


@require_GET
@ucp_view
def payment_handler_spec(request: HttpRequest, settings: UcpSettings, code: str) -> HttpResponse:
    """What a platform needs to use one of the organization's payment handlers."""
    handlers = profile.payment_handlers(settings)
    for name, entries in handlers.items():
        for entry in entries:
            if entry["id"] == code:
                return json_response(
                    {
                        "name": name,
                        "id": code,
                        "version": entry["version"],
                        "available_instruments": entry["available_instruments"],
                        "config": entry["config"],
                        "credential": _credential_doc(entry["config"]["provider"]),
                    },
                    headers={"Cache-Control": PROFILE_CACHE_CONTROL},
                )
    raise UcpError(404, "not_found", "No such payment handler")


def _credential_doc(provider: str) -> dict[str, str]:
    if provider == "stripe":
        return {
            "type": "stripe_payment_method",
            "token": "A Stripe PaymentMethod id (pm_...) created with the business's Stripe account; "
            "it is charged once at completion and saved for the subscription's later invoices.",
        }
    return {"type": "none", "token": "No credential: the invoice is paid out of band."}


# --------------------------------------------------------------------------- requests


def _json_body(request: HttpRequest) -> Any:
    if not request.body:
        return None
    try:
        return json.loads(request.body)
    except ValueError:
        raise UcpError(400, "invalid_request", "The body is not valid JSON") from None


def _body_field(request: HttpRequest, name: str) -> Any:
    """The value of `name` in the JSON object of the body; None when absent or the body is no object."""
    body = _json_body(request)
    return body.get(name) if isinstance(body, dict) else None


def _catalog_envelope(platform: Platform, operation: str) -> dict[str, Any]:
    return {"version": protocol.VERSION, "status": "success", "capabilities": platform.response_capabilities(operation)}


# --------------------------------------------------------------------------- catalog

SEARCH_DEFAULT_LIMIT = 10
SEARCH_MAX_LIMIT = 50
LOOKUP_MAX_IDS = 50


def _cursor(value: Any) -> int:
    if value is None:
        return 0
    try:
        offset = int(base64.urlsafe_b64decode(str(value).encode() + b"==").decode())
    except (ValueError, UnicodeDecodeError):
        raise UcpError(400, "invalid_request", "pagination.cursor is not a cursor this business issued") from None
    if offset < 0:
        raise UcpError(400, "invalid_request", "pagination.cursor is not a cursor this business issued")
    return offset


@require_POST
@ucp_view
def catalog_search(request: HttpRequest, settings: UcpSettings) -> HttpResponse:
    platform = negotiation.platform_for(request, settings, "catalog_search")
    body = _json_body(request)
    if not isinstance(body, dict):
        raise UcpError(400, "invalid_request", "The request body must be a JSON object")
    query = body.get("query")
    filters = body.get("filters")
    if query is not None and not isinstance(query, str):
        raise UcpError(400, "invalid_request", "query must be a string")
    if filters is not None and not isinstance(filters, dict):
        raise UcpError(400, "invalid_request", "filters must be an object")
    if not (query and query.strip()) and not filters:
        raise UcpError(400, "invalid_request", "A search needs a query or filters")
    filters = filters or {}
    categories = filters.get("categories") or []
    price = filters.get("price") or {}
    if not isinstance(categories, list) or not isinstance(price, dict):
        raise UcpError(400, "invalid_request", "filters are malformed")
    price_min, price_max = price.get("min"), price.get("max")
    for bound in (price_min, price_max):
        if bound is not None and (not isinstance(bound, int) or isinstance(bound, bool)):
            raise UcpError(400, "invalid_request", "filters.price bounds are integers in minor units")
    pagination = body.get("pagination") or {}
    if not isinstance(pagination, dict):
        raise UcpError(400, "invalid_request", "pagination must be an object")
    limit = pagination.get("limit", SEARCH_DEFAULT_LIMIT)
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise UcpError(400, "invalid_request", "pagination.limit must be an integer of at least 1")
    limit = min(limit, SEARCH_MAX_LIMIT)
    offset = _cursor(pagination.get("cursor", body.get("cursor")))
    found = catalog.search(
        settings, query=query or "", categories=[str(c) for c in categories], price_min=price_min, price_max=price_max
    )
    page = found[offset : offset + limit]
    has_next = offset + limit < len(found)
    page_info: dict[str, Any] = {"has_next_page": has_next, "total_count": len(found)}
    if has_next:
        page_info["cursor"] = base64.urlsafe_b64encode(str(offset + limit).encode()).decode().rstrip("=")
    return json_response(
        {
            "ucp": _catalog_envelope(platform, "catalog_search"),
            "products": [catalog.product(entry) for entry in page],
            "pagination": page_info,
        }
    )


@require_POST
@ucp_view
def catalog_lookup(request: HttpRequest, settings: UcpSettings) -> HttpResponse:
    platform = negotiation.platform_for(request, settings, "catalog_lookup")
    ids = _body_field(request, "ids")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        raise UcpError(400, "invalid_request", "ids must list at least one identifier")
    unique = list(dict.fromkeys(ids))
    if len(unique) > LOOKUP_MAX_IDS:
        raise UcpError(400, "request_too_large", f"At most {LOOKUP_MAX_IDS} identifiers per lookup")
    products: dict[str, tuple[catalog.Entry, list[dict[str, str]]]] = {}
    messages = []
    for identifier in unique:
        found = catalog.resolve(settings, identifier)
        if found is None:
            messages.append(protocol.message_info(f"{identifier} was not found", code="not_found"))
            continue
        entry, match = found
        products.setdefault(entry.product_id, (entry, []))[1].append({"id": identifier, "match": match})
    body_out: dict[str, Any] = {
        "ucp": _catalog_envelope(platform, "catalog_lookup"),
        "products": [catalog.product(entry, inputs=inputs) for entry, inputs in products.values()],
    }
    if messages:
        body_out["messages"] = messages
    return json_response(body_out)


@require_POST
@ucp_view
def catalog_product(request: HttpRequest, settings: UcpSettings) -> HttpResponse:
    platform = negotiation.platform_for(request, settings, "catalog_lookup")
    identifier = _body_field(request, "id")
    if not isinstance(identifier, str) or not identifier:
        raise UcpError(400, "invalid_request", "id is required")
    found = catalog.resolve(settings, identifier)
    if found is None:
        raise BusinessError(
            [protocol.message_error("not_found", f"{identifier} was not found", severity="unrecoverable")]
        )
    entry, match = found
    return json_response(
        {
            "ucp": _catalog_envelope(platform, "catalog_lookup"),
            "product": catalog.product(entry, inputs=[{"id": identifier, "match": match}]),
        }
    )


# --------------------------------------------------------------------------- checkout


def _checkout_response(checkout: Any, settings: UcpSettings, platform: Platform, status: int = 200) -> HttpResponse:
    return json_response(checkouts.render(checkout, settings, platform), status)


def _checkout_change(
    request: HttpRequest, settings: UcpSettings, platform: Platform, change: Callable[[], Checkout], status: int = 200
) -> HttpResponse:
    """`change()` run once per idempotency key (`idempotency.run`), answered with the checkout it returns."""
    return idempotency.run(
        request, settings, platform.profile_url, lambda: _checkout_response(change(), settings, platform, status)
    )


@ucp_view
def checkout_sessions(request: HttpRequest, settings: UcpSettings) -> HttpResponse:
    if request.method != "POST":
        raise UcpError(405, "method_not_allowed", "POST creates a checkout session")
    platform = negotiation.platform_for(request, settings, "checkout")
    return _checkout_change(
        request, settings, platform, lambda: checkouts.checkout_create(settings, platform, _json_body(request)), 201
    )


@ucp_view
def checkout_session(request: HttpRequest, settings: UcpSettings, checkout_id: str) -> HttpResponse:
    platform = negotiation.platform_for(request, settings, "checkout")
    if request.method == "GET":
        return _checkout_response(checkouts.checkout_get(settings, platform, checkout_id), settings, platform)
    if request.method != "PUT":
        raise UcpError(405, "method_not_allowed", "GET reads and PUT replaces a checkout session")
    return _checkout_change(
        request,
        settings,
        platform,
        lambda: checkouts.checkout_update(settings, platform, checkout_id, _json_body(request)),
    )


@require_POST
@ucp_view
def checkout_complete(request: HttpRequest, settings: UcpSettings, checkout_id: str) -> HttpResponse:
    platform = negotiation.platform_for(request, settings, "checkout")

    def complete() -> Checkout:
        # The platform completing the checkout is who acts: its subscription and payment name it.
        with acting_as(Actor(ACTOR_SYSTEM, label=f"ucp:{platform.profile_url}"[:255])):
            return checkouts.checkout_complete(settings, platform, checkout_id, _json_body(request))

    return _checkout_change(request, settings, platform, complete)


@require_POST
@ucp_view
def checkout_cancel(request: HttpRequest, settings: UcpSettings, checkout_id: str) -> HttpResponse:
    platform = negotiation.platform_for(request, settings, "checkout")
    return _checkout_change(
        request, settings, platform, lambda: checkouts.checkout_cancel(settings, platform, checkout_id)
    )


@require_GET
@ucp_view
def payment_handler_schema(request: HttpRequest, settings: UcpSettings, code: str) -> HttpResponse:
    """The JSON Schema of the instruments one of the organization's handlers takes."""
    for entries in profile.payment_handlers(settings).values():
        for entry in entries:
            if entry["id"] == code:
                stripe = entry["config"]["provider"] == "stripe"
                credential = (
                    {
                        "type": "object",
                        "required": ["type", "token"],
                        "properties": {"type": {"type": "string"}, "token": {"type": "string", "pattern": "^pm_"}},
                    }
                    if stripe
                    else {"type": "object"}
                )
                return json_response(
                    {
                        "$schema": "https://json-schema.org/draft/2020-12/schema",
                        "title": f"Instrument of payment handler {code}",
                        "type": "object",
                        "required": ["id", "handler_id", "type", *(["credential"] if stripe else [])],
                        "properties": {
                            "id": {"type": "string"},
                            "handler_id": {"const": code},
                            "type": {"const": "card" if stripe else "invoice"},
                            "credential": credential,
                        },
                    },
                    headers={"Cache-Control": PROFILE_CACHE_CONTROL},
                )
    raise UcpError(404, "not_found", "No such payment handler")


# --------------------------------------------------------------------------- orders


@require_GET
@ucp_view
def order_detail(request: HttpRequest, settings: UcpSettings, order_id: str) -> HttpResponse:
    """The order a completed checkout became; only the platform that placed it may read it."""
    platform = negotiation.platform_for(request, settings, "order")
    checkout = (
        Checkout.objects.filter(
            organization_id=settings.organization_id, order_public_id=order_id, status=CheckoutStatus.COMPLETED
        )
        .select_related("subscription__plan", "invoice")
        .first()
    )
    if checkout is None:
        raise BusinessError([protocol.message_error("not_found", "Order not found.", severity="unrecoverable")])
    if checkout.platform_profile_url != platform.profile_url:
        raise BusinessError(
            [protocol.message_error("unauthorized", "Not authorized to access this order.", severity="unrecoverable")]
        )
    return json_response(orders.order_render(checkout, settings))
