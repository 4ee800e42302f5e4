"""What the two retention clean-ups (`audit_cleanup`, `api_logs_cleanup`) share: `--older-than-days`
overrides the retention setting, `--dry-run` counts, and the line written names the cutoff."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class RetentionCleanupCommand(BaseCommand):
    setting = ""  # the retention setting, in days
    rows = ""  # what is deleted, as the output line names it
    cutoff: Callable[..., dt.datetime]  # (older_than_days=) -> the instant before which rows go
    cleanup: Callable[..., int]  # (older_than_days=, dry_run=) -> rows deleted (or that would be)

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--older-than-days", type=int, default=None, help=f"Override {self.setting}.")
        parser.add_argument("--dry-run", action="store_true", help="Count what would be deleted; delete nothing.")

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["older_than_days"]
        if days is not None and days < 0:
            raise CommandError("--older-than-days must not be negative")
        effective = getattr(settings, self.setting) if days is None else days
        cutoff = self.cutoff(older_than_days=days)
        count = self.cleanup(older_than_days=days, dry_run=options["dry_run"])
        verb = "would delete" if options["dry_run"] else "deleted"
        self.stdout.write(f"{verb} {count} {self.rows} older than {effective} days (before {cutoff.isoformat()})")
