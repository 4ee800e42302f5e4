"""GET /api_logs[/{request_id}]: every API request of the organization, masked, kept for a while."""

from __future__ import annotations

import datetime as dt
import json
import threading

import pytest
from django.core.management import call_command
from django.utils import timezone

from audit.api_logs import ApiLogRecord, ApiLogWriter, body_value, entry_values, records_write
from audit.models import ApiLogEntry
from customers.models import ApiKey

pytestmark = pytest.mark.django_db

URL = "/api/v1/api_logs"
LAGO_FIELDS = {
    "request_id", "client", "http_method", "http_status", "request_origin", "request_path", "request_body",
    "request_response", "api_version", "logged_at", "created_at",
}  # fmt: skip


@pytest.fixture(autouse=True)
def _inline_logs(settings):
    """Each request's log written during it, so the test reads it at once."""
    settings.API_LOGS_WRITE = "inline"


def _customer(api, external_id="cus_1", **extra):
    body = {"customer": {"external_id": external_id, "name": "One", "currency": "EUR"}, **extra}
    return api.post("/api/v1/customers", body, format="json", HTTP_USER_AGENT="lago-python-client/1.55")


def test_a_request_is_logged_with_its_bodies_masked(tenant):
    response = _customer(tenant.client, authorization="Bearer leaked", card={"card_number": "4242", "brand": "visa"})
    assert response.status_code == 200, response.content
    listed = tenant.client.get(URL)
    assert listed.status_code == 200, listed.content
    (log,) = listed.json()["api_logs"]
    assert set(log) >= LAGO_FIELDS
    key = ApiKey.objects.get(organization=tenant.organization)
    assert log["http_method"] == "post"
    assert log["http_status"] == 200
    assert log["request_path"] == "/api/v1/customers"
    assert log["api_version"] == "v1"
    assert log["client"] == "lago-python-client/1.55"
    assert log["api_key_prefix"] == key.prefix
    assert log["request_origin"] == "http://testserver"
    assert log["request_body"]["customer"]["external_id"] == "cus_1"
    assert log["request_body"]["authorization"] == "***"
    assert log["request_body"]["card"] == {"card_number": "***", "brand": "visa"}
    assert log["request_response"]["customer"]["external_id"] == "cus_1"
    assert float(log["duration_ms"]) > 0
    assert log["logged_at"].endswith("Z")
    detail = tenant.client.get(f"/v1/api_logs/{log['request_id']}")
    assert detail.status_code == 200
    assert detail.json()["api_log"] == log


def test_every_request_is_logged_reads_and_failures_too_but_not_the_logs_themselves(tenant, api):
    assert api.get("/v1/customers", {"per_page": "5", "statuses[]": ["a", "b"]}).status_code == 200
    assert api.get("/api/v1/customers/nope").status_code == 404
    assert api.get(URL).status_code == 200
    assert api.get("/api/v1/activity_logs").status_code == 200
    logs = api.get(URL).json()["api_logs"]
    assert [(log["http_method"], log["request_path"], log["http_status"]) for log in logs] == [
        ("get", "/api/v1/customers/nope", 404),
        ("get", "/v1/customers", 200),
    ]
    assert logs[1]["request_body"] == {"per_page": "5", "statuses[]": ["a", "b"]}
    assert logs[0]["request_response"]["code"] == "customer_not_found"


def test_the_entitlement_check_is_not_logged_but_entitlement_changes_are(tenant, api):
    """`GET /subscriptions/{id}/entitlements[/{feature}]`, the check an application makes before each
    request of its own, is not logged (docs/audit.md); the other subscription routes, and writes to
    the same paths, are."""
    for url in ("/api/v1/subscriptions/sub_x/entitlements", "/v1/subscriptions/sub_x/entitlements/seats"):
        assert api.get(url).status_code == 404
    assert api.get("/api/v1/subscriptions/sub_x").status_code == 404
    assert api.get("/api/v1/subscriptions/sub_x/entitlements/seats/privileges/max").status_code in (404, 405)
    assert api.patch("/api/v1/subscriptions/sub_x/entitlements", {}, format="json").status_code == 404
    logs = api.get(URL).json()["api_logs"]
    assert [(log["http_method"], log["request_path"]) for log in logs] == [
        ("patch", "/api/v1/subscriptions/sub_x/entitlements"),
        ("get", "/api/v1/subscriptions/sub_x/entitlements/seats/privileges/max"),
        ("get", "/api/v1/subscriptions/sub_x"),
    ]


