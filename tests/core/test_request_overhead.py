"""The fixed per-request work cut from the API path changes no answer.

Compared byte for byte (status, every header, body) with the stock stack: Django's own session,
CSRF and authentication middleware instead of the API pass-through subclasses, and the API routes
in their declared order instead of grouped by first segment. Also: the API key cache's instance
rebuild, the parser's NUL shortcut and the metrics label cache.
"""

from __future__ import annotations

import copy
import uuid

import pytest
from django.db import DEFAULT_DB_ALIAS
from django.test import Client, override_settings
from django.urls import include, path

from billing_project import urls as project_urls
from billing_project.core import localcache, ratelimit

_STOCK = {
    "billing_project.core.middleware.SessionMiddleware": "django.contrib.sessions.middleware.SessionMiddleware",
    "billing_project.core.middleware.CsrfViewMiddleware": "django.middleware.csrf.CsrfViewMiddleware",
    "billing_project.core.middleware.AuthenticationMiddleware": "django.contrib.auth.middleware.AuthenticationMiddleware",
}


def _stock_urlpatterns() -> list:
    ungrouped = project_urls._api_patterns()
    patterns = []
    for pattern in project_urls.urlpatterns:
        route = str(pattern.pattern)
        if route == "api/v1/":
            patterns.append(path("api/v1/", include(ungrouped)))
        elif route == "v1/":
            patterns.append(path("v1/", include((ungrouped, "v1"))))
        else:
            patterns.append(pattern)
    return patterns


# This module is also the stock URL configuration (ROOT_URLCONF override below).
urlpatterns = _stock_urlpatterns()
handler400 = project_urls.handler400
handler403 = project_urls.handler403
handler404 = project_urls.handler404
handler500 = project_urls.handler500


def _exchanges(raw_key: str) -> list[tuple[int, list[tuple[str, str]], bytes]]:
    auth = {"HTTP_AUTHORIZATION": f"Bearer {raw_key}", "HTTP_X_REQUEST_ID": "req-fixed-1"}
    client = Client()
    calls = [
        ("get", "/api/v1/customers?per_page=1", {}),
        ("get", "/api/v1/customers?per_page=2&page=1", {}),
        ("get", "/api/v1/customers/cust-1", {}),
        ("get", "/v1/customers/cust-1", {}),
        ("get", "/api/v1/customers/nope", {}),
        ("get", "/api/v1/customers/cust-1/current_usage?external_subscription_id=none", {}),
        ("get", "/api/v1/invoices?external_customer_id=cust-1&per_page=20", {}),
        ("get", "/api/v1/events?per_page=1", {}),
        ("get", "/api/v1/nothing/here", {}),
        ("get", "/api/v1/customers", {"HTTP_ACCEPT": "text/html"}),
        ("get", "/api/v1/customers", {"HTTP_ORIGIN": "https://app.example"}),
        ("options", "/api/v1/customers", {"HTTP_ORIGIN": "https://app.example",
                                          "HTTP_ACCESS_CONTROL_REQUEST_METHOD": "POST"}),
        ("post", "/api/v1/customers", {"data": "{bad", "content_type": "application/json"}),
        ("post", "/api/v1/customers", {"data": '{"customer": {"external_id": "a\\u0000"}}',
                                       "content_type": "application/json"}),
        ("post", "/api/v1/customers", {"data": '{"customer": {"name": "x"}}', "content_type": "application/json"}),
        ("post", "/api/v1/events", {"data": '{"event": {}}', "content_type": "application/json"}),
        ("delete", "/api/v1/organizations", {}),
        ("get", "/health", {}),
    ]  # fmt: skip
    answers = []
    for method, url, extra in calls:
        headers = dict(auth)
        kwargs = {}
        for key, value in extra.items():
            (kwargs if key in ("data", "content_type") else headers)[key] = value
        response = getattr(client, method)(url, **kwargs, **headers)
        answers.append((response.status_code, sorted(response.items()), response.content))
    # without a key, and with a key that does not exist
    for key in ("", "Bearer bxb_unknown_key"):
        response = client.get("/api/v1/customers", HTTP_AUTHORIZATION=key, HTTP_X_REQUEST_ID="req-fixed-2")
        answers.append((response.status_code, sorted(response.items()), response.content))
    return answers


