"""API logs: every API request of an organization, written off the request path (docs/audit.md, "API logs").

`ApiLogMiddleware` keeps what the request and the response were (method, path, status, key,
client, duration, the raw bodies up to `API_LOGS_BODY_MAX_BYTES`) in an `ApiLogRecord` of plain
values and hands it to the process's `ApiLogWriter`. In `batched` mode (the default) the request
only appends it to a list; a thread of the process parses and masks the bodies and writes the
records with one COPY every `API_LOGS_FLUSH_SECONDS`, or sooner when
`API_LOGS_BATCH_SIZE` are waiting, and at exit (a body with no secret marker in it is stored
as it came, unparsed: `stored_body`). A request therefore pays a copy of its bodies and an
append, never a statement or a commit while the client waits; the writer's work (about 0.15 ms of
CPU for a 100-event batch's record) is spent after the response: bench/RESULTS.md ("API logs"). `inline`
writes each record during the request (the test suite: deterministic); `off` writes nothing.

A record is lost only if the process dies without running its exit handlers (SIGKILL, OOM) with
records not yet written: at most one flush interval's. A failed INSERT (the database restarting)
keeps the records for the next flush, up to `API_LOGS_MAX_PENDING`; beyond that the oldest are
dropped and counted in the `bxb.api_logs` error log.
"""

from __future__ import annotations

import atexit
import datetime as dt
import functools
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.http import HttpRequest, HttpResponse
from django.http.request import RawPostDataException
from django.utils import timezone

logger = logging.getLogger("bxb.api_logs")

_API_PREFIXES = ("/api/v1/", "/v1/")
# Reading the logs is not logged, as in Lago: a reader paging through them would shift the pages.
_NOT_LOGGED = ("api_logs", "activity_logs")
# Nor is the entitlement check (`GET /subscriptions/{id}/entitlements[/{feature_code}]`), which an
# application makes before serving each request of its own, hundreds a second: a log line each
# would bury the organization's other requests and cost every check a record, its share of a batch
# INSERT and a writer thread competing with the request for the interpreter (docs/audit.md, "API
# logs"; Lago logs no GET at all).
_UNLOGGED_READ = "entitlements"
# Bodies stored as they came: events (docs/audit.md, "API logs", masking).
_UNMASKED = ("events",)
MASK = "***"
# A key containing one of these (any case) has its value masked, at any depth.
SECRET_MARKERS = (
    "password", "secret", "token", "api_key", "apikey", "authorization", "private_key", "key_hash",
    "card_number", "cvc", "cvv", "iban", "portal_url",
)  # fmt: skip


@dataclass(slots=True)
class ApiLogRecord:
    organization_id: Any
    api_key_id: Any
    api_key_prefix: str
    api_version: str
    client: str
    http_method: str
    http_status: int
    request_origin: str
    request_path: str
    query: dict[str, Any]
    request_body: bytes | None  # None: larger than the cap (`body_size` says how large)
    body_size: int
    response_body: bytes | None
    response_size: int
    response_is_json: bool
    duration_us: int
    correlation_id: str
    logged_at: dt.datetime
    mask: bool = True  # False on the events path: its bodies are stored as they came


# --- bodies ------------------------------------------------------------------------------------

_SECRET_BYTES = tuple(marker.encode() for marker in SECRET_MARKERS)


def _may_hold_secrets(raw: bytes) -> bool:
    """Whether a secret marker occurs anywhere in the body (a key or not). `bytes.find` on the
    lowered bytes: ~0.1 ms for 60 kB, where one case-insensitive regular expression took 0.7 ms."""
    lowered = raw.lower()
    return any(lowered.find(marker) >= 0 for marker in _SECRET_BYTES)


@functools.lru_cache(maxsize=4096)
def _is_secret(key: str) -> bool:
    text = key.lower()
    return any(marker in text for marker in SECRET_MARKERS)


def _masked(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: (MASK if _is_secret(str(key)) and value[key] not in (None, "") else _masked(value[key]))
            for key in value
        }
    if isinstance(value, list):
        return [_masked(item) for item in value]
    return value


