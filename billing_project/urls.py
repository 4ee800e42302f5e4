"""URL configuration. The Lago-compatible API is served at both /api/v1 and /v1.

Each app's `api/urls.py`, when present, is mounted under the API prefix automatically.
"""

from __future__ import annotations

import importlib.util

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import include, path, re_path
from django.views import defaults
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from billing_project import health, monitoring
from billing_project.core import staff_auth
from billing_project.core.api import exceptions
from billing_project.core.api.routing import group_by_first_segment

# Every billing app's `api/urls.py`, credits' (wallets, wallet transactions, credit notes) after invoicing's.
API_APPS = [
    module for app in settings.BILLING_APPS for module in ((app, "invoicing.credits") if app == "invoicing" else (app,))
]
# Django tries URL patterns one by one; the busiest are tried first: the events, and the
# entitlement reads an application makes before each request of its own (first within the
# "subscriptions/" and "plans/" groups: their literal last segments match no other app's route).
# The order changes no resolution; tests/core/test_request_path.py checks every route.
RESOLVE_FIRST = ("metering", "entitlements")


def _api_patterns() -> list:
    patterns = []
    for app in sorted(API_APPS, key=lambda name: name not in RESOLVE_FIRST):
        module = f"{app}.api.urls"
        if importlib.util.find_spec(f"{app}.api") and importlib.util.find_spec(module):
            patterns.append(path("", include(module)))
    patterns += [
        path("schema", SpectacularAPIView.as_view(), name="schema"),
        path("docs", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
        re_path(r"^.*$", exceptions.json_not_found),
    ]
    return patterns


# Grouped by first path segment: a path is tried against its own group only (same resolutions).
api_patterns = group_by_first_segment(_api_patterns())

urlpatterns = [
    path("health", health.live, name="health"),
    path("health/ready", health.ready, name="health-ready"),
    path("metrics", monitoring.metrics_view, name="metrics"),
    path("api/v1/", include(api_patterns)),
    path("v1/", include((api_patterns, "v1"))),
    path("admin/two-factor/", staff_auth.two_factor_view, name="admin-two-factor"),
    path("admin/", admin.site.urls),
    path("ucp/", include("ucp.urls")),  # UCP businesses, one per organization (docs/ucp.md)
    path("", include("payments.urls")),  # inbound provider webhooks: /webhooks/<provider>/<organization_id>
    re_path(r"^(?:api|v1)(?:/.*)?$", exceptions.json_not_found),
]

_API_PREFIXES = ("/api/", "/v1/", "/api", "/v1")


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith(_API_PREFIXES)


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return exceptions.json_not_found(request, exception)
    return defaults.page_not_found(request, exception)  # type: ignore[arg-type]


def handler500(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return exceptions.json_server_error(request)
    return defaults.server_error(request)


def handler400(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return exceptions.json_bad_request(request, exception)
    return defaults.bad_request(request, exception)  # type: ignore[arg-type]


def handler403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return exceptions.json_permission_denied(request, exception)
    return defaults.permission_denied(request, exception)  # type: ignore[arg-type]