def _without_reset(answers):
    """x-ratelimit-reset counts seconds to the end of the window: present in both, value not compared."""
    out = []
    for status, headers, body in answers:
        assert ("x-ratelimit-reset" in dict(headers)) == ("x-ratelimit-limit" in dict(headers))
        out.append((status, [(k, v) for k, v in headers if k != "x-ratelimit-reset"], body))
    return out


@pytest.mark.django_db
def test_api_answers_byte_for_byte_as_the_stock_stack(tenant, settings):
    from tests.factories.customers import CustomerFactory

    settings.CORS_ORIGINS = ["https://app.example"]
    settings.RATE_LIMIT_REQUESTS_PER_MINUTE = 1000
    settings.CLICKHOUSE_URL = ""
    CustomerFactory(organization=tenant.organization, external_id="cust-1")
    CustomerFactory(organization=tenant.organization, external_id="cust-2")

    # Each pass counts from a fresh window: with REDIS_URL set (CI) the counters live in Redis, so
    # the passes use their own key prefixes (x-ratelimit-remaining must then agree).
    run = uuid.uuid4().hex
    settings.RATE_LIMIT_KEY_PREFIX = f"bxb:test-overhead:{run}:served:"
    ratelimit.reset_local()
    localcache.clear_all()
    served = _exchanges(tenant.raw_key)

    stock_middleware = [_STOCK.get(name, name) for name in settings.MIDDLEWARE]
    assert stock_middleware != list(settings.MIDDLEWARE)
    with override_settings(
        MIDDLEWARE=stock_middleware, ROOT_URLCONF=__name__, RATE_LIMIT_KEY_PREFIX=f"bxb:test-overhead:{run}:stock:"
    ):
        ratelimit.reset_local()
        localcache.clear_all()
        stock = _exchanges(tenant.raw_key)

    assert [status for status, _, _ in served] == [
        200, 200, 200, 200, 404, 404, 200, 200, 404, 406, 200, 204, 400, 400, 422, 400, 405, 200, 401, 401
    ]  # fmt: skip
    assert _without_reset(served) == _without_reset(stock)
    first = dict(served[0][1])
    assert first["X-Request-Id"] == "req-fixed-1"
    assert first["x-ratelimit-limit"] == "1000"
    assert {"X-Frame-Options", "X-Content-Type-Options", "Content-Length"} <= set(first)


@pytest.mark.django_db
def test_api_requests_skip_session_csrf_and_django_user(tenant):
    response = tenant.client.get("/api/v1/customers")
    assert response.status_code == 200
    request = response.wsgi_request
    assert not hasattr(request, "session")
    assert "CSRF_COOKIE" not in request.META


@pytest.mark.django_db
def test_admin_keeps_session_csrf_and_user(admin_client):
    response = admin_client.get("/admin/")
    assert response.status_code == 200
    request = response.wsgi_request
    assert request.user.is_staff
    assert hasattr(request, "session")
    # a form post without the CSRF token is still refused outside the API
    csrf_client = Client(enforce_csrf_checks=True)
    assert csrf_client.post("/admin/login/", {"username": "x", "password": "y"}).status_code == 403


