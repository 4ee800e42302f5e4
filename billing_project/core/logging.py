"""Structured logging: a per-request (or per-task) context and a one-JSON-object-per-line formatter.

The context lives in a `contextvars.ContextVar`, so it follows the request through threads' own
contexts and never leaks between concurrent requests:

    from billing_project.core.logging import bind_context, get_request_id

    token = bind_context(request_id="...", organization_id="...")
    ...
    reset_context(token)

`ContextFilter` copies `request_id` and `organization_id` (and any other bound field) onto every
log record; `JsonFormatter` writes `time`, `level`, `logger`, `message`, `request_id`,
`organization_id`, the `extra={...}` fields of the call and, for errors, `exc_info`.
`LOG_FORMAT=plain` uses a human format with the request id instead (settings.py).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import uuid
from contextvars import ContextVar, Token
from decimal import Decimal
from typing import Any

_context: ContextVar[dict[str, Any] | None] = ContextVar("bxb_log_context", default=None)

# An incoming X-Request-Id is kept only when it is short and made of safe characters.
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}$")

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_RESERVED = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", (), None)).keys()
    | {"message", "asctime", "request_id", "organization_id", "taskName"}
)


def new_request_id() -> str:
    return uuid.uuid4().hex


def sane_request_id(value: str | None) -> str | None:
    """The incoming id when it is safe to log and echo back, else None."""
    if value and _REQUEST_ID_RE.match(value):
        return value
    return None


def current_context() -> dict[str, Any]:
    return dict(_context.get() or {})


def get_request_id() -> str | None:
    return (_context.get() or {}).get("request_id")


def bind_context(**fields: Any) -> Token:
    """Add fields to the logging context; returns a token for `reset_context`."""
    merged = {**(_context.get() or {}), **{k: v for k, v in fields.items() if v is not None}}
    return _context.set(merged)


def reset_context(token: Token) -> None:
    try:
        _context.reset(token)
    except ValueError:  # token from another context (e.g. a signal handler in another thread)
        _context.set(None)


def start_context(**fields: Any) -> None:
    """Replace the context (the start of a request): nothing from a previous one survives."""
    _context.set({k: v for k, v in fields.items() if v is not None})


def clear_context(*args: Any, **kwargs: Any) -> None:
    """Forget the context; also a `request_finished` receiver."""
    _context.set(None)


class ContextFilter(logging.Filter):
    """Puts the bound context on each record (`%(request_id)s` works in plain formats too)."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = _context.get() or {}
        for key, value in context.items():
            if not hasattr(record, key):
                setattr(record, key, value)
        if not hasattr(record, "request_id"):
            record.request_id = None
        if not hasattr(record, "organization_id"):
            record.organization_id = None
        return True


# scheme://[userinfo@]host[:port][/path][?query][#fragment] in a log message.
_URL_RE = re.compile(
    r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<userinfo>[^\s/?#@]*@)?(?P<host>[^\s/?#]+)(?P<rest>[^\s]*)"
)


def redact_url(match: re.Match[str]) -> str:
    """A URL as logs may show it: scheme, host and the first path segment. Credentials, the rest of
    the path, the query and the fragment are where tokens live (`?token=`, Slack-style
    `/services/T0/B0/secret`), so they are replaced by `…`."""
    rest = match.group("rest")
    path = rest.split("?", 1)[0].split("#", 1)[0]
    segments = [s for s in path.split("/") if s]
    shown = f"/{segments[0]}" if segments else ""
    hidden = len(segments) > 1 or len(rest) > len(path) or match.group("userinfo")
    return f"{match.group('scheme')}{match.group('host')}{shown}{'/…' if hidden else ''}"


def redact_urls(text: str) -> str:
    return _URL_RE.sub(redact_url, text) if "://" in text else text


class RedactUrlsFilter(logging.Filter):
    """URLs in log messages lose what may carry a secret (`redact_url`): outbound webhook URLs with
    tokens, which HTTP client libraries log at INFO, never reach the logs in full."""

    def filter(self, record: logging.LogRecord) -> bool:
        if "://" not in str(record.msg) and not any("://" in str(a) for a in _args(record)):
            return True
        message = record.getMessage()
        redacted = redact_urls(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


def _args(record: logging.LogRecord) -> tuple[Any, ...]:
    args = record.args
    if isinstance(args, dict):
        return tuple(args.values())
    return args or ()


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return repr(value)


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        context = _context.get() or {}
        payload: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, tz=dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or context.get("request_id"),
            "organization_id": getattr(record, "organization_id", None) or context.get("organization_id"),
        }
        for key, value in context.items():
            payload.setdefault(key, value)
        for key, value in vars(record).items():
            if key not in _RESERVED and not key.startswith("_"):
                payload[key] = value
        if record.exc_info:
            payload["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            payload["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(payload, default=_json_default, ensure_ascii=False)


class PlainFormatter(logging.Formatter):
    """`time level logger [request_id] message`, for development consoles."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        if not hasattr(record, "request_id"):
            record.request_id = get_request_id() or "-"
        elif record.request_id is None:
            record.request_id = "-"
        return super().format(record)
