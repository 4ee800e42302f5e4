"""Retention of the audit trail and of the API logs."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from audit.models import ApiLogEntry, AuditLogEntry

_BATCH = 5000


def _cutoff(days: int, now: dt.datetime | None) -> dt.datetime:
    if days < 0:
        raise ValueError("older_than_days must not be negative")
    return (now or timezone.now()) - dt.timedelta(days=days)


def audit_cutoff(*, older_than_days: int | None = None, now: dt.datetime | None = None) -> dt.datetime:
    return _cutoff(settings.AUDIT_RETENTION_DAYS if older_than_days is None else older_than_days, now)


def api_logs_cutoff(*, older_than_days: int | None = None, now: dt.datetime | None = None) -> dt.datetime:
    return _cutoff(settings.API_LOGS_RETENTION_DAYS if older_than_days is None else older_than_days, now)


def _delete_in_batches(model: type[models.Model], expired: models.QuerySet, *, dry_run: bool) -> int:
    if dry_run:
        return expired.count()
    deleted = 0
    while True:
        with transaction.atomic():
            ids = list(expired.values_list("pk", flat=True)[:_BATCH])
            if not ids:
                return deleted
            count, _ = model._default_manager.filter(pk__in=ids).delete()
            deleted += count


def audit_entries_cleanup(
    *, older_than_days: int | None = None, dry_run: bool = False, now: dt.datetime | None = None
) -> int:
    """Delete entries created before the retention cutoff, in batches; returns how many (would) go."""
    cutoff = audit_cutoff(older_than_days=older_than_days, now=now)
    return _delete_in_batches(AuditLogEntry, AuditLogEntry.objects.filter(created_at__lt=cutoff), dry_run=dry_run)


def api_logs_cleanup(
    *, older_than_days: int | None = None, dry_run: bool = False, now: dt.datetime | None = None
) -> int:
    """Delete API logs of requests before the retention cutoff (`API_LOGS_RETENTION_DAYS`), in
    batches; returns how many (would) go. Safe to run twice or concurrently."""
    cutoff = api_logs_cutoff(older_than_days=older_than_days, now=now)
    return _delete_in_batches(ApiLogEntry, ApiLogEntry.objects.filter(logged_at__lt=cutoff), dry_run=dry_run)