def _exact_number(text: str) -> str:
    """A JSON number with a fraction or exponent, kept as its text: no float on the way."""
    return str(Decimal(text))


def stored_body(raw: bytes | None, size: int, *, mask: bool = True) -> str:
    """The JSON text kept for a body. A body in which no secret marker occurs is kept as it came,
    without parsing it, and so is every body when `mask` is off (the events path: its events are
    stored in full by the event store anyway, and a usage property named `tokens` is data, not a
    secret); one where a marker occurs is parsed and its secrets masked; above the cap only its
    size is kept."""
    if raw is None:
        return json.dumps({"_truncated": True, "_bytes": size})
    if not raw:
        return "{}"
    if not mask or not _may_hold_secrets(raw):
        return raw.decode("utf-8", "replace").replace("\x00", "")
    try:
        value = json.loads(raw, parse_float=_exact_number)
    except (ValueError, UnicodeDecodeError):
        return json.dumps({"_unparsed_bytes": size})
    return json.dumps(_masked(value), ensure_ascii=False)


def body_value(text: str | None) -> Any:
    """A stored body as the API shows it: a JSON object (numbers with a fraction as their text);
    JSON that is not an object under `_json`; text that is not JSON as `{"_unparsed_bytes": n}`."""
    if text is None:
        return None
    try:
        value = json.loads(text, parse_float=_exact_number)
    except ValueError:
        return {"_unparsed_bytes": len(text.encode())}
    return value if isinstance(value, dict) else {"_json": value}


def entry_values(record: ApiLogRecord) -> dict[str, Any]:
    """The `ApiLogEntry` fields of a record (off the request path)."""
    if record.request_body is not None and not record.request_body and record.query:
        request_body = json.dumps(_masked(record.query), ensure_ascii=False)
    else:
        request_body = stored_body(record.request_body, record.body_size, mask=record.mask)
    response = (
        stored_body(record.response_body, record.response_size, mask=record.mask) if record.response_is_json else None
    )
    return {
        "organization_id": record.organization_id,
        "api_key_id": record.api_key_id,
        "api_key_prefix": record.api_key_prefix[:16],
        "api_version": record.api_version[:8],
        "client": record.client[:255],
        "http_method": record.http_method[:8],
        "http_status": record.http_status,
        "request_origin": record.request_origin[:255],
        "request_path": record.request_path[:1024],
        "request_body": request_body,
        "request_response": response,
        "duration_us": record.duration_us,
        "correlation_id": record.correlation_id[:128],
        "logged_at": record.logged_at,
    }


_COLUMNS = (
    "id", "organization_id", "api_key_id", "api_key_prefix", "api_version", "client", "http_method", "http_status",
    "request_origin", "request_path", "request_body", "request_response", "duration_us", "correlation_id",
    "logged_at", "created_at",
)  # fmt: skip


def records_write(records: list[ApiLogRecord]) -> None:
    """The records in one `COPY ... FROM STDIN` on PostgreSQL (one `executemany` of a plain INSERT
    elsewhere).

    COPY sends the rows as one stream, with no per-row statement, bind and result for psycopg
    to handle or PostgreSQL to execute: in the writer 25 -> 20 µs of CPU per event-sized record, in
    PostgreSQL 25-35 -> 15-25 µs; about 20,000 instructions less per single-event request in
    batches of 200 (a busy worker), more than `executemany` for batches of a few records, when the
    worker is idle enough not to care (bench/RESULTS.md, "The single event, second pass"). Not
    `bulk_create`: on PostgreSQL Django 5.2 sends its rows as arrays (`UNNEST`), and psycopg
    escapes every quote of every body inside the array literal, character by character: 10 ms of
    CPU for one 60 kB record (bench/RESULTS.md, "API logs").

    The COPY stream is written here as text (`copy_rows`), not row by row through psycopg's
    `write_row`, which dumps each value by its type: with a `uuid4()` and `entry_values` per record
    that was ~88,000 instructions per event-sized record, ~44,000 here, most of it the scans and
    copies of the bodies (bench/RESULTS.md, "The single event, fourth pass")."""
    from audit.models import ApiLogEntry

    now = timezone.now()
    table = connection.ops.quote_name(ApiLogEntry._meta.db_table)
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            columns = ", ".join(connection.ops.quote_name(column) for column in _COPY_COLUMNS)
            with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for start in range(0, len(records), _COPY_CHUNK):  # a backlog's bodies not all in one string
                    copy.write(copy_rows(records[start : start + _COPY_CHUNK], now))
            return
        rows = []
        for record in records:
            values = entry_values(record)
            values.update(id=uuid.uuid4(), created_at=now)
            rows.append([values[column] for column in _COLUMNS])
        columns = ", ".join(connection.ops.quote_name(column) for column in _COLUMNS)
        placeholders = ", ".join(["%s"] * len(_COLUMNS))
        cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({placeholders})", rows)  # noqa: S608


