"""`Authorization: Bearer <key>` authentication for the API."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed

from customers.auth import authenticate as api_key_authenticate


class ApiPrincipal:
    """The `request.user` of an API call: the organization behind the key."""

    is_authenticated = True
    is_anonymous = False

    def __init__(self, api_key: Any):
        self.api_key = api_key
        self.organization = api_key.organization


class ApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request: Any) -> tuple[ApiPrincipal, Any] | None:
        # The Django request's headers (`request.headers` would build a dict of all of them; DRF's
        # `Request` finds `META` only after a failed attribute lookup, an exception raised and caught).
        django_request = getattr(request, "_request", request)
        header = django_request.META.get("HTTP_AUTHORIZATION", "")
        parts = header.split()
        if not parts:
            return None
        # Lago reads the second whitespace-separated word.
        if len(parts) != 2 or parts[0].lower() != "bearer":
            raise AuthenticationFailed("invalid authorization header")
        api_key = api_key_authenticate(parts[1])
        if api_key is None:
            raise AuthenticationFailed("unknown or revoked API key")
        return ApiPrincipal(api_key), api_key

    def authenticate_header(self, request: Any) -> str:
        return 'Bearer realm="api"'


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "customers.api.authentication.ApiKeyAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "description": "An organization API key."}
