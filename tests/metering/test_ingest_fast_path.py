"""The batch hot path (fast validation, orjson document and answer, the batch parser) gives exactly
the answers of the general code."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metering import ingestion, ratelimit
from metering.ingestion import _parse_event_slow, parse_event
from metering.models import Event, UsageRollup
from metering.store.postgres import time_ordered_id_prefix
from tests.factories.metering import event_payload, make_metric

NOW = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)

texts = st.one_of(
    st.none(), st.just(""), st.text(max_size=5), st.text(min_size=250, max_size=260), st.integers(), st.booleans()
)
timestamps = st.one_of(
    st.none(),
    st.just(""),
    st.integers(min_value=-5, max_value=253402300805),
    st.decimals(allow_nan=False, allow_infinity=False, places=3, min_value=-1, max_value=2_000_000_000),
    st.sampled_from(["1700000000", "1700000000.5", " 12 ", "2024-01-01T00:00:00Z", "nan", "1e3"]),
    st.booleans(),
    st.floats(allow_nan=True, allow_infinity=True),
)
properties = st.one_of(
    st.none(),
    st.dictionaries(st.text(max_size=3), st.integers() | st.text(max_size=3)),
    st.lists(st.integers(), max_size=2),
    st.text(max_size=2),
)
precise = st.one_of(st.none(), st.just(""), st.sampled_from(["1.5", "abc", "1e40"]), st.integers())


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    transaction_id=texts,
    code=texts,
    sub=texts,
    customer=texts,
    timestamp=timestamps,
    props=properties,
    amount=precise,
    drop=st.sets(st.sampled_from(["transaction_id", "code", "timestamp", "properties", "external_customer_id"])),
)
def test_fast_path_answers_like_the_general_checks(transaction_id, code, sub, customer, timestamp, props, amount, drop):
    raw = {
        "transaction_id": transaction_id,
        "code": code,
        "external_subscription_id": sub,
        "external_customer_id": customer,
        "timestamp": timestamp,
        "properties": props,
        "precise_total_amount_cents": amount,
    }
    for key in drop:
        raw.pop(key)
    fast, fast_errors = parse_event(3, dict(raw), NOW)
    slow, slow_errors = _parse_event_slow(3, dict(raw), NOW)
    assert fast_errors == slow_errors
    assert fast == slow


@pytest.mark.django_db
class TestBatchAnswer:
    @pytest.fixture(autouse=True)
    def _metric(self, tenant):
        ratelimit.reset_local()
        make_metric(tenant.organization, "calls")
        make_metric(tenant.organization, "gb", "sum_agg", field_name="gb")

    def post(self, api, body: str):
        return api.generic("POST", "/api/v1/events/batch", body, content_type="application/json")

    def test_decimals_and_huge_integers_round_trip_exactly(self, api):
        huge = 123456789012345678901234567890123
        body = (
            '{"events": [{"transaction_id": "a", "external_subscription_id": "s", "code": "gb", '
            f'"timestamp": 1700000000.123456, "properties": {{"gb": 0.1, "big": {huge}, "tiny": 1e-30, "n": 3}}}},'
            '{"transaction_id": "b", "external_subscription_id": "s", "code": "gb", "timestamp": 1700000001, '
            '"properties": {"gb": 2}, "precise_total_amount_cents": "12.500"}]}'
        )
        response = self.post(api, body)
        assert response.status_code == 200, response.content
        events = {e["transaction_id"]: e for e in response.json()["events"]}
        assert events["a"]["timestamp"] == "2023-11-14T22:13:20.123Z"
        props = json.loads(response.content, parse_float=Decimal)["events"][0]["properties"]
        assert props == {"gb": Decimal("0.1"), "big": huge, "tiny": Decimal("1E-30"), "n": 3}
        assert events["b"]["precise_total_amount_cents"] == "12.5"
        stored = Event.objects.get(transaction_id="a")
        assert stored.value == Decimal("0.1")
        assert stored.properties["big"] == huge
        rollup = UsageRollup.objects.get(code="gb")
        assert (rollup.events_count, rollup.value_sum, rollup.precise_sum) == (2, Decimal("2.1"), Decimal("12.5"))

    def test_nul_characters_are_400_and_an_escaped_backslash_is_not_one(self, api):
        nul = '{"events": [{"transaction_id": "a\\u0000", "external_subscription_id": "s", "code": "calls"}]}'
        response = self.post(api, nul)
        assert response.status_code == 400
        assert "NUL" in response.json()["error"]
        key = '{"events": [{"transaction_id": "a", "external_subscription_id": "s", "code": "calls", "properties": {"k\\u0000": 1}}]}'
        assert self.post(api, key).status_code == 400
        backslash = '{"events": [{"transaction_id": "a\\\\u0000", "external_subscription_id": "s", "code": "calls"}]}'
        response = self.post(api, backslash)
        assert response.status_code == 200, response.content
        assert response.json()["events"][0]["transaction_id"] == "a\\u0000"
        assert list(Event.objects.values_list("transaction_id", flat=True)) == ["a\\u0000"]

    def test_malformed_json_and_constants_are_400(self, api):
        assert self.post(api, '{"events": [').status_code == 400
        assert self.post(api, '{"events": [{"transaction_id": NaN}]}').status_code == 400
        assert self.post(api, b'{"events": ["\xff"]}').status_code == 400

    def test_duplicates_within_and_across_batches_are_named_and_counted_once(self, api):
        first = [event_payload("a"), event_payload("b"), event_payload("a")]
        body = self.post(api, json.dumps({"events": first})).json()
        assert [e["transaction_id"] for e in body["events"]] == ["a", "b"]
        assert body["duplicates"] == [{"index": 2, "transaction_id": "a", "external_subscription_id": "sub_1"}]
        again = self.post(api, json.dumps({"events": [event_payload("c"), event_payload("b")]})).json()
        assert [e["transaction_id"] for e in again["events"]] == ["c"]
        assert again["duplicates"] == [{"index": 1, "transaction_id": "b", "external_subscription_id": "sub_1"}]
        assert Event.objects.count() == 3
        assert UsageRollup.objects.get(code="calls").events_count == 3


def test_dumps_bytes_writes_what_dumps_writes():
    value = {"a": Decimal("0.1"), "b": Decimal("1E+2"), "c": Decimal("0.30000000000000004441"), "d": [1, "é", None]}
    assert json.loads(ingestion.dumps_bytes(value)) == json.loads(ingestion.dumps(value))
    huge = {"n": 2**80}
    assert ingestion.dumps_bytes(huge) == ingestion.dumps(huge).encode()


def test_time_ordered_id_prefix_is_a_uuid7_of_that_millisecond():
    prefix = time_ordered_id_prefix(1_700_000_000.123)
    value = uuid.UUID(prefix + str(uuid.uuid4())[15:])
    assert value.version == 7 and value.variant == uuid.RFC_4122
    assert value.int >> 80 == 1_700_000_000_123


@pytest.mark.django_db
def test_postgresql_event_ids_are_uuid7_and_grow_with_time(tenant, api):
    if connection.vendor != "postgresql":
        pytest.skip("the time-ordered ids are made by the PostgreSQL statement")
    ratelimit.reset_local()
    make_metric(tenant.organization, "calls")
    before = int(time.time() * 1000)
    first = api.post("/api/v1/events/batch", {"events": [event_payload("a")]}, format="json").json()
    time.sleep(0.005)
    second = api.post("/api/v1/events/batch", {"events": [event_payload("b")]}, format="json").json()
    after = int(time.time() * 1000)
    ids = [uuid.UUID(first["events"][0]["lago_id"]), uuid.UUID(second["events"][0]["lago_id"])]
    assert [i.version for i in ids] == [7, 7]
    assert before <= ids[0].int >> 80 < ids[1].int >> 80 <= after
    assert {str(e.id) for e in Event.objects.all()} == {str(i) for i in ids}


@pytest.mark.django_db
def test_an_expression_result_never_changes_the_callers_properties(tenant):
    from metering import services

    make_metric(tenant.organization, "calc", "sum_agg", field_name="total", expression="event.properties.a * 2")
    shared = {"a": 3}
    payloads = [event_payload(str(i), code="calc", properties=shared) for i in range(2)]
    result = services.events_ingest(tenant.organization, payloads)
    assert shared == {"a": 3}
    assert [e.properties for e in result.events] == [{"a": 3, "total": Decimal(6)}] * 2
    assert sorted(Event.objects.values_list("value", flat=True)) == [Decimal(6), Decimal(6)]