def test_unauthenticated_requests_have_no_organization_and_are_not_logged(tenant):
    from rest_framework.test import APIClient

    assert APIClient().get("/api/v1/customers").status_code == 401
    assert ApiLogEntry.objects.count() == 0


def test_filters(tenant, api):
    _customer(api)
    api.put("/api/v1/customers/nope", {"customer": {"name": "x"}}, format="json")
    api.get("/api/v1/plans/nope")

    def paths(**params):
        response = api.get(URL, params)
        assert response.status_code == 200, response.content
        return [log["request_path"] for log in response.json()["api_logs"]]

    assert paths(**{"http_methods[]": "post"}) == ["/api/v1/customers"]
    assert paths(**{"http_statuses[]": "succeeded"}) == ["/api/v1/customers"]
    assert len(paths(**{"http_statuses[]": "failed"})) == 2
    assert paths(**{"http_statuses[]": ["404"], "http_methods[]": "get"}) == ["/api/v1/plans/nope"]
    assert paths(request_paths="/api/v1/customers*") == ["/api/v1/customers/nope", "/api/v1/customers"]
    assert paths(request_paths="/api/v1/customers") == ["/api/v1/customers"]
    assert paths(**{"clients[]": "lago-python-client/1.55"}) == ["/api/v1/customers"]
    assert len(paths(api_version="v1")) == 3
    today = timezone.now().date()
    assert len(paths(from_date=today.isoformat(), to_date=today.isoformat())) == 3
    assert paths(to_date=(today - dt.timedelta(days=1)).isoformat()) == []
    key = ApiKey.objects.get(organization=tenant.organization)
    assert len(paths(**{"api_key_ids[]": str(key.pk)})) == 3


@pytest.mark.parametrize(
    ("params", "field", "code"),
    [
        ({"http_methods[]": "fetch"}, "http_methods", "value_is_invalid"),
        ({"http_statuses[]": "teapot"}, "http_statuses", "value_is_invalid"),
        ({"http_statuses[]": "99"}, "http_statuses", "value_is_invalid"),
        ({"from_date": "soon"}, "from_date", "invalid_date"),
        ({"request_ids[]": "x"}, "request_ids", "value_is_invalid"),
        ({"page": "-1"}, "page", "value_is_invalid"),
    ],
)
def test_bad_filters_are_422_in_lago_shape(tenant, params, field, code):
    response = tenant.client.get(URL, params)
    assert response.status_code == 422
    assert response.json()["code"] == "validation_errors"
    assert response.json()["error_details"] == {field: [code]}


def test_another_organization_sees_nothing(tenant, other_tenant):
    _customer(tenant.client)
    (log,) = tenant.client.get(URL).json()["api_logs"]
    assert other_tenant.client.get(URL).json()["api_logs"] == []
    response = other_tenant.client.get(f"{URL}/{log['request_id']}")
    assert response.status_code == 404
    assert response.json()["code"] == "api_log_not_found"
    assert tenant.client.get(f"{URL}/not-a-uuid").status_code == 404


def test_a_body_above_the_cap_is_logged_without_it(tenant, settings):
    settings.API_LOGS_BODY_MAX_BYTES = 64
    response = _customer(tenant.client)
    assert response.status_code == 200
    log = ApiLogEntry.objects.get()
    assert json.loads(log.request_body)["_truncated"] is True
    assert json.loads(log.request_body)["_bytes"] > 64
    assert json.loads(log.request_response or "{}")["_truncated"] is True


def test_decimal_numbers_keep_their_digits_and_other_json_is_wrapped():
    def stored(body: bytes):
        return body_value(entry_values(_record(body))["request_body"])

    assert stored(b'{"amount": 10.50, "items": [1, 2.0], "secret_key": "sk_live"}') == {
        "amount": "10.50",
        "items": [1, "2.0"],
        "secret_key": "***",
    }
    assert stored(b'{"amount": 10.50, "nested": {"Password": "x", "list": [{"api_key": "k"}]}}') == {
        "amount": "10.50",
        "nested": {"Password": "***", "list": [{"api_key": "***"}]},
    }
    # no secret marker in it: stored as it came, not parsed on the way
    assert entry_values(_record(b'{"events": [{"n": 1.50}]}'))["request_body"] == '{"events": [{"n": 1.50}]}'
    assert stored(b"[1, 2]") == {"_json": [1, 2]}
    assert stored(b"not json") == {"_unparsed_bytes": 8}


