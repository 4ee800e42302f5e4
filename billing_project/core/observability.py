"""Celery hooks: the request id (and organization) travel with a task; task timings and failures.

`before_task_publish` copies the current logging context's `request_id` and `organization_id`
into the message headers (`bxb_request_id`, `bxb_organization_id`); `task_prerun` binds them again
in the worker (a task published outside any request gets a fresh id), so every log line a task
writes carries the id of the request that caused it. `task_postrun` and `task_failure` feed the
`bxb_celery_task_*` metrics. Connected once, from `CoreConfig.ready()`.
"""

from __future__ import annotations

import logging
import threading
import time
from contextvars import Token
from typing import Any

from celery import signals

from billing_project.core import logging as bxb_logging
from billing_project.core import metrics

logger = logging.getLogger(__name__)

REQUEST_ID_HEADER = "bxb_request_id"
PUBLISHED_AT_HEADER = "bxb_published_at"
ORGANIZATION_ID_HEADER = "bxb_organization_id"

_tokens: dict[str, Token] = {}
_tokens_lock = threading.Lock()


def _on_publish(sender: Any = None, headers: dict[str, Any] | None = None, **kwargs: Any) -> None:
    if headers is None:
        return
    # When it was published: the age of the oldest waiting task in /metrics (core/queues.py).
    headers.setdefault(PUBLISHED_AT_HEADER, round(time.time(), 3))
    context = bxb_logging.current_context()
    if context.get("request_id"):
        headers.setdefault(REQUEST_ID_HEADER, context["request_id"])
    if context.get("organization_id"):
        headers.setdefault(ORGANIZATION_ID_HEADER, context["organization_id"])


def _header(task: Any, name: str) -> str | None:
    request = getattr(task, "request", None)
    value = getattr(request, name, None)
    if value is None:
        headers = getattr(request, "headers", None) or {}
        value = headers.get(name) if isinstance(headers, dict) else None
    return value if isinstance(value, str) else None


def _on_prerun(task_id: str | None = None, task: Any = None, **kwargs: Any) -> None:
    if task_id is None:
        return
    metrics.task_started(task_id)
    request_id = bxb_logging.sane_request_id(_header(task, REQUEST_ID_HEADER))
    fields: dict[str, Any] = {"task_id": task_id, "task_name": getattr(task, "name", None)}
    if request_id:
        fields["request_id"] = request_id
    elif not bxb_logging.get_request_id():  # eager tasks keep the id of the request running them
        fields["request_id"] = bxb_logging.new_request_id()
    organization_id = _header(task, ORGANIZATION_ID_HEADER)
    if organization_id:
        fields["organization_id"] = organization_id
    token = bxb_logging.bind_context(**fields)
    with _tokens_lock:
        _tokens[task_id] = token


def _on_postrun(task_id: str | None = None, task: Any = None, state: str | None = None, **kwargs: Any) -> None:
    if task_id is None:
        return
    metrics.task_finished(task_id, getattr(task, "name", "unknown"), state)
    with _tokens_lock:
        token = _tokens.pop(task_id, None)
    if token is not None:
        bxb_logging.reset_context(token)


def _on_failure(
    sender: Any = None, task_id: str | None = None, exception: BaseException | None = None, **kw: Any
) -> None:
    name = getattr(sender, "name", "unknown")
    metrics.task_failed(name, exception)
    logger.error("task failed", extra={"task_name": name, "task_id": task_id, "error": repr(exception)})


def connect() -> None:
    signals.before_task_publish.connect(_on_publish, weak=False, dispatch_uid="bxb_publish_context")
    signals.task_prerun.connect(_on_prerun, weak=False, dispatch_uid="bxb_prerun_context")
    signals.task_postrun.connect(_on_postrun, weak=False, dispatch_uid="bxb_postrun_context")
    signals.task_failure.connect(_on_failure, weak=False, dispatch_uid="bxb_task_failure")
