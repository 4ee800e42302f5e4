"""gunicorn server hooks (wired in gunicorn.conf.py): what happens when a worker is killed.

gunicorn kills a sync worker whose request outlived `timeout` (GUNICORN_TIMEOUT): the arbiter sends
SIGABRT, the worker runs `worker_abort` and exits, and the client gets gunicorn's plain-text 500
without any line from the application. `worker_timed_out` makes that visible: one JSON log line
(`bxb.gunicorn`, level ERROR, `event: worker_timeout`) with the request id, method and route of the
request that was running and the stack it was stuck in, and `bxb_gunicorn_worker_timeouts_total`
in /metrics. With several workers, PROMETHEUS_MULTIPROC_DIR must be set (as for every metric):
the dying worker's counter stays in its file and is summed by the worker that answers /metrics.
"""

from __future__ import annotations

import logging
import sys
import traceback
from types import FrameType
from typing import Any

logger = logging.getLogger("bxb.gunicorn")

STACK_FRAMES = 25


def worker_timed_out(worker: Any) -> None:
    """gunicorn's `worker_abort` hook: runs in the worker, in its SIGABRT handler, so the stack
    below this call is the request's, interrupted where it waited."""
    from billing_project.core import metrics

    frame: FrameType | None = sys._getframe(1)  # the request sits below the signal handler
    while frame is not None and frame.f_code.co_name in ("worker_abort", "handle_abort"):
        frame = frame.f_back
    environ = _wsgi_environ(frame)
    method = environ.get("REQUEST_METHOD", "") if environ else ""
    route = _route(environ.get("PATH_INFO", "")) if environ else ""
    stack = [
        f"{entry.filename}:{entry.lineno} in {entry.name}"
        for entry in (traceback.extract_stack(frame)[-STACK_FRAMES:] if frame is not None else [])
    ]
    try:
        metrics.gunicorn_worker_timeouts.inc()
    finally:
        logger.error(
            "gunicorn killed worker %s after %ss: %s %s",
            getattr(worker, "pid", None),
            getattr(getattr(worker, "cfg", None), "timeout", None),
            method or "-",
            route or "-",
            extra={
                "event": "worker_timeout",
                "pid": getattr(worker, "pid", None),
                "timeout_seconds": getattr(getattr(worker, "cfg", None), "timeout", None),
                "method": method or None,
                "route": route or None,
                "stack": stack,
            },
        )
        for handler in logging.getLogger().handlers + logger.handlers:
            handler.flush()


def child_exited(worker: Any) -> None:
    """gunicorn's `child_exit` hook (in the arbiter): the dead worker's live gauges are dropped
    from the multiprocess files (prometheus_client's documented gunicorn set-up)."""
    import os

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def _wsgi_environ(frame: FrameType | None) -> dict[str, Any] | None:
    """The WSGI environ of the request being served, found in the frames of the stack."""
    while frame is not None:
        environ = frame.f_locals.get("environ")
        if isinstance(environ, dict) and "REQUEST_METHOD" in environ:
            return environ
        frame = frame.f_back
    return None


def _route(path: str) -> str:
    """The URL pattern (never the raw path: it holds customers' ids), as the access log writes it."""
    try:
        from django.urls import Resolver404, resolve

        try:
            match = resolve(path)
        except Resolver404:
            return "<unresolved>"
        return match.route or match.view_name or "<unnamed>"
    except Exception:  # noqa: BLE001 - Django not set up (a failure while loading the app)
        return "<unknown>"