def test_retention_cleanup_with_dry_run(tenant, settings, capsys):
    settings.API_LOGS_RETENTION_DAYS = 30
    now = timezone.now()
    for days in (40, 31, 29, 1):
        ApiLogEntry.objects.create(
            **entry_values(_record(b"{}", organization=tenant.organization, days=days)), created_at=now
        )
    call_command("api_logs_cleanup", "--dry-run")
    assert "would delete 2 API logs older than 30 days" in capsys.readouterr().out
    assert ApiLogEntry.objects.count() == 4
    call_command("api_logs_cleanup")
    assert ApiLogEntry.objects.count() == 2
    call_command("api_logs_cleanup", "--older-than-days", "0")
    assert ApiLogEntry.objects.count() == 0
    from audit.tasks import api_logs_cleanup_task

    assert api_logs_cleanup_task() == 0


def test_the_batched_writer_writes_in_batches_and_keeps_records_when_a_write_fails(settings):
    settings.API_LOGS_WRITE = "batched"
    settings.API_LOGS_BATCH_SIZE = 1000
    settings.API_LOGS_FLUSH_SECONDS = 3600
    settings.API_LOGS_MAX_PENDING = 3
    written: list[list[ApiLogRecord]] = []
    failing = threading.Event()

    def write(batch):
        if failing.is_set():
            raise RuntimeError("database down")
        written.append(batch)

    writer = ApiLogWriter(write)
    for _ in range(2):
        writer.add(_record(b"{}"))
    assert written == [] and writer.pending() == 2  # nothing written on the request path
    assert writer.flush() == 2
    assert [len(batch) for batch in written] == [2]
    failing.set()
    for _ in range(2):
        writer.add(_record(b"{}"))
    assert writer.flush() == 0
    assert writer.pending() == 2  # kept for the next flush
    writer.add(_record(b"{}"))
    writer.add(_record(b"{}"))
    assert writer.flush() == 0
    assert writer.pending() == 3 and writer.dropped == 1  # API_LOGS_MAX_PENDING
    failing.clear()
    assert writer.flush() == 3


def test_the_batch_size_wakes_the_writer_thread(settings):
    settings.API_LOGS_WRITE = "batched"
    settings.API_LOGS_BATCH_SIZE = 2
    settings.API_LOGS_FLUSH_SECONDS = 3600
    done = threading.Event()
    written = []

    def write(batch):
        written.append(len(batch))
        done.set()

    writer = ApiLogWriter(write)
    writer.add(_record(b"{}"))
    writer.add(_record(b"{}"))
    assert done.wait(5)
    assert written == [2]


def test_the_events_path_is_logged_with_its_bodies_as_sent(tenant, api):
    event = {"transaction_id": "t1", "code": "x", "external_subscription_id": "s", "properties": {"tokens": 1500}}
    response = api.post("/api/v1/events", {"event": event}, format="json")
    log = ApiLogEntry.objects.get(request_path="/api/v1/events")
    assert log.http_status == response.status_code
    # an event's properties are usage data (the event store keeps them whole): `tokens` is not masked
    assert json.loads(log.request_body)["event"]["properties"] == {"tokens": 1500}


def test_lago_python_client_reads_api_logs(lago):
    from lago_python_client.models import Customer

    lago.client.customers.create(Customer(external_id="cus_lago", name="Lago"))
    listed = lago.client.api_logs.find_all()
    log = listed["api_logs"][0]
    assert log.http_method == "post"
    assert log.request_body["customer"]["external_id"] == "cus_lago"
    found = lago.client.api_logs.find(log.request_id)
    assert found.request_path == "/api/v1/customers"


def _record(body: bytes, *, organization=None, days: int = 0) -> ApiLogRecord:
    return ApiLogRecord(
        organization_id=organization.pk if organization is not None else None,
        api_key_id=None,
        api_key_prefix="",
        api_version="v1",
        client="test",
        http_method="post",
        http_status=200,
        request_origin="http://testserver",
        request_path="/api/v1/customers",
        query={},
        request_body=body,
        body_size=len(body),
        response_body=json.dumps({"ok": True}).encode(),
        response_size=12,
        response_is_json=True,
        duration_us=1500,
        correlation_id="",
        logged_at=timezone.now() - dt.timedelta(days=days),
    )


