"""Inbound provider webhooks: `POST /webhooks/<provider>/<organization_id>[?code=<connection>]`.

Outside the Lago API (no API key: the provider's signature authenticates the call)."""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from billing_project.core.api.exceptions import lago_error
from billing_project.core.errors import NotFoundFailure
from payments.providers import PROVIDERS, WebhookSignatureError
from payments.services.events import provider_events_receive

MAX_BODY = 1024 * 1024


@csrf_exempt
@require_POST
def provider_webhook(request: HttpRequest, provider: str, organization_id: str) -> HttpResponse:
    body = request.body
    if len(body) > MAX_BODY:
        return JsonResponse(lago_error(413), status=413)
    try:
        received = provider_events_receive(
            organization_id, provider, body=body, headers=dict(request.headers), code=request.GET.get("code")
        )
    except NotFoundFailure:
        return JsonResponse(lago_error(404, "payment_provider_not_found"), status=404)
    except (WebhookSignatureError, json.JSONDecodeError, KeyError):
        return JsonResponse(lago_error(400, error="invalid_signature"), status=400)
    ack = getattr(PROVIDERS.get(provider), "webhook_ack", None)
    if ack is not None:  # Adyen expects this exact body
        return HttpResponse(ack, content_type="text/plain")
    event, created = received[0]
    return JsonResponse(
        {
            "received": True,
            "duplicate": not created,
            "event": event.event_id,
            "events": [{"event": e.event_id, "duplicate": not c} for e, c in received],
        }
    )
