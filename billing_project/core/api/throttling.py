"""Per-API-key request rate limit (`RATE_LIMIT_REQUESTS_PER_MINUTE`; 0 disables it).

It runs as a DRF permission placed right after `HasApiKey` and before the key's scope check, so
every authenticated call counts, including the ones its scope then refuses (a DRF throttle would
run only after the permissions). Over the limit the call is answered 429 in Lago's shape
(`billing_project.core.api.exceptions`) with `Retry-After`, and `ApiLimitsMiddleware` adds
`x-ratelimit-limit`, `x-ratelimit-remaining` and `x-ratelimit-reset` to every response of a
rate-limited key (the headers lago-python-client reads before retrying).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.exceptions import Throttled
from rest_framework.permissions import BasePermission

from billing_project.core import ratelimit

WINDOW_SECONDS = 60


def limit_per_minute() -> int:
    return int(getattr(settings, "RATE_LIMIT_REQUESTS_PER_MINUTE", 0) or 0)


class ApiKeyRateLimit(BasePermission):
    def has_permission(self, request: Any, view: Any) -> bool:
        api_key = getattr(request, "auth", None)
        limit = limit_per_minute()
        if api_key is None or limit <= 0 or getattr(api_key, "pk", None) is None:
            return True  # no key: HasApiKey answers 401
        # A view may count a limit of its own in the same Redis call (`also_rate_counter`, e.g. the
        # events per organization of POST /events): one round trip per request for both.
        counter = getattr(view, "also_rate_counter", None)
        also = counter(request) if counter is not None else None
        # A request counted already (`OrganizationAPIView.answer_get_directly` handed it to DRF) is
        # answered from that count, not counted twice.
        result = getattr(request._request, "bxb_ratelimit", None)
        if result is None:
            result = ratelimit.hit(f"api:key:{api_key.pk}", limit, WINDOW_SECONDS, also=also)
            request._request.bxb_ratelimit = result
        if not result.allowed:
            raise Throttled(wait=result.reset_seconds)
        return True
