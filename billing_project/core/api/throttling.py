"""Per-API-key request rate limit (`RATE_LIMIT_REQUESTS_PER_MINUTE`; 0 disables it).

A DRF throttle, so it runs after authentication on every API view. Over the limit the request is
answered 429 in Lago's shape (`billing_project.core.api.exceptions`) with `Retry-After`, and
`ApiLimitsMiddleware` adds `x-ratelimit-limit`, `x-ratelimit-remaining` and `x-ratelimit-reset`
to every rate-limited response (the ones lago-python-client reads before retrying).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.throttling import BaseThrottle

from billing_project.core import ratelimit

WINDOW_SECONDS = 60


class ApiKeyRateThrottle(BaseThrottle):
    def __init__(self) -> None:
        self.result: ratelimit.RateLimitResult | None = None

    def allow_request(self, request: Any, view: Any) -> bool:
        api_key = getattr(request, "auth", None)
        limit = int(getattr(settings, "RATE_LIMIT_REQUESTS_PER_MINUTE", 0) or 0)
        if api_key is None or limit <= 0 or getattr(api_key, "pk", None) is None:
            return True
        self.result = ratelimit.hit(f"api:key:{api_key.pk}", limit, WINDOW_SECONDS)
        request._request.bxb_ratelimit = self.result
        return self.result.allowed

    def wait(self) -> float | None:
        return float(self.result.reset_seconds) if self.result is not None else None