_NULL = "\\N"
_COPY_CHUNK = 200  # records per piece of the COPY stream


def _escaped(value: str) -> str:
    """`value` as a field of COPY's text format: backslashes, tabs, newlines and carriage returns
    escaped (what PostgreSQL reads back as the same text)."""
    if "\\" in value:
        value = value.replace("\\", "\\\\")
    if "\t" in value:
        value = value.replace("\t", "\\t")
    if "\n" in value:
        value = value.replace("\n", "\\n")
    if "\r" in value:
        value = value.replace("\r", "\\r")
    return value


def _uuid_text(value: Any, known: dict[Any, str]) -> str:
    """A UUID column's COPY text (32 hex digits, which PostgreSQL reads as the same UUID); `known`:
    the texts of the batch so far (its records share a few organizations and keys)."""
    if value is None:
        return _NULL
    text = known.get(value)
    if text is None:
        text = known[value] = value.hex if type(value) is uuid.UUID else _escaped(str(value).replace("\x00", ""))
    return text


def _timestamp_text(moment: dt.datetime, minutes: dict[tuple[int, ...], str]) -> str:
    """A timestamp's COPY text: `isoformat()`'s, which formats each of its numbers through C's
    `sprintf` (~12,000 instructions a timestamp); for UTC, the text up to the minute is made once
    per minute of the batch (`minutes`) and the seconds added here."""
    if moment.tzinfo is not dt.UTC:
        return moment.isoformat()
    key = (moment.year, moment.month, moment.day, moment.hour, moment.minute)
    prefix = minutes.get(key)
    if prefix is None:
        prefix = minutes[key] = moment.replace(second=0, microsecond=0).isoformat()[:17]  # 2026-12-07T22:30:
    return "%s%02d.%06d+00:00" % (prefix, moment.second, moment.microsecond)  # noqa: UP031 - cheaper than an f-string


def _random_ids(count: int) -> list[str]:
    """`count` random version-4 UUIDs as 32 hex digits (what `uuid.uuid4()` gives, from one read
    of the system's random source instead of one per record and a `UUID` object each)."""
    data = bytearray(os.urandom(16 * count))
    data[6::16] = bytes(byte & 0x0F | 0x40 for byte in data[6::16])  # version 4
    data[8::16] = bytes(byte & 0x3F | 0x80 for byte in data[8::16])  # RFC 4122 variant
    text = data.hex()
    return [text[start : start + 32] for start in range(0, 32 * count, 32)]


# The COPY stream's columns: those whose text needs no escaping first, then the texts, each row's
# texts escaped at once (`copy_rows`).
_COPY_COLUMNS = (
    "id", "organization_id", "api_key_id", "http_status", "duration_us", "logged_at", "created_at",
    "api_key_prefix", "api_version", "client", "http_method", "request_origin", "request_path", "correlation_id",
    "request_body", "request_response",
)  # fmt: skip


def _short_texts(record: ApiLogRecord) -> tuple[str, ...]:
    return (
        record.api_key_prefix[:16],
        record.api_version[:8],
        record.client[:255],
        record.http_method[:8],
        record.request_origin[:255],
        record.request_path[:1024],
        record.correlation_id[:128],
    )