@pytest.mark.django_db
def test_cached_key_instances_are_those_from_db(tenant):
    from customers import auth
    from customers.models import ApiKey, Organization

    api_key = ApiKey.objects.select_related("organization").get(organization=tenant.organization)
    api_key.permissions = {"customer": ["read"]}
    organization = api_key.organization
    organization.email_settings = [{"a": [1, {"b": 2}]}]
    for model, instance in ((ApiKey, api_key), (Organization, organization)):
        values = auth._snapshot(instance)
        fast = auth._restore(model, values)
        slow = model.from_db(DEFAULT_DB_ALIAS, None, copy.deepcopy(values))
        plain = {k: v for k, v in vars(fast).items() if k != "_state"}
        assert plain == {k: v for k, v in vars(slow).items() if k != "_state"}
        assert (fast._state.adding, fast._state.db) == (False, DEFAULT_DB_ALIAS)
        assert fast.pk == instance.pk and type(fast) is model
    fast_key = auth._restore(ApiKey, auth._snapshot(api_key))
    fast_key.permissions["customer"].append("write")  # a copy: the snapshot is untouched
    assert api_key.permissions == {"customer": ["read"]}
    fast_org = auth._restore(Organization, auth._snapshot(organization))
    fast_org.email_settings[0]["a"][1]["b"] = 3
    assert organization.email_settings == [{"a": [1, {"b": 2}]}]


@pytest.mark.django_db
def test_cached_key_rebuild_honours_init_signal_receivers(tenant):
    from django.db.models.signals import post_init

    from customers import auth
    from customers.models import Organization

    seen = []

    def receiver(sender, instance, **kwargs):
        seen.append(instance.pk)

    post_init.connect(receiver, sender=Organization)
    try:
        rebuilt = auth._restore(Organization, auth._snapshot(tenant.organization))
    finally:
        post_init.disconnect(receiver, sender=Organization)
    assert seen == [tenant.organization.pk] and rebuilt.pk == tenant.organization.pk


@pytest.mark.parametrize(
    ("body", "refused"),
    [
        ('{"a": "x\\u0000"}', True),
        ('{"a\\u0000": 1}', True),
        ('{"a": ["ok", {"b": "\\u0000"}]}', True),
        ('{"a": "\\\\u0000"}', False),  # an escaped backslash followed by u0000: no NUL
        ('{"a": "plain", "n": 1.5}', False),
    ],
)
def test_parser_refuses_nul_characters_only(body, refused):
    import io
    from decimal import Decimal

    from rest_framework.exceptions import ParseError

    from billing_project.core.api.parsers import ExactJSONParser

    parser = ExactJSONParser()
    if refused:
        with pytest.raises(ParseError):
            parser.parse(io.BytesIO(body.encode()))
    else:
        data = parser.parse(io.BytesIO(body.encode()))
        assert data.get("n", Decimal("1.5")) == Decimal("1.5") and type(data.get("n", Decimal(0))) is Decimal


@pytest.mark.django_db
def test_request_metrics_count_each_request_once_per_label_set(tenant):
    from prometheus_client import REGISTRY

    def count(route: str, status_class: str) -> float:
        value = REGISTRY.get_sample_value(
            "bxb_http_requests_total", {"method": "GET", "route": route, "status_class": status_class}
        )
        return value or 0.0

    route = "api/v1/customers/<str:external_id>"
    before_404, before_200 = count(route, "4xx"), count("api/v1/customers", "2xx")
    for _ in range(3):
        tenant.client.get("/api/v1/customers/missing")
    tenant.client.get("/api/v1/customers")
    assert count(route, "4xx") == before_404 + 3
    assert count("api/v1/customers", "2xx") == before_200 + 1


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json; charset=utf-8", "application/JSON", "text/plain", "", "application/*",
     "multipart/form-data; boundary=x", "application/x-www-form-urlencoded"],
)  # fmt: skip
def test_parser_shortcut_picks_what_drf_picks(content_type):
    from rest_framework.negotiation import DefaultContentNegotiation
    from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
    from rest_framework.request import Request
    from rest_framework.test import APIRequestFactory

    from billing_project.core.api.negotiation import ApiContentNegotiation
    from billing_project.core.api.parsers import ExactJSONParser

    factory = APIRequestFactory()
    for parser_classes in ([ExactJSONParser], [ExactJSONParser, FormParser, MultiPartParser], [FormParser, JSONParser]):
        request = Request(factory.generic("POST", "/x", b"{}", content_type))
        parsers = [cls() for cls in parser_classes]
        ours = ApiContentNegotiation().select_parser(request, parsers)
        drf = DefaultContentNegotiation().select_parser(request, parsers)
        assert ours is drf, (content_type, parser_classes)
