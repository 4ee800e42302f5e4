"""Celery tasks of reporting. Each takes ids, calls one service, and is safe to run twice."""

from __future__ import annotations

from celery import shared_task

from reporting import services


@shared_task(name="reporting.export_run", acks_late=True)
def export_run(export_id: str) -> str | None:
    export = services.export_run(export_id)
    return export.status if export is not None else None