def copy_rows(records: list[ApiLogRecord], now: dt.datetime) -> bytes:
    """The `_COPY_COLUMNS` rows of `records` in COPY's text format, each with a new random id and
    `created_at` = `now`: the values of `entry_values`, timestamps in ISO 8601 with their offset.

    A row's texts are joined with NUL and escaped as one string, the NULs then turned into the
    column separator. NUL, which a PostgreSQL text cannot hold, is dropped from the short texts
    (psycopg refused the whole batch for one); the bodies have none (`stored_body`)."""
    created_at = now.isoformat()
    ids: dict[Any, str] = {}
    minutes: dict[tuple[int, ...], str] = {}
    lines: list[str] = []
    append = lines.append
    for record, entry_id in zip(records, _random_ids(len(records)), strict=True):
        if record.request_body is not None and not record.request_body and record.query:
            request_body = json.dumps(_masked(record.query), ensure_ascii=False)
        else:
            request_body = stored_body(record.request_body, record.body_size, mask=record.mask)
        short = "\x00".join(_short_texts(record))
        if short.count("\x00") != 6:  # a NUL in one of them
            short = "\x00".join(text.replace("\x00", "") for text in _short_texts(record))
        if record.response_is_json:
            response = stored_body(record.response_body, record.response_size, mask=record.mask)
            texts = f"{short}\x00{request_body}\x00{response}"
            null_response = ""
        else:
            texts = f"{short}\x00{request_body}"
            null_response = "\t" + _NULL
        append(
            "%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s%s"  # noqa: UP031 - one format for the whole row
            % (
                entry_id,
                _uuid_text(record.organization_id, ids),
                _uuid_text(record.api_key_id, ids),
                record.http_status,
                record.duration_us,
                _timestamp_text(record.logged_at, minutes),
                created_at,
                _escaped(texts).replace("\x00", "\t"),
                null_response,
            )
        )
    append("")
    return "\n".join(lines).encode("utf-8", "replace")


# --- the writer --------------------------------------------------------------------------------


class ApiLogWriter:
    """Collects a process's records and writes them in batches from a thread of its own."""

    def __init__(self, write: Callable[[list[ApiLogRecord]], None] = records_write) -> None:
        self._write = write
        self._lock = threading.Lock()
        self._pending: list[ApiLogRecord] = []
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self.dropped = 0

    def add(self, record: ApiLogRecord) -> None:
        mode = settings.API_LOGS_WRITE
        if mode == "off":
            return
        if mode == "inline":
            self._write([record])
            return
        with self._lock:
            if self._pid != os.getpid():  # first record of this process (or a fork): own thread, own list
                self._start()
            self._pending.append(record)
            waiting = len(self._pending)
        if waiting >= settings.API_LOGS_BATCH_SIZE:
            self._wake.set()

    def _start(self) -> None:
        self._pid = os.getpid()
        self._pending = []
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bxb-api-logs", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            self._wake.wait(settings.API_LOGS_FLUSH_SECONDS)
            self._wake.clear()
            self.flush()

    def flush(self) -> int:
        """Write what is waiting; returns how many were written. Safe from any thread."""
        with self._lock:
            batch, self._pending = self._pending, []
        if not batch:
            return 0
        try:
            close_old_connections()  # this thread's connection, if the database dropped it
            self._write(batch)
        except Exception:
            logger.exception("api logs: writing %d records failed; kept for the next flush", len(batch))
            connection.close()
            with self._lock:
                self._pending = batch + self._pending
                excess = len(self._pending) - settings.API_LOGS_MAX_PENDING
                if excess > 0:
                    del self._pending[:excess]
                    self.dropped += excess
                    logger.error("api logs: %d records dropped (API_LOGS_MAX_PENDING)", excess)
            return 0
        return len(batch)

    def pending(self) -> int:
        with self._lock:
            return len(self._pending)


writer = ApiLogWriter()


@atexit.register
def _flush_at_exit() -> None:
    if writer._pid == os.getpid():
        try:
            writer.flush()
        finally:
            connection.close()


