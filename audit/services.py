"""Audit log retention."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.models import AuditLogEntry

_BATCH = 5000


def audit_cutoff(*, older_than_days: int | None = None, now: dt.datetime | None = None) -> dt.datetime:
    days = settings.AUDIT_RETENTION_DAYS if older_than_days is None else older_than_days
    if days < 0:
        raise ValueError("older_than_days must not be negative")
    return (now or timezone.now()) - dt.timedelta(days=days)


def audit_entries_cleanup(
    *, older_than_days: int | None = None, dry_run: bool = False, now: dt.datetime | None = None
) -> int:
    """Delete entries created before the retention cutoff, in batches; returns how many (would) go."""
    cutoff = audit_cutoff(older_than_days=older_than_days, now=now)
    expired = AuditLogEntry.objects.filter(created_at__lt=cutoff)
    if dry_run:
        return expired.count()
    deleted = 0
    while True:
        with transaction.atomic():
            ids = list(expired.values_list("pk", flat=True)[:_BATCH])
            if not ids:
                return deleted
            count, _ = AuditLogEntry.objects.filter(pk__in=ids).delete()
            deleted += count
