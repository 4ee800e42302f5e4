from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from audit.services import audit_cutoff, audit_entries_cleanup


class Command(BaseCommand):
    help = "Delete audit log entries older than the retention period (AUDIT_RETENTION_DAYS, 1095 by default)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--older-than-days", type=int, default=None, help="Override AUDIT_RETENTION_DAYS.")
        parser.add_argument("--dry-run", action="store_true", help="Count what would be deleted; delete nothing.")

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["older_than_days"]
        if days is not None and days < 0:
            raise CommandError("--older-than-days must not be negative")
        effective = settings.AUDIT_RETENTION_DAYS if days is None else days
        cutoff = audit_cutoff(older_than_days=days)
        count = audit_entries_cleanup(older_than_days=days, dry_run=options["dry_run"])
        verb = "would delete" if options["dry_run"] else "deleted"
        self.stdout.write(f"{verb} {count} audit log entries older than {effective} days (before {cutoff.isoformat()})")
