"""The entitlement check answered without DRF's per-request machinery
(`OrganizationAPIView.answer_get_directly`) gives the bytes and headers DRF gives: every exchange
below is made twice, directly and through DRF, and compared (status, every header, body)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from billing_project.core import localcache, ratelimit
from billing_project.core.api.views import OrganizationAPIView
from customers.services import api_key_create
from tests.factories.entitlements import catalog, subscription_on

pytestmark = pytest.mark.django_db

ROUTES = ("/api/v1/subscriptions/sub_a/entitlements", "/v1/subscriptions/sub_a/entitlements/seats")


@pytest.fixture
def keys(organization, other_tenant):
    subscription_on(catalog(organization), external_id="sub_a")
    subscription_on(catalog(other_tenant.organization), external_id="sub_a")
    _, scoped_read = api_key_create(organization, name="r", permissions={"subscription": ["read"]})
    _, scoped_other = api_key_create(organization, name="o", permissions={"customer": ["read", "write"]})
    return {"scoped_read": scoped_read, "scoped_other": scoped_other, "other": other_tenant.raw_key}


def _exchanges(tenant, keys, settings):
    auth: dict[str, Any] = {"HTTP_AUTHORIZATION": f"Bearer {tenant.raw_key}", "HTTP_X_REQUEST_ID": "req-fixed-1"}
    calls: list[tuple[str, dict[str, Any]]] = [
        (path + suffix, extra)
        for path in ROUTES
        for suffix, extra in (
            ("", {}),
            ("?subscription_status=active", {}),
            ("?status=terminated", {}),
            ("?subscription_status=bogus", {}),
            ("?format=json", {}),
            ("", {"HTTP_ACCEPT": "application/json"}),
            ("", {"HTTP_ACCEPT": "*/*"}),
            ("", {"HTTP_ACCEPT": "text/html"}),
            ("", {"HTTP_ORIGIN": "https://app.example"}),
            ("", {"HTTP_AUTHORIZATION": ""}),
            ("", {"HTTP_AUTHORIZATION": "Bearer nope"}),
            ("", {"HTTP_AUTHORIZATION": "Token x y"}),
            ("", {"HTTP_AUTHORIZATION": f"Bearer {keys['scoped_read']}"}),
            ("", {"HTTP_AUTHORIZATION": f"Bearer {keys['scoped_other']}"}),
            ("", {"HTTP_AUTHORIZATION": f"Bearer {keys['other']}"}),
        )
    ]
    calls += [("/api/v1/subscriptions/nope/entitlements", {}), ("/api/v1/subscriptions/sub_a/entitlements/none", {})]
    client = Client()
    answers: list[tuple[Any, ...]] = []
    for url, extra in calls:
        response = client.get(url, **{**auth, **extra})
        answers.append((url, extra, response.status_code, sorted(response.items()), response.content))
    # The rate limit (a new key, counted in this process): the third request is refused, with the
    # same headers both ways (but the seconds left in the window, which depend on the moment).
    settings.RATE_LIMIT_REQUESTS_PER_MINUTE = 2
    _, limited = api_key_create(tenant.organization, name="limited")
    for _ in range(3):
        response = client.get(ROUTES[1], HTTP_AUTHORIZATION=f"Bearer {limited}", HTTP_X_REQUEST_ID="req-fixed-1")
        headers = sorted((k, v) for k, v in response.items() if k.lower() not in ("x-ratelimit-reset", "retry-after"))
        answers.append((ROUTES[1], "limited", response.status_code, headers, response.content))
    settings.RATE_LIMIT_REQUESTS_PER_MINUTE = 0
    return answers


def test_the_direct_answer_is_drfs_byte_for_byte(tenant, keys, settings, monkeypatch):
    settings.CORS_ORIGINS = ["https://app.example"]
    settings.RATE_LIMIT_REQUESTS_PER_MINUTE = 0
    settings.REDIS_URL = ""  # the rate limit counted in this process
    answered_directly = []
    direct = OrganizationAPIView.answer_get_directly

    def spy(self, request, read):
        answer = direct(self, request, read)
        answered_directly.append(answer is not None)
        return answer

    monkeypatch.setattr(OrganizationAPIView, "answer_get_directly", spy)
    fast = _exchanges(tenant, keys, settings)
    assert sum(answered_directly) >= 14  # the 200s (plain, status, Accept, Origin, scoped, other tenant, limited)
    monkeypatch.setattr(OrganizationAPIView, "answer_get_directly", lambda self, request, read: None)
    localcache.clear_all()
    slow = _exchanges(tenant, keys, settings)
    assert len(fast) == len(slow)
    for got, expected in zip(fast, slow, strict=True):
        assert got == expected
    statuses = {status for _, _, status, _, _ in fast}
    assert statuses == {200, 401, 403, 404, 406, 429}, statuses
    # Another organization's key reads its own subscription `sub_a`, never this one's.
    mine = next(a for a in fast if a[1] == {})
    theirs = next(a for a in fast if a[1] == {"HTTP_AUTHORIZATION": f"Bearer {keys['other']}"})
    assert mine[2] == theirs[2] == 200


def test_the_direct_answer_counts_a_refused_request_once(tenant, keys, settings):
    settings.RATE_LIMIT_REQUESTS_PER_MINUTE = 1
    settings.REDIS_URL = ""  # counted in this process, where the test can read the count
    ratelimit._local.clear()
    client = Client()
    auth: dict[str, Any] = {"HTTP_AUTHORIZATION": f"Bearer {tenant.raw_key}"}
    assert client.get(ROUTES[0], **auth).status_code == 200
    refused = client.get(ROUTES[0], **auth)
    assert refused.status_code == 429 and refused["x-ratelimit-remaining"] == "0"
    counted = [count for _, count in ratelimit._local._counts.values()]
    assert counted == [2], ratelimit._local._counts  # the refused request counted once, not twice
