"""The request hot path: per-process caches, what an API request does not do, statement counts."""

from __future__ import annotations

import time

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from billing_project.core import localcache
from billing_project.core.localcache import LocalCache


@pytest.fixture(autouse=True)
def empty_caches():
    localcache.clear_all()
    yield
    localcache.clear_all()


# --- LocalCache --------------------------------------------------------------------------------


def test_local_cache_keeps_values_for_its_ttl(monkeypatch):
    cache = LocalCache("t1", ttl_setting="TEST_CACHE_SECONDS", default_ttl=5.0)
    clock = [1000.0]
    monkeypatch.setattr(localcache.time, "monotonic", lambda: clock[0])
    cache.set("a", 1)
    assert cache.get("a") == 1
    clock[0] += 4.9
    assert cache.get("a") == 1
    clock[0] += 0.2
    assert cache.get("a") is None
    assert len(cache) == 0


def test_local_cache_ttl_comes_from_settings_and_zero_disables_it():
    cache = LocalCache("t2", ttl_setting="TEST_CACHE_SECONDS", default_ttl=5.0)
    with override_settings(TEST_CACHE_SECONDS=0):
        cache.set("a", 1)
        assert cache.get("a") is None
    with override_settings(TEST_CACHE_SECONDS=30):
        assert cache.ttl() == 30.0
        cache.set("a", 1)
        assert cache.get("a") == 1


def test_local_cache_is_bounded_dropping_expired_then_oldest(monkeypatch):
    cache = LocalCache("t3", ttl_setting="TEST_CACHE_SECONDS", default_ttl=10.0, maxsize=3)
    clock = [0.0]
    monkeypatch.setattr(localcache.time, "monotonic", lambda: clock[0])
    cache.set("old", 0)
    clock[0] = 11.0  # "old" has expired
    for key in ("a", "b", "c"):
        cache.set(key, key)
    assert cache.get("old") is None and len(cache) == 3
    cache.set("d", "d")  # full of live entries: the oldest goes
    assert cache.get("a") is None
    assert [cache.get(k) for k in ("b", "c", "d")] == ["b", "c", "d"]


def test_clear_all_empties_every_cache():
    one = LocalCache("t4", ttl_setting="TEST_CACHE_SECONDS", default_ttl=5.0)
    two = LocalCache("t5", ttl_setting="TEST_CACHE_SECONDS", default_ttl=5.0)
    one.set(1, 1)
    two.set(2, 2)
    localcache.clear_all()
    assert one.get(1) is None and two.get(2) is None


# --- what an API request costs -----------------------------------------------------------------


@pytest.mark.django_db
def test_an_api_request_sets_up_no_flash_message_storage(tenant):
    response = tenant.client.get("/api/v1/customers")
    assert response.status_code == 200
    assert not hasattr(response.wsgi_request, "_messages")


@pytest.mark.django_db
def test_admin_requests_keep_flash_messages(admin_client):
    response = admin_client.get("/admin/")
    assert response.status_code == 200
    assert hasattr(response.wsgi_request, "_messages")


@pytest.mark.django_db
def test_a_trivial_read_runs_only_its_own_queries(tenant):
    tenant.client.get("/api/v1/events?per_page=1")  # warm: key read once
    with CaptureQueriesContext(connection) as queries:
        assert tenant.client.get("/api/v1/events?per_page=1").status_code == 200
    statements = [q["sql"] for q in queries.captured_queries]
    assert 1 <= len(statements) <= 2, statements  # the page (and its count when it is full)
    assert all("metering_event" in sql for sql in statements)


@pytest.mark.django_db
def test_a_single_event_is_one_statement_once_lookups_are_warm(tenant, settings):
    # Counts the PostgreSQL-only path; with ClickHouse configured ingestion and usage also
    # keep the ClickHouse copy in step (tested in tests/metering/test_clickhouse*.py).
    settings.CLICKHOUSE_URL = ""
    from tests.factories.catalog import BillableMetricFactory
    from tests.factories.subscriptions import SubscriptionFactory

    BillableMetricFactory(organization=tenant.organization, code="calls", aggregation_type="count_agg")
    SubscriptionFactory(organization=tenant.organization, external_id="sub_1")

    def send(transaction_id: str):
        body = {"event": {"transaction_id": transaction_id, "external_subscription_id": "sub_1", "code": "calls"}}
        return tenant.client.post("/api/v1/events", body, format="json")

    assert send("warm").status_code == 200
    with CaptureQueriesContext(connection) as queries:
        response = send(f"t{time.time_ns()}")
    assert response.status_code == 200, response.json()
    statements = [q["sql"] for q in queries.captured_queries]
    if connection.vendor == "postgresql":
        assert len(statements) == 1, statements  # events + rollups in one statement
    assert not [s for s in statements if "customers_apikey" in s or "catalog_billablemetric" in s]
    assert not [s for s in statements if "usage_monitoring_alert" in s]


