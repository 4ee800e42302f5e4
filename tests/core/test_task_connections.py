"""A Celery worker keeps its database connection from task to task, and closes it as Django does
after a request when it is broken or too old (billing_project/celery.py, `_close_old_connections`)."""

from __future__ import annotations

from types import SimpleNamespace

from celery.fixups.django import DjangoWorkerFixup

from billing_project import celery as celery_module
from billing_project.celery import app


def test_celerys_fixup_does_not_close_the_connection_after_every_task():
    assert DjangoWorkerFixup(app).db_reuse_max == 1000  # unset: a new PostgreSQL connection per task


def test_old_or_broken_connections_are_closed_around_a_worker_task_not_an_eager_one(monkeypatch):
    calls = []
    monkeypatch.setattr("django.db.close_old_connections", lambda: calls.append("closed"))
    worker_task = SimpleNamespace(request=SimpleNamespace(is_eager=False))
    eager_task = SimpleNamespace(request=SimpleNamespace(is_eager=True))

    celery_module._close_old_connections(task=worker_task)
    assert calls == ["closed"]
    celery_module._close_old_connections(task=eager_task)  # inside its caller's transaction: left alone
    celery_module._close_old_connections(task=None)
    assert calls == ["closed"]
    receivers = {
        signal: [r[1]() for r in signal.receivers]
        for signal in (celery_module.signals.task_prerun, celery_module.signals.task_postrun)
    }
    assert all(celery_module._close_old_connections in found for found in receivers.values())
