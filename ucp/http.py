"""Plumbing shared by the UCP views: finding the organization from the path, JSON answers in
UCP's shapes, and turning UcpError / BusinessError into responses."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from billing_project.core.errors import DomainError
from ucp.models import UcpSettings
from ucp.protocol import BusinessError, UcpError


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> HttpResponse:
    response = HttpResponse(
        json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode(),
        status=status,
        content_type="application/json",
    )
    for key, value in (headers or {}).items():
        response[key] = value
    return response


def settings_for(slug: str) -> UcpSettings:
    """The enabled UCP settings of the organization served at /ucp/<slug>; 404 otherwise, the same
    answer for an unknown slug and a disabled one."""
    row = (
        UcpSettings.objects.select_related("organization", "payment_connection").filter(slug=slug, enabled=True).first()
    )
    if row is None:
        raise UcpError(404, "not_found", "No UCP business is served at this address")
    return row


def ucp_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Resolves `slug` into the organization's settings and answers refusals in UCP's shapes."""

    @csrf_exempt
    @functools.wraps(view)
    def wrapper(request: HttpRequest, slug: str, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            settings = settings_for(slug)
        except UcpError as exc:
            return json_response(exc.body(), exc.status, exc.headers)
        try:
            response = view(request, settings, *args, **kwargs)
        except UcpError as exc:
            response = json_response(exc.body(), exc.status, exc.headers)
        except BusinessError as exc:
            response = json_response(exc.body(), exc.status)
        except DomainError as exc:
            status = exc.status if 400 <= exc.status < 500 else 400
            response = json_response({"code": "invalid_request", "content": str(exc) or type(exc).__name__}, status)
        return sign(response, settings)

    return wrapper


def sign(response: HttpResponse, settings: UcpSettings) -> HttpResponse:
    """Every answer of an organization's UCP business is signed with its key (RFC 9421:
    @status, and content-digest and content-type over the body)."""
    from ucp import signing
    from ucp.services.setup import signing_key

    key, kid = signing_key(settings)
    headers = signing.sign_response(
        response.status_code, response.content, response.get("Content-Type", "application/json"), key=key, kid=kid
    )
    for name, value in headers.items():
        response[name] = value
    return response