@pytest.mark.django_db(transaction=True)
def test_asynchronous_commit_is_one_statement_and_does_not_leak_into_the_session(tenant, settings):
    """EVENTS_SYNCHRONOUS_COMMIT=false: the ingestion statement turns synchronous_commit off for its
    own implicit transaction (no BEGIN/SET LOCAL/COMMIT round trips); the session stays durable.
    (A real autocommit connection: inside a transaction the old BEGIN + SET LOCAL path is used.)"""
    # Counts the PostgreSQL-only path; with ClickHouse configured ingestion and usage also
    # keep the ClickHouse copy in step (tested in tests/metering/test_clickhouse*.py).
    settings.CLICKHOUSE_URL = ""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only")
    from metering.models import Event
    from tests.factories.catalog import BillableMetricFactory
    from tests.factories.subscriptions import SubscriptionFactory

    BillableMetricFactory(organization=tenant.organization, code="calls", aggregation_type="count_agg")
    SubscriptionFactory(organization=tenant.organization, external_id="sub_1")
    body = {"event": {"transaction_id": "warm", "external_subscription_id": "sub_1", "code": "calls"}}
    with override_settings(EVENTS_SYNCHRONOUS_COMMIT=False):
        assert tenant.client.post("/api/v1/events", body, format="json").status_code == 200
        body["event"]["transaction_id"] = "async"
        with CaptureQueriesContext(connection) as queries:
            assert tenant.client.post("/api/v1/events", body, format="json").status_code == 200
        statements = [q["sql"] for q in queries.captured_queries]
        again = tenant.client.post("/api/v1/events", body, format="json")
    assert len(statements) == 1 and "set_config('synchronous_commit', 'off', true)" in statements[0]
    assert again.status_code == 422  # still idempotent
    assert Event.objects.filter(transaction_id="async").count() == 1
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "on"


def test_api_route_order_and_grouping_change_no_resolution():
    """billing_project.urls tries the busiest routes (metering's, entitlements') first and groups the API routes by
    their first path segment (billing_project.core.api.routing): every API path resolves to the same
    view, arguments, route (the metrics label) and name as with the apps in their declared order."""
    import re
    import uuid
    from importlib.util import find_spec

    from django.urls import Resolver404, URLResolver, include, path
    from django.urls.resolvers import RegexPattern

    from billing_project import urls

    declared = [path("", include(f"{app}.api.urls")) for app in urls.API_APPS if find_spec(f"{app}.api.urls")]
    declared += urls._api_patterns()[-3:]  # schema, docs, the JSON 404
    reference = URLResolver(RegexPattern(r"^/"), declared)
    served = URLResolver(RegexPattern(r"^/"), urls.api_patterns)

    def routes(patterns, prefix=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from routes(pattern.url_patterns, prefix + str(pattern.pattern))
            else:
                yield prefix + str(pattern.pattern)

    assert sorted(routes(served.url_patterns)) == sorted(routes(reference.url_patterns))
    assert len(urls.api_patterns) < len(list(routes(declared))) / 1.5  # fewer tries than routes
    samples = {"/events", "/events/batch", "/events/x", "/event_errors", "/nothing/here", "/customers/a/invoices",
               "/customers/", "/customers//x", "/customersx", "/", ""}  # fmt: skip
    for route in routes(declared):
        sample = re.sub(r"<uuid:[^>]+>", str(uuid.uuid4()), route.lstrip("^").rstrip("$"))
        sample = "/" + re.sub(r"<(str:)?[^>]+>", "abc", sample)
        samples |= {sample, sample + "/", sample + "/more"}

    def outcome(resolver, sample):
        try:
            got = resolver.resolve(sample)
        except Resolver404:
            return "404"
        view = (getattr(got.func, "view_class", got.func), getattr(got.func, "view_initkwargs", None))
        return (view, got.args, got.kwargs, got.route, got.url_name, got.view_name)

    for sample in sorted(samples):
        assert outcome(served, sample) == outcome(reference, sample), sample
    assert len(samples) > 150


def test_grouping_keeps_routes_without_a_literal_first_segment_in_place():
    from django.urls import Resolver404, URLResolver, include, path, re_path
    from django.urls.resolvers import RegexPattern

    from billing_project.core.api.routing import group_by_first_segment

    def view(name):
        def _view(request, **kwargs):
            return name

        _view.__name__ = name
        return _view

    patterns = [
        path("", include([path("a/<str:x>", view("a_x")), path("b", view("b"))])),
        path("<str:anything>/b", view("any_b")),  # may match any first segment: stays between
        path("a/b", view("a_b")),  # shadowed by a/<str:x> before it, as without grouping
        path("b/<int:n>", view("b_n")),
        re_path(r"^.*$", view("rest")),
    ]
    grouped = group_by_first_segment(patterns)
    reference = URLResolver(RegexPattern(r"^/"), patterns)
    served = URLResolver(RegexPattern(r"^/"), grouped)
    for sample in ("/a/b", "/a/z", "/b", "/b/3", "/b/x", "/q/b", "/x", "/a", "/a/b/c", "/"):
        want, got = reference.resolve(sample), served.resolve(sample)
        assert (got.func.__name__, got.kwargs, got.route) == (want.func.__name__, want.kwargs, want.route), sample
    assert served.resolve("/q/b").func.__name__ == "any_b"
    assert served.resolve("/a/b").func.__name__ == "a_x"
    # an include with a namespace (or a prefix) is not flattened: the list is returned as it was
    namespaced = [path("", include(([path("a", view("a"))], "app"), namespace="ns"))]
    assert group_by_first_segment(namespaced) == namespaced
    try:
        URLResolver(RegexPattern(r"^/"), group_by_first_segment([path("a", view("a"))])).resolve("/b")
    except Resolver404:
        pass
    else:
        raise AssertionError("an unknown path must not resolve")


def _redis_up(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.5).ping())
    except redis.exceptions.RedisError:
        return False


