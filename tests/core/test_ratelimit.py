"""The reusable rate limiter (in-process and Redis), the per-key API limit, body size and page caps."""

from __future__ import annotations

import threading
import uuid

import pytest
from django.core.exceptions import RequestDataTooBig
from django.test import override_settings
from prometheus_client import REGISTRY

from billing_project.core import ratelimit
from billing_project.core.api.exceptions import error_body, json_bad_request
from tests.factories.customers import CustomerFactory, api_key_for

pytestmark = pytest.mark.django_db

REDIS_TEST_URL = "redis://127.0.0.1:6379/14"


def _redis_available() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS_TEST_URL, socket_connect_timeout=0.5).ping())
    except Exception:
        return False


needs_redis = pytest.mark.skipif(not _redis_available(), reason="needs Redis on 127.0.0.1:6379")


@pytest.fixture(autouse=True)
def _fresh_local_counters():
    ratelimit.reset_local()
    yield
    ratelimit.reset_local()


@pytest.fixture
def local_store():
    with override_settings(REDIS_URL=""):
        yield


@pytest.fixture
def redis_store():
    import redis

    prefix = f"bxbtest:{uuid.uuid4().hex}:"
    with override_settings(REDIS_URL=REDIS_TEST_URL, RATE_LIMIT_KEY_PREFIX=prefix):
        yield prefix
    client = redis.Redis.from_url(REDIS_TEST_URL)
    keys = list(client.scan_iter(f"{prefix}*"))
    if keys:
        client.delete(*keys)


# --- hit() ------------------------------------------------------------------------------------


def _run_limit_semantics() -> None:
    now = 600.0  # the start of a 60 s window
    results = [ratelimit.hit("k", 3, 60, now=now + i) for i in range(5)]
    assert [r.allowed for r in results] == [True, True, True, False, False]
    assert [r.remaining for r in results] == [2, 1, 0, 0, 0]
    assert all(r.limit == 3 for r in results)
    assert [r.reset_seconds for r in results] == [60, 59, 58, 57, 56]
    assert results[3].headers() == {"x-ratelimit-limit": "3", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "57"}
    # another key has its own budget; the next window starts afresh
    assert ratelimit.hit("other", 3, 60, now=now).remaining == 2
    assert ratelimit.hit("k", 3, 60, now=now + 60).allowed
    assert ratelimit.hit("k", 3, 60, now=now + 60).remaining == 1


def test_fixed_window_semantics_in_process(local_store):
    assert ratelimit.backend() == "local"
    _run_limit_semantics()


@needs_redis
def test_fixed_window_semantics_in_redis(redis_store):
    assert ratelimit.backend() == "redis"
    _run_limit_semantics()


def test_cost_takes_several_units_and_remaining_never_negative(local_store):
    assert ratelimit.hit("batch", 10, 60, cost=5, now=0).remaining == 5
    refused = ratelimit.hit("batch", 10, 60, cost=6, now=1)
    assert (refused.allowed, refused.remaining) == (False, 0)
    assert ratelimit.hit("batch", 10, 60, cost=0, now=2).allowed is False  # 11 used: still over


def test_reset_is_rounded_up_and_within_the_window(local_store):
    assert ratelimit.hit("r", 5, 60, now=179.2).reset_seconds == 1
    assert ratelimit.hit("r2", 5, 60, now=120.5).reset_seconds == 60
    assert ratelimit.hit("r3", 5, 1, now=10.9).reset_seconds == 1


def test_limit_zero_disables_and_bad_arguments_are_refused(local_store):
    assert all(ratelimit.hit("off", 0, 60).allowed for _ in range(100))
    with pytest.raises(ValueError):
        ratelimit.hit("x", 1, 0)
    with pytest.raises(ValueError):
        ratelimit.hit("x", 1, 60, cost=-1)