def test_in_batched_mode_a_request_runs_no_statement_for_its_log(tenant, settings, monkeypatch):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from audit import api_logs

    settings.API_LOGS_WRITE = "batched"
    settings.API_LOGS_FLUSH_SECONDS = 3600
    written: list[ApiLogRecord] = []
    monkeypatch.setattr(api_logs, "writer", ApiLogWriter(written.extend))
    with CaptureQueriesContext(connection) as queries:
        assert _customer(tenant.client).status_code == 200
    assert not any("audit_apilogentry" in query["sql"] for query in queries.captured_queries)
    assert api_logs.writer.pending() == 1
    assert api_logs.writer.flush() == 1
    assert written[0].http_status == 200 and written[0].request_path == "/api/v1/customers"


def test_the_writer_stores_every_field_as_it_came_characters_copy_escapes_included(tenant):
    """The records are written with COPY on PostgreSQL, whose text format escapes tabs, newlines
    and backslashes: what is read back is what was sent."""
    text = 'tab\there, new\nline, back\\slash \\N, carriage\rreturn, "quoted", é, 😀'
    body = json.dumps({"event": {"transaction_id": text, "properties": {"note": text}}}, ensure_ascii=False).encode()
    record = _record(body, organization=tenant.organization)
    record.request_path = "/api/v1/events"
    record.client = "agent\twith\\odd\ncharacters"
    record.correlation_id = ""
    record.mask = False
    records_write([record, _record(b"", organization=tenant.organization)])
    stored = ApiLogEntry.objects.get(request_path="/api/v1/events")
    assert stored.request_body == body.decode()
    assert json.loads(stored.request_body)["event"]["properties"]["note"] == text
    assert stored.client == "agent\twith\\odd\ncharacters"
    assert stored.request_response == '{"ok": true}'
    assert (stored.http_status, stored.duration_us, stored.api_key_id, stored.logged_at) == (
        200, 1500, None, record.logged_at
    )  # fmt: skip
    assert ApiLogEntry.objects.get(request_path="/api/v1/customers").request_body == "{}"


def test_copy_writes_what_entry_values_gives_for_every_field(tenant):
    """`records_write` formats the COPY stream itself on PostgreSQL (`copy_rows`): every column
    reads back as `entry_values` gives it (ids, timestamps to the microsecond, NULLs, masking,
    query-only requests, a non-JSON response, texts with COPY's special characters)."""
    import uuid as uuid_module

    from audit.api_logs import _random_ids

    key_id = uuid_module.uuid4()
    records = []
    for index, body in enumerate(
        [b'{"customer": {"external_id": "c\\\\1", "api_key": "secret"}}', b"", b"not json\ttab", None]
    ):
        record = _record(body or b"", organization=tenant.organization, days=index)
        if body is None:
            record.request_body, record.body_size = None, 100_000  # above the cap
        record.api_key_id = key_id if index % 2 else None
        record.api_key_prefix = "bxb_\\pre"
        record.http_method = "get" if index == 1 else "post"
        record.query = {"page": "2", "token": "t"} if index == 1 else {}
        record.response_is_json = index != 2
        record.request_path = f"/api/v1/customers/{index}\r\n"
        record.correlation_id = f"corr\t{index}"
        record.logged_at = timezone.now().replace(microsecond=123456) - dt.timedelta(days=index)
        records.append(record)
    before = timezone.now()
    records_write(records)
    stored = {entry.request_path: entry for entry in ApiLogEntry.objects.all()}
    assert len(stored) == 4
    for record in records:
        entry = stored[record.request_path]
        expected = entry_values(record)
        for name, value in expected.items():
            assert getattr(entry, f"{name}_id" if name == "organization" else name) == value, name
        assert entry.id.version == 4 and entry.created_at >= before
    assert len({entry.id for entry in stored.values()}) == 4
    ids = _random_ids(1000)
    assert len(set(ids)) == 1000
    assert all(uuid_module.UUID(text).version == 4 and uuid_module.UUID(text).hex == text for text in ids)


def test_copy_drops_nul_characters_a_postgresql_text_cannot_hold(tenant):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("the COPY stream is PostgreSQL's")
    record = _record(b"{}", organization=tenant.organization)
    record.request_path = "/api/v1/customers/a\x00b"
    record.client = "agent\x00"
    records_write([record])
    entry = ApiLogEntry.objects.get()
    assert (entry.request_path, entry.client) == ("/api/v1/customers/ab", "agent")
