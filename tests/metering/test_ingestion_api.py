"""Event ingestion through the API: single, batch, idempotency, malformed input, timestamps, errors."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.test import override_settings

from metering import ratelimit
from metering.models import Event, EventError, UsageRollup
from tests.factories.metering import FakeSubscriptions, event_payload, make_metric

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clean_rate_limit():
    ratelimit.reset_local()
    yield
    ratelimit.reset_local()
    FakeSubscriptions.uninstall()


def post_event(api, **payload):
    return api.post("/api/v1/events", {"event": payload}, format="json")


def post_batch(api, events):
    return api.post("/api/v1/events/batch", {"events": events}, format="json")


def test_create_single_event_returns_lago_shape(tenant, api):
    make_metric(tenant.organization, "calls")
    response = post_event(
        api,
        transaction_id="tx_1",
        external_subscription_id="sub_1",
        code="calls",
        timestamp=1700000000,
        properties={"region": "eu"},
        precise_total_amount_cents=None,
    )
    assert response.status_code == 200, response.content
    body = response.json()["event"]
    assert body["transaction_id"] == "tx_1"
    assert body["external_subscription_id"] == "sub_1"
    assert body["code"] == "calls"
    assert body["timestamp"] == "2023-11-14T22:13:20.000Z"
    assert body["properties"] == {"region": "eu"}
    assert body["precise_total_amount_cents"] is None
    assert body["lago_id"]
    event = Event.objects.get(transaction_id="tx_1")
    assert event.organization_id == tenant.organization.id
    assert event.timestamp == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)


@pytest.mark.parametrize(
    ("timestamp", "expected"),
    [
        (1700000000, datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)),
        ("1700000000", datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)),
        ("1700000000.5", datetime(2023, 11, 14, 22, 13, 20, 500000, tzinfo=UTC)),
        (Decimal("1700000000.123456"), datetime(2023, 11, 14, 22, 13, 20, 123456, tzinfo=UTC)),
    ],
)
def test_timestamp_as_number_string_and_fraction(api, timestamp, expected):
    response = post_event(api, transaction_id="tx", external_subscription_id="s", code="c", timestamp=timestamp)
    assert response.status_code == 200, response.content
    assert Event.objects.get(transaction_id="tx").timestamp == expected


def test_fractional_number_in_raw_json_is_exact(api):
    body = (
        b'{"event": {"transaction_id": "t", "external_subscription_id": "s", "code": "c", "timestamp": 1700000000.25}}'
    )
    response = api.generic("POST", "/api/v1/events", body, content_type="application/json")
    assert response.status_code == 200, response.content
    assert Event.objects.get().timestamp == datetime(2023, 11, 14, 22, 13, 20, 250000, tzinfo=UTC)


def test_null_or_absent_timestamp_means_now(api):
    before = datetime.now(UTC)
    assert (
        post_event(api, transaction_id="a", external_subscription_id="s", code="c", timestamp=None).status_code == 200
    )
    assert post_event(api, transaction_id="b", external_subscription_id="s", code="c").status_code == 200
    after = datetime.now(UTC)
    for event in Event.objects.all():
        assert before <= event.timestamp <= after


@pytest.mark.parametrize("timestamp", ["2024-03-05T12:00:00Z", "abc", -5, True, {"x": 1}, "1e400", "NaN"])
def test_invalid_timestamp_is_422(api, timestamp):
    response = post_event(api, transaction_id="t", external_subscription_id="s", code="c", timestamp=timestamp)
    assert response.status_code == 422
    assert response.json()["error_details"] == {"timestamp": ["invalid_format"]}
    assert not Event.objects.exists()


def test_missing_fields_are_422_value_is_mandatory(api):
    response = post_event(api, transaction_id=None, external_subscription_id="", properties=None)
    assert response.status_code == 422
    details = response.json()["error_details"]
    assert details["transaction_id"] == ["value_is_mandatory"]
    assert details["code"] == ["value_is_mandatory"]
    assert details["external_subscription_id"] == ["value_is_mandatory"]


def test_missing_root_key_is_400(api):
    response = api.post("/api/v1/events", {"nope": {}}, format="json")
    assert response.status_code == 400
    assert response.json()["error"].startswith("BadRequest")


def test_properties_must_be_an_object(api):
    response = post_event(api, transaction_id="t", external_subscription_id="s", code="c", properties=[1, 2])
    assert response.status_code == 422
    assert response.json()["error_details"] == {"properties": ["value_is_invalid"]}


def test_precise_total_amount_cents_is_exact(api):
    response = post_event(
        api, transaction_id="t", external_subscription_id="s", code="c", precise_total_amount_cents="10.1"
    )
    assert response.status_code == 200
    assert response.json()["event"]["precise_total_amount_cents"] == "10.1"
    assert Event.objects.get().precise_total_amount_cents == Decimal("10.1")
    bad = post_event(api, transaction_id="u", external_subscription_id="s", code="c", precise_total_amount_cents="x")
    assert bad.status_code == 422
    assert bad.json()["error_details"] == {"precise_total_amount_cents": ["value_is_invalid"]}


def test_duplicate_single_event_is_422_and_not_stored_twice(api):
    payload = {"transaction_id": "t", "external_subscription_id": "s", "code": "c"}
    assert post_event(api, **payload).status_code == 200
    response = post_event(api, **payload)
    assert response.status_code == 422
    assert response.json()["error_details"] == {"transaction_id": ["value_already_exist"]}
    assert Event.objects.count() == 1


def test_same_transaction_id_on_another_subscription_is_a_different_event(api):
    assert post_event(api, transaction_id="t", external_subscription_id="s1", code="c").status_code == 200
    assert post_event(api, transaction_id="t", external_subscription_id="s2", code="c").status_code == 200
    assert Event.objects.count() == 2


def test_batch_stores_every_event_and_names_duplicates(tenant, api):
    make_metric(tenant.organization, "calls")
    assert post_event(api, **event_payload("t0")).status_code == 200
    events = [event_payload(f"t{i}") for i in range(5)] + [event_payload("t3")]
    response = post_batch(api, events)
    assert response.status_code == 200, response.content
    body = response.json()
    assert [e["transaction_id"] for e in body["events"]] == ["t1", "t2", "t3", "t4"]
    assert body["duplicates"] == [
        {"index": 0, "transaction_id": "t0", "external_subscription_id": "sub_1"},
        {"index": 5, "transaction_id": "t3", "external_subscription_id": "sub_1"},
    ]
    assert Event.objects.count() == 5
    # Rollups count each event once.
    assert sum(UsageRollup.objects.values_list("events_count", flat=True)) == 5


def test_batch_with_a_bad_event_stores_nothing(api):
    events = [event_payload("a"), {"transaction_id": "b", "code": "calls"}, event_payload("c", timestamp="x")]
    response = post_batch(api, events)
    assert response.status_code == 422
    assert response.json()["error_details"] == {
        "1": {"external_subscription_id": ["value_is_mandatory"]},
        "2": {"timestamp": ["invalid_format"]},
    }
    assert not Event.objects.exists()


def test_batch_limits(api):
    assert post_batch(api, []).json()["error_details"] == {"events": ["no_events"]}
    with override_settings(EVENTS_BATCH_MAX_LENGTH=3):
        response = post_batch(api, [event_payload(str(i)) for i in range(4)])
    assert response.status_code == 422
    assert response.json()["error_details"] == {"events": ["too_many_events"]}
    assert api.post("/api/v1/events/batch", {"events": "x"}, format="json").status_code == 400
    assert api.post("/api/v1/events/batch", {}, format="json").status_code == 400
    bad_item = post_batch(api, ["not an object"])
    assert bad_item.status_code == 422
    assert bad_item.json()["error_details"] == {"0": {"event": ["value_is_invalid"]}}


def test_batch_of_one_thousand(api):
    response = post_batch(api, [event_payload(f"t{i}", timestamp=1700000000 + i) for i in range(1000)])
    assert response.status_code == 200
    assert len(response.json()["events"]) == 1000
    assert Event.objects.count() == 1000


def test_unknown_code_is_stored_and_reported(tenant, api):
    make_metric(tenant.organization, "calls")
    response = post_batch(api, [event_payload("a"), event_payload("b", code="nope")])
    assert response.status_code == 200
    assert Event.objects.count() == 2
    errors = list(EventError.objects.values_list("transaction_id", "error_code"))
    assert errors == [("b", "invalid_code")]
    listing = api.get("/api/v1/event_errors").json()
    assert [(e["transaction_id"], e["error_code"]) for e in listing["event_errors"]] == [("b", "invalid_code")]
    assert listing["meta"]["total_count"] == 1


def test_unknown_subscription_is_reported_when_a_lookup_is_registered(tenant, api):
    make_metric(tenant.organization, "calls")
    fake = FakeSubscriptions().install()
    ref = fake.add(tenant.organization, "sub_1", datetime(2024, 1, 1, tzinfo=UTC))
    response = post_batch(api, [event_payload("a"), event_payload("b", sub="ghost")])
    assert response.status_code == 200
    events = {e["transaction_id"]: e for e in response.json()["events"]}
    assert events["a"]["lago_subscription_id"] == str(ref.id)
    assert events["a"]["lago_customer_id"] == str(ref.customer_id)
    assert events["b"]["lago_subscription_id"] is None
    assert list(EventError.objects.values_list("transaction_id", "error_code")) == [("b", "unknown_subscription")]


def test_missing_and_invalid_aggregation_property(tenant, api):
    make_metric(tenant.organization, "storage", "sum_agg", field_name="gb")
    response = post_batch(
        api,
        [
            event_payload("ok", code="storage", properties={"gb": "1.5"}),
            event_payload("missing", code="storage", properties={}),
            event_payload("bad", code="storage", properties={"gb": "lots"}),
        ],
    )
    assert response.status_code == 200
    assert Event.objects.get(transaction_id="ok").value == Decimal("1.5")
    assert dict(EventError.objects.values_list("transaction_id", "error_code")) == {
        "missing": "missing_aggregation_property",
        "bad": "invalid_aggregation_property",
    }


def test_events_errors_webhook_payload(tenant, api, monkeypatch):
    from metering import services

    sent = []
    monkeypatch.setattr(services, "_report_errors", lambda org, events: sent.append(services.errors_payload(events)))
    make_metric(tenant.organization, "calls")
    with pytest.MonkeyPatch.context():
        from django.test import TestCase

        with TestCase.captureOnCommitCallbacks(execute=True):
            post_batch(api, [event_payload("a", code="x"), event_payload("b", code="y"), event_payload("c")])
    assert sent == [{"invalid_code": ["a", "b"]}]


def test_find_event_and_other_tenant_gets_404(tenant, other_tenant, api):
    post_event(api, transaction_id="tx_9", external_subscription_id="s", code="c", properties={"n": 1})
    response = api.get("/api/v1/events/tx_9")
    assert response.status_code == 200
    assert response.json()["event"]["properties"] == {"n": 1}
    missing = other_tenant.client.get("/api/v1/events/tx_9")
    assert missing.status_code == 404
    assert missing.json()["code"] == "event_not_found"
    assert other_tenant.client.get("/api/v1/events").json()["events"] == []
    assert other_tenant.client.get("/api/v1/event_errors").json()["event_errors"] == []


def test_list_events_filters(api):
    post_batch(
        api,
        [
            event_payload("a", code="x", sub="s1", timestamp=1700000000),
            event_payload("b", code="y", sub="s1", timestamp=1700003600),
            event_payload("c", code="x", sub="s2", timestamp=1700007200),
        ],
    )
    ids = lambda r: [e["transaction_id"] for e in r.json()["events"]]  # noqa: E731
    assert ids(api.get("/api/v1/events")) == ["c", "b", "a"]
    assert ids(api.get("/api/v1/events?code=x")) == ["c", "a"]
    assert ids(api.get("/api/v1/events?external_subscription_id=s1")) == ["b", "a"]
    assert ids(api.get("/api/v1/events?timestamp_from=2023-11-14T23:00:00Z")) == ["c", "b"]
    assert ids(api.get("/api/v1/events?timestamp_to=2023-11-14T23:00:00Z")) == ["a"]
    assert api.get("/api/v1/events?timestamp_from=garbage").status_code == 422
    assert api.get("/api/v1/events?per_page=1&page=2").json()["meta"]["current_page"] == 2


def test_unauthenticated_is_401(client):
    assert client.post("/api/v1/events", {}, content_type="application/json").status_code == 401


@override_settings(RATE_LIMIT_EVENTS_PER_MINUTE=5, REDIS_URL="")
def test_rate_limit_returns_429_with_lago_headers(api):
    ok = post_batch(api, [event_payload(str(i)) for i in range(4)])
    assert ok.status_code == 200
    assert ok["x-ratelimit-limit"] == "5"
    assert ok["x-ratelimit-remaining"] == "1"
    assert 1 <= int(ok["x-ratelimit-reset"]) <= 60
    limited = post_batch(api, [event_payload("a"), event_payload("b")])
    assert limited.status_code == 429
    assert limited["x-ratelimit-limit"] == "5"
    assert limited["x-ratelimit-remaining"] == "1"
    assert int(limited["x-ratelimit-reset"]) >= 1
    assert Event.objects.count() == 4


@override_settings(RATE_LIMIT_EVENTS_PER_MINUTE=3, REDIS_URL="")
def test_rate_limit_is_per_organization(api, other_tenant):
    assert post_batch(api, [event_payload(str(i)) for i in range(3)]).status_code == 200
    assert post_event(api, **event_payload("x")).status_code == 429
    assert other_tenant.client.post("/api/v1/events", {"event": event_payload("x")}, format="json").status_code == 200


def test_rate_limit_window_resets():
    with override_settings(RATE_LIMIT_EVENTS_PER_MINUTE=2, REDIS_URL=""):
        assert ratelimit.consume("org", 2, now=120.0).allowed
        assert not ratelimit.consume("org", 1, now=150.0).allowed
        assert ratelimit.consume("org", 1, now=180.0).allowed


@override_settings(EVENTS_SYNCHRONOUS_COMMIT=False)
def test_asynchronous_commit_mode_stores_and_deduplicates(tenant, api):
    make_metric(tenant.organization, "calls")
    assert post_batch(api, [event_payload("a"), event_payload("b")]).status_code == 200
    again = post_batch(api, [event_payload("a"), event_payload("c")]).json()
    assert [e["transaction_id"] for e in again["events"]] == ["c"]
    assert [d["transaction_id"] for d in again["duplicates"]] == ["a"]
    assert Event.objects.count() == 3
    assert sum(UsageRollup.objects.values_list("events_count", flat=True)) == 3


def test_rate_limit_falls_back_when_redis_is_down():
    ratelimit._redis_client = None
    with override_settings(RATE_LIMIT_EVENTS_PER_MINUTE=3, REDIS_URL="redis://127.0.0.1:1/0"):
        started = time.monotonic()
        assert ratelimit.consume("org-down", 3, now=60.0).allowed
        assert not ratelimit.consume("org-down", 1, now=61.0).allowed
        assert not ratelimit.consume("org-down", 1, now=62.0).allowed
        assert time.monotonic() - started < 1.5  # one failed connection, then local counting
    ratelimit.reset_local()
    ratelimit._redis_client = None


def test_rate_limit_shared_through_redis():
    import redis

    url = "redis://127.0.0.1:6379/15"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
    except redis.exceptions.RedisError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    ratelimit._redis_client = None
    key = f"org-{datetime.now(UTC).timestamp()}"
    with override_settings(RATE_LIMIT_EVENTS_PER_MINUTE=5, REDIS_URL=url):
        first = ratelimit.consume(key, 4, now=1200.0)
        ratelimit.reset_local()  # another worker: the count lives in Redis, not in this process
        second = ratelimit.consume(key, 2, now=1201.0)
    ratelimit._redis_client = None
    assert first.allowed and first.remaining == 1
    assert not second.allowed