def _hammer(count: int, limit: int) -> int:
    allowed = []
    barrier = threading.Barrier(count)

    def worker() -> None:
        barrier.wait()
        allowed.append(ratelimit.hit("hammer", limit, 3600, now=7200.0).allowed)

    threads = [threading.Thread(target=worker) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(allowed)


def test_concurrent_hits_never_exceed_the_limit_in_process(local_store):
    assert _hammer(40, 15) == 15


@needs_redis
def test_concurrent_hits_never_exceed_the_limit_in_redis(redis_store):
    assert _hammer(40, 15) == 15


@needs_redis
def test_redis_counters_are_shared_between_processes_and_expire(redis_store):
    import redis

    ratelimit.hit("shared", 2, 60, now=60.0)
    ratelimit.reset_local()  # another process has no local state; Redis still knows
    ratelimit.hit("shared", 2, 60, now=61.0)
    assert ratelimit.hit("shared", 2, 60, now=62.0).allowed is False
    client = redis.Redis.from_url(REDIS_TEST_URL)
    key = f"{redis_store}shared:60:1"
    assert int(client.get(key)) == 3
    assert 0 < client.ttl(key) <= 65


def test_unreachable_redis_falls_back_to_counting_in_process(caplog):
    with override_settings(REDIS_URL="redis://127.0.0.1:1/0"):
        assert ratelimit.hit("down", 1, 60, now=0).allowed
        assert ratelimit.hit("down", 1, 60, now=1).allowed is False
    warnings = [r for r in caplog.records if r.getMessage().startswith("rate limit store unavailable")]
    assert len(warnings) == 1  # backed off: the second hit did not try Redis again


@needs_redis
def test_redis_is_tried_again_after_the_back_off(redis_store, monkeypatch):
    import redis

    with override_settings(REDIS_URL="redis://127.0.0.1:1/0"):
        ratelimit.hit("again", 5, 60, now=0)
    monkeypatch.setattr(ratelimit, "_redis_down_until", 0.0)  # the back-off has elapsed
    ratelimit.hit("again", 5, 60, now=1)
    assert int(redis.Redis.from_url(REDIS_TEST_URL).get(f"{redis_store}again:60:0")) == 1


# --- the API ----------------------------------------------------------------------------------


@override_settings(RATE_LIMIT_REQUESTS_PER_MINUTE=3, REDIS_URL="")
def test_api_key_rate_limit_answers_429_with_lago_headers(tenant, other_tenant):
    remaining = []
    for _ in range(3):
        response = tenant.client.get("/api/v1/customers")
        assert response.status_code == 200
        assert response["x-ratelimit-limit"] == "3"
        remaining.append(response["x-ratelimit-remaining"])
    assert remaining == ["2", "1", "0"]
    counted_before = REGISTRY.get_sample_value("bxb_api_rate_limited_total") or 0
    refused = tenant.client.get("/api/v1/customers")
    assert refused.status_code == 429
    assert REGISTRY.get_sample_value("bxb_api_rate_limited_total") == counted_before + 1
    assert refused.json() == {"status": 429, "error": "Too Many Requests", "code": "too_many_requests"}
    assert refused["x-ratelimit-limit"] == "3"
    assert refused["x-ratelimit-remaining"] == "0"
    assert 1 <= int(refused["x-ratelimit-reset"]) <= 60
    assert refused["Retry-After"] == refused["x-ratelimit-reset"]
    # writes count too, and the limit is per key: another key of the same org is unaffected
    assert tenant.client.post("/api/v1/customers", {"customer": {"external_id": "c"}}, format="json").status_code == 429
    second = api_key_for(tenant.organization, name="second")
    tenant.client.credentials(HTTP_AUTHORIZATION=f"Bearer {second}")
    assert tenant.client.get("/api/v1/customers").status_code == 200
    assert other_tenant.client.get("/api/v1/customers").status_code == 200


@override_settings(RATE_LIMIT_REQUESTS_PER_MINUTE=2, REDIS_URL="")
def test_calls_refused_by_the_key_scope_still_count(organization):
    from rest_framework.test import APIClient

    from billing_project.core.api.permissions import read_only_permissions
    from customers.services import api_key_create

    _, raw_key = api_key_create(organization, permissions=read_only_permissions())
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    for _ in range(2):
        assert client.post("/api/v1/customers", {"customer": {"external_id": "x"}}, format="json").status_code == 403
    assert client.get("/api/v1/customers").status_code == 429


@needs_redis
def test_api_key_rate_limit_with_redis(tenant, redis_store):
    with override_settings(RATE_LIMIT_REQUESTS_PER_MINUTE=2):
        assert tenant.client.get("/v1/customers").status_code == 200
        ratelimit.reset_local()
        assert tenant.client.get("/api/v1/customers").status_code == 200
        refused = tenant.client.get("/api/v1/customers")
    assert refused.status_code == 429
    assert refused["x-ratelimit-remaining"] == "0"


@override_settings(RATE_LIMIT_REQUESTS_PER_MINUTE=0, REDIS_URL="")
def test_api_rate_limit_disabled_sends_no_headers(api):
    for _ in range(5):
        response = api.get("/api/v1/customers")
        assert response.status_code == 200
        assert not response.has_header("x-ratelimit-limit")


@override_settings(RATE_LIMIT_REQUESTS_PER_MINUTE=1, REDIS_URL="")
def test_unauthenticated_calls_are_401_and_not_counted(client, tenant):
    for _ in range(3):
        response = client.get("/api/v1/customers", HTTP_AUTHORIZATION="Bearer nope")
        assert response.status_code == 401
        assert not response.has_header("x-ratelimit-limit")
    assert tenant.client.get("/api/v1/customers").status_code == 200


# --- body size ---------------------------------------------------------------------------------


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=200)
def test_api_body_over_the_cap_is_a_json_413(api):
    body = {"customer": {"external_id": "big", "name": "x" * 500}}
    response = api.post("/api/v1/customers", body, format="json")
    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"status": 413, "error": "Payload Too Large", "code": "payload_too_large"}
    small = api.post("/api/v1/customers", {"customer": {"external_id": "small"}}, format="json")
    assert small.status_code == 200


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=200)
def test_body_cap_applies_to_both_api_prefixes_only(api, client):
    big = "{" + '"a":"' + "x" * 400 + '"}'
    assert api.post("/v1/customers", big, content_type="application/json").status_code == 413
    # outside the API, Django's own handling stays (the admin login is a form post)
    response = client.post("/admin/login/", {"username": "x" * 400, "password": "y"})
    assert response.status_code != 413


