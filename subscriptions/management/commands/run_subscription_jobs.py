"""Run the periodic subscription jobs by hand: `run_subscription_jobs --job activations --at 2024-03-01T00:00Z`."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from subscriptions import jobs
from subscriptions.services.common import parse_instant


class Command(BaseCommand):
    help = "Activate due subscriptions and scheduled downgrades, end trials, apply ending_at, send termination alerts."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--job", choices=[*jobs.JOBS, "all"], default="all")
        parser.add_argument("--at", help="Run as of this ISO-8601 instant (default: now).")
        parser.add_argument("--dry-run", action="store_true", help="List what is due; change nothing.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            at = parse_instant(options["at"]) if options["at"] else timezone.now()
        except ValueError as exc:
            raise CommandError(f"--at: not a date: {options['at']}") from exc
        assert at is not None
        names = list(jobs.JOBS) if options["job"] == "all" else [options["job"]]
        for name in names:
            ids = jobs.run(name, at, dry_run=options["dry_run"])
            verb = "due" if options["dry_run"] else "processed"
            self.stdout.write(f"{name}: {len(ids)} {verb}")
            for subscription_id in ids:
                self.stdout.write(f"  {subscription_id}")