REDIS_URL = "redis://127.0.0.1:6379/2"


@pytest.mark.django_db
def test_single_event_counts_both_limits_in_one_redis_call(tenant, monkeypatch):
    """POST /events: the per-key request limit and the organization's events limit are one Lua call;
    the events budget is the one batches use (same Redis counter), and it answers 429 past it."""
    if not _redis_up(REDIS_URL):
        pytest.skip("needs Redis on 127.0.0.1:6379")
    from billing_project.core import ratelimit as core_ratelimit
    from metering import ratelimit as events_ratelimit

    calls = []
    real_script = core_ratelimit._incr_script

    def counting_script(url):
        script = real_script(url)

        def call(**kwargs):
            calls.append(kwargs["keys"])
            return script(**kwargs)

        return call

    monkeypatch.setattr(core_ratelimit, "_incr_script", counting_script)
    prefix = f"test:{time.time_ns()}:"
    with override_settings(
        REDIS_URL=REDIS_URL,
        RATE_LIMIT_KEY_PREFIX=prefix,
        RATE_LIMIT_REQUESTS_PER_MINUTE=100,
        RATE_LIMIT_EVENTS_PER_MINUTE=5,
    ):
        core_ratelimit.reset_local()
        events_ratelimit.reset_local()
        events_ratelimit._redis_client = None

        def send(transaction_id):
            body = {"event": {"transaction_id": transaction_id, "external_subscription_id": "s", "code": "c"}}
            return tenant.client.post("/api/v1/events", body, format="json")

        first = send("a")
        assert first.status_code == 200
        assert len(calls) == 1 and len(calls[0]) == 2  # one call, two counters
        assert calls[0][1].startswith(f"bxb:ratelimit:events:{tenant.organization.pk}:")
        assert (first["x-ratelimit-limit"], first["x-ratelimit-remaining"]) == ("5", "4")  # the events limit
        assert send("b")["x-ratelimit-remaining"] == "3"
        batch = tenant.client.post(
            "/api/v1/events/batch",
            {"events": [{"transaction_id": t, "external_subscription_id": "s", "code": "c"} for t in "cd"]},
            format="json",
        )
        assert batch.status_code == 200 and batch["x-ratelimit-remaining"] == "1"  # shared budget
        assert send("e")["x-ratelimit-remaining"] == "0"
        refused = send("f")
        assert refused.status_code == 429
        assert refused["x-ratelimit-limit"] == "5" and int(refused["x-ratelimit-reset"]) >= 1
        assert tenant.client.get("/api/v1/events?per_page=1")["x-ratelimit-limit"] == "100"  # reads: per key only
        assert len(calls[-1]) == 1
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    stale = list(client.scan_iter(f"{prefix}*")) + list(
        client.scan_iter(f"bxb:ratelimit:events:{tenant.organization.pk}:*")
    )
    if stale:
        client.delete(*stale)
    events_ratelimit._redis_client = None


@pytest.mark.parametrize(
    "accept",
    ["", "*/*", "application/json", "application/json; indent=4", "text/html, */*;q=0.8", "application/*", "text/csv"],
)
def test_content_negotiation_shortcut_answers_as_drf_does(accept):
    from rest_framework.negotiation import DefaultContentNegotiation
    from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
    from rest_framework.request import Request
    from rest_framework.test import APIRequestFactory

    from billing_project.core.api.negotiation import ApiContentNegotiation

    for renderers in ([JSONRenderer()], [BrowsableAPIRenderer(), JSONRenderer()]):
        for query in ("", "?format=json", "?format=api"):
            headers = {"HTTP_ACCEPT": accept} if accept else {}
            request = Request(APIRequestFactory().get(f"/api/v1/customers{query}", **headers))

            def pick(negotiation, request=request, renderers=renderers):
                try:
                    renderer, media_type = negotiation.select_renderer(request, renderers)
                except Exception as exc:  # the same exception class is expected of both
                    return type(exc)
                return type(renderer), media_type

            assert pick(ApiContentNegotiation()) == pick(DefaultContentNegotiation()), (accept, query, renderers)
