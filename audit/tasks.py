from __future__ import annotations

from celery import shared_task

from audit.services import api_logs_cleanup, audit_entries_cleanup


@shared_task(name="audit.cleanup")
def audit_cleanup_task() -> int:
    """Daily retention sweep (AUDIT_RETENTION_DAYS). Safe to run twice."""
    return audit_entries_cleanup()


@shared_task(name="audit.api_logs_cleanup")
def api_logs_cleanup_task() -> int:
    """Daily retention sweep of the API logs (API_LOGS_RETENTION_DAYS). Safe to run twice."""
    return api_logs_cleanup()
