from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from audit.services import api_logs_cleanup, api_logs_cutoff


class Command(BaseCommand):
    help = "Delete API logs older than the retention period (API_LOGS_RETENTION_DAYS, 30 by default)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--older-than-days", type=int, default=None, help="Override API_LOGS_RETENTION_DAYS.")
        parser.add_argument("--dry-run", action="store_true", help="Count what would be deleted; delete nothing.")

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["older_than_days"]
        if days is not None and days < 0:
            raise CommandError("--older-than-days must not be negative")
        effective = settings.API_LOGS_RETENTION_DAYS if days is None else days
        cutoff = api_logs_cutoff(older_than_days=days)
        count = api_logs_cleanup(older_than_days=days, dry_run=options["dry_run"])
        verb = "would delete" if options["dry_run"] else "deleted"
        self.stdout.write(f"{verb} {count} API logs older than {effective} days (before {cutoff.isoformat()})")
