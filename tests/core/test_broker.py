"""A broker that stalls or refuses: publishing costs about a second, is logged and counted, and never
raises into the caller (the sweepers deliver later). No Redis is harmed: a stalled broker is a socket
that accepts connections and never answers, a refusing one a closed port."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from celery import Celery
from django.conf import settings
from prometheus_client import REGISTRY

from billing_project.core import broker


def _app(url: str) -> Celery:
    """A Celery app configured exactly as bxb's (the same settings), publishing to `url`."""
    app = Celery("bxb-test", task_cls="billing_project.core.broker:Task", broker=url)
    app.conf.update(
        broker_transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS,
        task_publish_retry_policy=settings.CELERY_TASK_PUBLISH_RETRY_POLICY,
        broker_connection_timeout=settings.CELERY_BROKER_CONNECTION_TIMEOUT,
        task_always_eager=False,
    )
    return app


@pytest.fixture
def stalled_broker():
    """A TCP port that accepts (the kernel's backlog) and never answers: Redis frozen by SIGSTOP."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"
    server.close()


def _failures(task: str) -> float:
    return REGISTRY.get_sample_value("bxb_celery_publish_failures_total", {"task": task}) or 0.0


def _publish_in_thread(task, timeout: float = 15.0) -> tuple[object, float]:
    result: dict = {}

    def run() -> None:
        started = time.monotonic()
        result["value"] = task.delay(1)
        result["took"] = time.monotonic() - started

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), f"publishing to a stalled broker still waiting after {timeout} s"
    return result["value"], result["took"]


def test_a_stalled_broker_costs_a_publish_about_a_second_and_nothing_else(stalled_broker, caplog):
    broker.reset()
    app = _app(stalled_broker)

    @app.task(name="tests.broker.stalled")
    def stalled(x):
        return x

    before = _failures("tests.broker.stalled")
    value, took = _publish_in_thread(stalled)
    assert value is None
    assert took < 2.0, took  # one try and one retry of BROKER_SOCKET_TIMEOUT (0.5 s) each
    assert _failures("tests.broker.stalled") == before + 1
    assert any(r.getMessage() == "task not sent" and r.task_name == "tests.broker.stalled" for r in caplog.records)
    # Marked down: the next publishes in this process fail at once instead of waiting again.
    value, took = _publish_in_thread(stalled)
    assert value is None and took < 0.1
    assert _failures("tests.broker.stalled") == before + 2
    broker.reset()


def test_a_refusing_broker_fails_fast_and_the_caller_goes_on():
    broker.reset()
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens: connection refused
    app = _app(f"redis://127.0.0.1:{port}/0")

    @app.task(name="tests.broker.refused")
    def refused(x):
        return x

    value, took = _publish_in_thread(refused)
    assert value is None and took < 2.0
    broker.reset()


def test_every_project_task_publishes_through_the_bounded_task_class():
    from billing_project.celery import app

    app.loader.import_default_modules()
    ours = [t for name, t in app.tasks.items() if not name.startswith("celery.")]
    assert len(ours) > 30
    assert all(isinstance(t, broker.Task) for t in ours)


def test_the_visibility_timeout_outlasts_the_longest_task_and_countdown():
    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    longest_hold = settings.CELERY_TASK_TIME_LIMIT + settings.CELERY_COUNTDOWN_MAX_SECONDS
    assert longest_hold < options["visibility_timeout"] < 3600  # kombu's default hour was too long
    assert options["socket_timeout"] == options["socket_connect_timeout"] == settings.BROKER_SOCKET_TIMEOUT
    assert settings.CELERY_TASK_SOFT_TIME_LIMIT < settings.CELERY_TASK_TIME_LIMIT
    from webhooks.services import COUNTDOWN_MAX_SECONDS

    assert COUNTDOWN_MAX_SECONDS <= settings.CELERY_COUNTDOWN_MAX_SECONDS


def test_a_worker_refuses_a_visibility_timeout_shorter_than_a_task_can_be_held(settings):
    from billing_project.celery import _require_visibility_timeout, visibility_timeout_problem

    assert visibility_timeout_problem() is None
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {**settings.CELERY_BROKER_TRANSPORT_OPTIONS, "visibility_timeout": 600}
    assert "must exceed" in visibility_timeout_problem()
    with pytest.raises(SystemExit):
        _require_visibility_timeout()
