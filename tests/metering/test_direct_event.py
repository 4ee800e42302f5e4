"""One event answered without DRF's per-request machinery (`EventCollectionView.dispatch`,
`OrganizationAPIView.answer_write_directly`) gives the bytes and headers DRF gives, 4xx included:
every exchange below is made twice, directly and through DRF (on the same data, emptied in
between), and compared (status, every header, body; the new event's id and creation time aside)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.test import Client

from audit.models import ApiLogEntry
from billing_project.core import localcache
from billing_project.core.api.views import OrganizationAPIView
from customers.services import api_key_create
from metering import ratelimit
from metering.models import Event, EventError, UsageRollup
from tests.factories.metering import FakeSubscriptions, make_metric

pytestmark = pytest.mark.django_db

URL = "/api/v1/events"
_GENERATED = re.compile(rb'"(lago_id|created_at)":"[^"]*"')


@pytest.fixture(autouse=True)
def _fresh_limits():
    ratelimit.reset_local()
    yield
    ratelimit.reset_local()
    FakeSubscriptions.uninstall()


@pytest.fixture
def keys(organization, other_tenant):
    make_metric(organization, "calls")
    make_metric(organization, "tokens", "sum_agg", field_name="n")
    FakeSubscriptions(known_by_default=True).install()
    _, read_only = api_key_create(organization, name="r", permissions={"event": ["read"]})
    _, writer = api_key_create(organization, name="w", permissions={"event": ["read", "write"]})
    return {"read_only": read_only, "writer": writer, "other": other_tenant.raw_key}


def _event(transaction_id: str, **extra: Any) -> str:
    event: dict[str, Any] = {"transaction_id": transaction_id, "external_subscription_id": "sub_1", "code": "calls"}
    event.update(extra)
    event.setdefault("timestamp", 1700000000 + len(transaction_id))  # not "now": both passes store the same
    return json.dumps({"event": event})


def _calls(keys: dict[str, str]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (_event("t1", timestamp=1700000000, properties={"region": "eu"}), {}),
        (_event("t1"), {}),  # 422 value_already_exist
        (_event("t2", code="tokens", properties={"n": "1.50"}), {}),
        (_event("t3", code="tokens", properties={"n": 2.25, "deep": {"x": [1, 1e400]}}), {}),
        (_event("t4", code="tokens", properties={"n": "many"}), {}),  # stored with an error
        (_event("t5", code="unknown"), {}),
        (_event("t6", external_subscription_id="ghost_1"), {}),
        (_event("t7", timestamp="1700000000.123"), {}),
        (_event("t8", timestamp="yesterday"), {}),  # 422
        (_event("t9", external_customer_id="cust_9", precise_total_amount_cents="12.5"), {}),
        (json.dumps({"event": {"code": "calls"}}), {}),  # 422, fields missing
        (json.dumps({"event": {"transaction_id": ["x"], "code": 1, "external_subscription_id": True}}), {}),
        (json.dumps({"event": {}}), {}),  # 400
        (json.dumps({"event": "t"}), {}),
        (json.dumps({"events": []}), {}),
        (json.dumps([1]), {}),
        ("", {}),
        ("{bad", {}),
        ('{"event": {"transaction_id": "a\\u0000"}}', {}),
        ('{"event": {"transaction_id": "\\ud800"}}', {}),
        (_event("t10"), {"content_type": "application/json; charset=utf-8"}),
        (_event("t11"), {"content_type": "text/plain"}),
        (_event("t12"), {"HTTP_ACCEPT": "text/html"}),
        (_event("t13"), {"HTTP_ACCEPT": "application/json"}),
        (_event("t14"), {"HTTP_ORIGIN": "https://app.example"}),
        (_event("t15"), {"QUERY_STRING": "format=json"}),
        (_event("t16"), {"HTTP_AUTHORIZATION": ""}),
        (_event("t17"), {"HTTP_AUTHORIZATION": "Bearer nope"}),
        (_event("t18"), {"HTTP_AUTHORIZATION": "Token x y"}),
        ("{bad", {"HTTP_AUTHORIZATION": "Bearer nope"}),  # 401 before 400
        (_event("t19"), {"HTTP_AUTHORIZATION": f"Bearer {keys['read_only']}"}),  # 403
        (_event("t20"), {"HTTP_AUTHORIZATION": f"Bearer {keys['writer']}"}),
        (_event("t1"), {"HTTP_AUTHORIZATION": f"Bearer {keys['other']}"}),  # its own organization's t1
        (_event("t21", external_subscription_id="x" * 256), {}),
    ]


def _normalized(content: bytes) -> bytes:
    return _GENERATED.sub(lambda m: b'"' + m.group(1) + b'":"*"', content)


def _exchanges(tenant, keys, settings) -> list[tuple[Any, ...]]:
    client = Client()
    answers: list[tuple[Any, ...]] = []
    for body, extra in _calls(keys):
        headers = {"HTTP_AUTHORIZATION": f"Bearer {tenant.raw_key}", "HTTP_X_REQUEST_ID": "req-fixed-1", **extra}
        content_type = headers.pop("content_type", "application/json")
        response = client.post(URL, data=body, content_type=content_type, **headers)
        answers.append((body, extra, response.status_code, sorted(response.items()), _normalized(response.content)))
    # The rate limits, counted in this process (new keys): the per-key limit refuses the third
    # request, the organization's events limit the next ones; the same headers both ways (but the
    # seconds left in the window, which depend on the moment).
    for requests_limit, events_limit in ((2, 0), (0, 1)):
        settings.RATE_LIMIT_REQUESTS_PER_MINUTE = requests_limit
        settings.RATE_LIMIT_EVENTS_PER_MINUTE = events_limit
        ratelimit.reset_local()
        _, limited = api_key_create(tenant.organization, name=f"limited {requests_limit}")
        for number in range(3):
            response = client.post(
                URL,
                data=_event(f"limited_{requests_limit}_{number}"),
                content_type="application/json",
                HTTP_AUTHORIZATION=f"Bearer {limited}",
                HTTP_X_REQUEST_ID="req-fixed-1",
            )
            kept = sorted((k, v) for k, v in response.items() if k.lower() not in ("x-ratelimit-reset", "retry-after"))
            answers.append(("limited", requests_limit, response.status_code, kept, _normalized(response.content)))
    settings.RATE_LIMIT_REQUESTS_PER_MINUTE = 0
    settings.RATE_LIMIT_EVENTS_PER_MINUTE = 0
    return answers


def _stored() -> list[list[Any]]:
    events = sorted(
        (e.organization_id, e.transaction_id, e.code, e.timestamp, json.dumps(e.properties, sort_keys=True, default=str),
         e.value, e.precise_total_amount_cents, e.external_customer_id)
        for e in Event.objects.all()
    )  # fmt: skip
    rollups = sorted((r.code, r.hour, r.events_count, r.value_sum) for r in UsageRollup.objects.all())
    errors = sorted((e.error_code, e.event.transaction_id) for e in EventError.objects.select_related("event"))
    logs = sorted(
        (log.http_status, log.request_path, log.request_body, _normalized((log.request_response or "").encode()))
        for log in ApiLogEntry.objects.all()
    )
    return [events, rollups, errors, logs]


def _empty() -> None:
    EventError.objects.all().delete()
    Event.objects.all().delete()
    UsageRollup.objects.all().delete()
    ApiLogEntry.objects.all().delete()


def test_the_direct_answer_is_drfs_byte_for_byte(tenant, keys, settings, monkeypatch):
    settings.CORS_ORIGINS = ["https://app.example"]
    settings.RATE_LIMIT_REQUESTS_PER_MINUTE = 0
    settings.RATE_LIMIT_EVENTS_PER_MINUTE = 0
    settings.REDIS_URL = ""  # the rate limits counted in this process
    settings.API_LOGS_WRITE = "inline"
    answered_directly: list[bool] = []
    direct = OrganizationAPIView.answer_write_directly

    def spy(self, request, root_key, write):
        answer = direct(self, request, root_key, write)
        answered_directly.append(answer is not None)
        return answer

    monkeypatch.setattr(OrganizationAPIView, "answer_write_directly", spy)
    fast = _exchanges(tenant, keys, settings)
    fast_stored = _stored()
    # the 200s and the 422s of valid JSON, the writer key, the other tenant and the rate limits
    assert sum(answered_directly) >= 20, answered_directly
    _empty()
    monkeypatch.setattr(OrganizationAPIView, "answer_write_directly", lambda self, request, root_key, write: None)
    localcache.clear_all()
    slow = _exchanges(tenant, keys, settings)
    assert len(fast) == len(slow)
    for got, expected in zip(fast, slow, strict=True):
        assert got == expected
    assert fast_stored == _stored()
    statuses = {status for _, _, status, _, _ in fast}
    assert statuses == {200, 400, 401, 403, 406, 415, 422, 429}, statuses
    assert fast[1][2] == 422 and b"value_already_exist" in fast[1][4]
    assert fast[-1][2] == fast[-4][2] == 429  # the events limit and the per-key limit


def test_the_direct_answer_counts_each_limit_once(tenant, keys, settings):
    settings.RATE_LIMIT_REQUESTS_PER_MINUTE = 10
    settings.RATE_LIMIT_EVENTS_PER_MINUTE = 1
    settings.REDIS_URL = ""  # counted in this process, where the test can read the counts
    from billing_project.core import ratelimit as requests_ratelimit

    requests_ratelimit._local.clear()
    client = Client()
    auth: dict[str, Any] = {"HTTP_AUTHORIZATION": f"Bearer {tenant.raw_key}"}
    assert client.post(URL, data=_event("once_1"), content_type="application/json", **auth).status_code == 200
    refused = client.post(URL, data=_event("once_2"), content_type="application/json", **auth)
    assert refused.status_code == 429 and refused["x-ratelimit-remaining"] == "0"
    assert [count for _, count in requests_ratelimit._local._counts.values()] == [2]
    assert sorted(ratelimit._local_counts.values()) == [2]
    assert Event.objects.filter(transaction_id="once_2").count() == 0


def test_the_default_headers_are_made_once_per_view_class_and_a_class_redefining_them_is_left_to_drf():
    from billing_project.core.api.views import _default_headers
    from metering.api.views import EventCollectionView

    class Custom(EventCollectionView):
        @property
        def default_response_headers(self):
            return {"Allow": "POST"}

    assert EventCollectionView._answers_directly() and not Custom._answers_directly()
    from django.http import HttpRequest

    view = EventCollectionView()
    view.setup(HttpRequest())
    assert _default_headers(EventCollectionView) == (None, tuple(view.default_response_headers.items()))
    assert _default_headers(EventCollectionView) == (None, (("Allow", "GET, POST, HEAD, OPTIONS"),))


def test_iso_ms_is_isoformat_to_the_millisecond():
    import datetime as dt
    import random

    from metering.api.serializers import iso_ms

    rng = random.Random(7)
    zones = [None, dt.UTC, dt.timezone(dt.timedelta(hours=5, minutes=30)), dt.timezone(dt.timedelta(hours=-8))]
    for _ in range(5000):
        moment = dt.datetime(
            rng.choice([1, 999, 1970, 2024, 9998]), rng.randint(1, 12), rng.randint(1, 28), rng.randint(0, 23),
            rng.randint(0, 59), rng.randint(0, 59), rng.choice([0, 999, 1000, 999999, rng.randint(0, 999999)]),
            tzinfo=rng.choice(zones),
        )  # fmt: skip
        utc = moment.astimezone(dt.UTC) if moment.utcoffset() else moment
        assert iso_ms(moment) == utc.isoformat(timespec="milliseconds")[:23] + "Z"