# --- the middleware ----------------------------------------------------------------------------


def _logged_path(path: str, method: str | None = "GET") -> tuple[str, str] | None:
    """(api version, resource) of an API request that is logged, else None."""
    for prefix in _API_PREFIXES:
        if path.startswith(prefix):
            segments = path[len(prefix) :].split("/")
            resource = segments[0]
            if not resource or resource in _NOT_LOGGED:
                return None
            if resource == "subscriptions" and method in ("GET", "HEAD") and _is_entitlement_check(segments):
                return None
            return ("v1", resource)
    return None


def _is_entitlement_check(segments: list[str]) -> bool:
    """`subscriptions/{id}/entitlements` or `subscriptions/{id}/entitlements/{feature_code}`."""
    return len(segments) in (3, 4) and segments[2] == _UNLOGGED_READ and all(segments)


def _query(request: HttpRequest) -> dict[str, Any]:
    """The query string as a dict (a list where a key repeats); no `QueryDict` is built for a
    request without one (most writes, the events path)."""
    if not request.META.get("QUERY_STRING"):
        return {}
    return {key: values if len(values) > 1 else values[0] for key, values in request.GET.lists()}


_HOST_CHECKED_BY = "django.middleware.common.CommonMiddleware"


def _origin(request: HttpRequest) -> str:
    """`scheme://host` of a request that reached a view (only those are logged). Django's
    `CommonMiddleware` validated its host (`get_host()`, which refuses a host not in
    `ALLOWED_HOSTS` with a 400 before any view runs), so the host is read without validating it a
    second time (about 1.5 % of a single event's instructions), unless that middleware is not
    installed."""
    try:
        if _HOST_CHECKED_BY in settings.MIDDLEWARE:
            return f"{request.scheme}://{request._get_raw_host()}"  # type: ignore[attr-defined]  # Django's, private
        return f"{request.scheme}://{request.get_host()}"
    except Exception:  # noqa: BLE001 — a disallowed host was refused before; never fail the log
        return ""


class ApiLogMiddleware:
    """Hands every authenticated API request to the writer (after `ApiLimitsMiddleware`, so a body
    refused as too large is never read)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        logged = _logged_path(request.path, request.method)
        if logged is None or settings.API_LOGS_WRITE == "off":
            return self.get_response(request)
        logged_at = timezone.now()
        started = time.perf_counter()
        cap = settings.API_LOGS_BODY_MAX_BYTES
        size = int(request.META.get("CONTENT_LENGTH") or 0) if request.META.get("CONTENT_LENGTH", "").isdigit() else 0
        raw: bytes | None = b""
        if size > cap:
            raw = None
        elif size:
            try:
                raw = request.body  # kept by Django; DRF's parser reads the same bytes afterwards
            except RawPostDataException:
                raw = b""
        response = self.get_response(request)
        api_key = getattr(request, "auth", None)
        organization_id = getattr(api_key, "organization_id", None)
        if organization_id is None:
            return response  # not authenticated: no organization to log it for
        duration_us = int((time.perf_counter() - started) * 1_000_000)
        response_body: bytes | None = None
        response_size = 0
        is_json = not response.streaming and "json" in response.get("Content-Type", "")
        if is_json:
            content = response.content
            response_size = len(content)
            response_body = content if response_size <= cap else None
        writer.add(
            ApiLogRecord(
                organization_id=organization_id,
                api_key_id=getattr(api_key, "pk", None),
                api_key_prefix=str(getattr(api_key, "prefix", "") or ""),
                api_version=logged[0],
                client=request.META.get("HTTP_USER_AGENT", ""),
                http_method=(request.method or "").lower(),
                http_status=response.status_code,
                request_origin=_origin(request),
                request_path=request.path,
                query=_query(request),
                request_body=raw,
                body_size=size,
                response_body=response_body,
                response_size=response_size,
                response_is_json=is_json,
                duration_us=duration_us,
                correlation_id=str(getattr(request, "request_id", "") or ""),
                logged_at=logged_at,
                mask=logged[1] not in _UNMASKED,
            )
        )
        return response
