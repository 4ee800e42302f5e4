"""Publishing tasks when the broker fails: bounded, counted, and never the caller's failure.

Every task of the project is an instance of `Task` (the Celery app's `task_cls`). Its `apply_async`
(and so `delay`) publishes as Celery does, within the broker's socket timeouts and publish retry
(`CELERY_BROKER_TRANSPORT_OPTIONS`, `CELERY_TASK_PUBLISH_RETRY_POLICY`: about a second in all when
Redis stalls). When publishing fails:

- the failure is logged (`task not sent`, with the task name and error) and counted in
  `bxb_celery_publish_failures_total{task}`;
- the caller goes on (`None` is returned instead of an `AsyncResult`): the work is in the database
  already (the outbox rows, the invoices, the billing run's batches) and the sweepers that beat
  runs find it and enqueue it again (docs/operations.md, "The broker stalls or restarts");
- for `BROKER_DOWN_SECONDS` afterwards, this process does not try again: each publish fails at
  once (logged and counted the same way), so one request that enqueues several tasks, or the next
  requests, do not each wait for the timeout.

Tasks run eagerly (no broker, `CELERY_TASK_ALWAYS_EAGER`) are not affected.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from celery import Task as CeleryTask
from kombu.exceptions import OperationalError

from billing_project.core import metrics

logger = logging.getLogger(__name__)
BROKER_DOWN_SECONDS = 5.0

_lock = threading.Lock()
_down_until = 0.0


def broker_marked_down() -> bool:
    return time.monotonic() < _down_until


def _mark_down() -> None:
    global _down_until
    with _lock:
        _down_until = time.monotonic() + BROKER_DOWN_SECONDS


def reset() -> None:
    """Forget a previous failure (tests)."""
    global _down_until
    with _lock:
        _down_until = 0.0


class Task(CeleryTask):
    def apply_async(self, args: Any = None, kwargs: Any = None, *rest: Any, **options: Any) -> Any:
        app = self._get_app()
        if app.conf.task_always_eager:
            return super().apply_async(args, kwargs, *rest, **options)
        if broker_marked_down():
            self._not_sent("broker marked down after a recent failure")
            return None
        try:
            return super().apply_async(args, kwargs, *rest, **options)
        except OperationalError as exc:
            _mark_down()
            self._not_sent(repr(exc))
            return None

    def _not_sent(self, error: str) -> None:
        metrics.celery_publish_failures.labels(task=self.name).inc()
        logger.error("task not sent", extra={"task_name": self.name, "error": error[:500]})