def test_request_data_too_big_maps_to_413_everywhere():
    status, body, _ = error_body(RequestDataTooBig("too big"))
    assert (status, body["code"]) == (413, "payload_too_large")
    assert json_bad_request(None, RequestDataTooBig("too big")).status_code == 413
    assert json_bad_request(None, None).status_code == 400


# --- pagination cap -------------------------------------------------------------------------------


def test_per_page_is_capped_by_the_setting(tenant):
    for _ in range(3):
        CustomerFactory(organization=tenant.organization)
    with override_settings(API_MAX_PER_PAGE=2):
        body = tenant.client.get("/api/v1/customers?per_page=500").json()
    assert len(body["customers"]) == 2
    assert body["meta"]["total_pages"] == 2
    body = tenant.client.get("/api/v1/customers?per_page=500").json()
    assert len(body["customers"]) == 3


@pytest.mark.django_db(transaction=True)
def test_lago_client_reads_the_rate_limit_headers(lago):
    from lago_python_client.client import Client
    from lago_python_client.exceptions import LagoRateLimitError

    seen = []
    client = Client(
        api_key=lago.raw_key,
        api_url=lago.base_url + "/",
        retry_on_rate_limit=False,
        on_rate_limit_info=seen.append,
    )
    with override_settings(RATE_LIMIT_REQUESTS_PER_MINUTE=2, REDIS_URL=""):
        client.customers.find_all()
        client.customers.find_all()
        with pytest.raises(LagoRateLimitError) as raised:
            client.customers.find_all()
    assert [(info.limit, info.remaining) for info in seen] == [(2, 1), (2, 0)]
    error = raised.value
    assert (error.status_code, error.limit, error.remaining) == (429, 2, 0)
    assert 1 <= error.reset <= 60
