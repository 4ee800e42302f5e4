"""Project middleware: CORS, request ids, metrics and access logs, API body and rate limits."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.middleware import AuthenticationMiddleware as DjangoAuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware as DjangoMessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware as DjangoSessionMiddleware
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware as DjangoCsrfViewMiddleware

from billing_project.core import logging as bxb_logging
from billing_project.core import metrics
from billing_project.core.api import guard
from billing_project.core.api.exceptions import PAYLOAD_TOO_LARGE_BODY

access_logger = logging.getLogger("bxb.access")


# Response headers a browser client may read: the request id and the rate-limit state.
_EXPOSED_HEADERS = "X-Request-Id, x-ratelimit-limit, x-ratelimit-remaining, x-ratelimit-reset, Retry-After"


class CorsMiddleware:
    """A small CORS middleware driven by the CORS_ORIGINS setting (no extra dependency)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        origin = request.META.get("HTTP_ORIGIN")  # not request.headers: building it costs more
        allowed = settings.CORS_ORIGINS
        origin_ok = bool(origin) and ("*" in allowed or origin in allowed)
        if origin_ok and request.method == "OPTIONS" and "HTTP_ACCESS_CONTROL_REQUEST_METHOD" in request.META:
            response = HttpResponse(status=204)
        else:
            response = self.get_response(request)
        if origin_ok:
            response["Access-Control-Allow-Origin"] = "*" if "*" in allowed else origin
            response["Access-Control-Allow-Headers"] = "Authorization, Content-Type, X-Request-Id"
            response["Access-Control-Expose-Headers"] = _EXPOSED_HEADERS
            response["Access-Control-Allow-Methods"] = "GET, POST, PUT, DELETE, OPTIONS"
            response["Vary"] = "Origin"
        return response


_API_PREFIXES = ("/api/", "/v1/")


def is_api_path(path: str) -> bool:
    return path.startswith(_API_PREFIXES) or path in ("/api", "/v1")


class RequestIdMiddleware:
    """Gives every request an id (a sane incoming `X-Request-Id`, or a new one) for logs and tasks.

    The id is bound to the logging context for the request, set on `request.request_id`
    and returned in the `X-Request-Id` response header. Celery tasks enqueued meanwhile carry it.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = bxb_logging.sane_request_id(request.META.get("HTTP_X_REQUEST_ID")) or bxb_logging.new_request_id()
        request.request_id = request_id  # type: ignore[attr-defined]
        # A fresh context per request. It stays bound after this returns, so Django's own
        # `django.request` log line (written after the middleware chain) still carries the id;
        # `request_finished` clears it (connected in CoreConfig.ready()).
        bxb_logging.start_context(request_id=request_id)
        response = self.get_response(request)
        response["X-Request-Id"] = request_id
        return response


class MetricsMiddleware:
    """Latency histogram and status-class counts by route; logs one access line per API request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed = time.perf_counter() - started
        status = response.status_code
        metrics.observe_request(request, status, elapsed)
        if status == 429:
            metrics.rate_limited.inc()
        level = logging.ERROR if status >= 500 else logging.INFO
        # isEnabledFor first: at LOG_LEVEL=WARNING (or above) an API request builds no log record.
        if access_logger.isEnabledFor(level) and is_api_path(request.path):
            route = metrics.route_of(request)
            access_logger.log(
                level,
                "%s %s %s",
                request.method,
                route,
                status,
                extra={
                    "method": request.method,
                    "route": route,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                },
            )
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> None:
        metrics.observe_exception(request, exception)


class ApiLimitsMiddleware:
    """API request limits that need no view: the body size cap, the request guard
    (`billing_project.core.api.guard`: NUL characters in the path or query, a body charset that is
    not UTF-8), and the rate-limit headers.

    Django enforces `DATA_UPLOAD_MAX_MEMORY_SIZE` only when `request.body` or `request.POST` is read;
    DRF's JSON parser reads the raw stream, so without this check an API body had no cap. A body
    whose `Content-Length` exceeds the setting is refused before it is read, with a Lago-shaped 413.
    The per-key rate limit runs in DRF (`billing_project.core.api.throttling`); the result it leaves
    on the request becomes the `x-ratelimit-*` headers of the response, 429 or not, unless the view
    already set them for a limit of its own.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if is_api_path(request.path):
            if self._too_big(request):
                return payload_too_large_response()
            refused = guard.refusal(request)  # NUL in the path or query, a charset that is not UTF-8
            if refused is not None:
                return refused
        response = self.get_response(request)
        result = getattr(request, "bxb_ratelimit", None)
        if result is not None and not response.has_header("x-ratelimit-limit"):
            # A view that applies a narrower limit of its own (events) sets these headers itself.
            for key, value in result.headers().items():
                response[key] = value
        return response

    @staticmethod
    def _too_big(request: HttpRequest) -> bool:
        cap = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if cap is None:
            return False
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except (TypeError, ValueError):
            return False
        return length > cap


class MessageMiddleware(DjangoMessageMiddleware):
    """Django's flash messages, for the admin only: API requests never read or write them, and
    setting up the message storage (a cookie signer) for each API request cost more than the rest
    of the request's middleware together."""

    def process_request(self, request: HttpRequest) -> None:
        if not is_api_path(request.path):
            super().process_request(request)


# Django's session, CSRF and authentication middleware serve the admin (cookies, a logged-in
# staff user). An API request authenticates with its key in DRF, whose views are CSRF-exempt and
# never touch `request.session`, so for `/api` and `/v1` these three only cost time (a session
# store, a CSRF cookie read, a lazy user, and a call through each): they pass API requests straight
# through. Everything else (the admin, health, metrics) gets Django's behaviour unchanged.


class ApiPassThrough:
    """Put before a Django middleware class (`class X(ApiPassThrough, DjangoX)`): API requests go
    straight to the next middleware, everything else through Django's."""

    get_response: Any  # set by the Django middleware's __init__

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if is_api_path(request.path):
            return self.get_response(request)
        return super().__call__(request)  # type: ignore[misc]  # the Django middleware's, next in the MRO


class SessionMiddleware(ApiPassThrough, DjangoSessionMiddleware):
    pass


class CsrfViewMiddleware(ApiPassThrough, DjangoCsrfViewMiddleware):
    def process_view(self, request: HttpRequest, callback: Any, callback_args: Any, callback_kwargs: Any) -> Any:
        if is_api_path(request.path):
            return None  # API views are CSRF-exempt (DRF's APIView.as_view)
        return super().process_view(request, callback, callback_args, callback_kwargs)


class AuthenticationMiddleware(ApiPassThrough, DjangoAuthenticationMiddleware):
    pass


def payload_too_large_response() -> JsonResponse:
    return JsonResponse(PAYLOAD_TOO_LARGE_BODY, status=413)
