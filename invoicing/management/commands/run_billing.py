"""The billing run by hand: `run_billing [--date 2024-03-01 | --at ISO] [--organization ID] [--dry-run]`.

Does what the hourly beat sweep does, in this process, with a progress bar: every customer with
something due at that instant (in its timezone) gets its invoices, billed in batches of
`--batch-size` customers (one transaction each, as the `invoicing.bill_customers` task does).
Customers that fail are listed and recorded on the run; the others are billed. Safe to run twice.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from customers.models import Organization
from invoicing.services import runs


def _progress(done: int, total: int, started: float, out: Any) -> None:
    width = 30
    filled = int(width * done / total) if total else width
    rate = done / max(time.monotonic() - started, 1e-9)
    out.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} customers  {rate:,.1f}/s")
    out.flush()


class Command(BaseCommand):
    help = "Bill every customer whose billing day has come (as the hourly beat sweep does)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--date", help="Bill as of the end of this UTC day (YYYY-MM-DD).")
        parser.add_argument("--at", help="Bill as of this ISO-8601 instant (default: now).")
        parser.add_argument("--organization", help="Only this organization (id or name).")
        parser.add_argument("--dry-run", action="store_true", help="Show what is due; bill nothing.")
        parser.add_argument("--no-progress", action="store_true")
        parser.add_argument(
            "--batch-size", type=int, default=runs.BATCH_SIZE, help="Customers per transaction (default %(default)s)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        at = self._instant(options)
        organization = None
        if options["organization"]:
            value = options["organization"]
            organization = (
                Organization.objects.filter(name=value).first()
                or Organization.objects.filter(id=value if len(value) == 36 else None).first()
            )
            if organization is None:
                raise CommandError(f"unknown organization {value!r}")
        run, due = runs.billing_run_start(at, organization=organization, trigger="command", dry_run=options["dry_run"])
        self.stdout.write(
            f"billing run {run.id} at {at.isoformat()}: {len(due)} customers, {sum(due.values())} subscriptions due"
        )
        if options["dry_run"] or not due:
            return
        started = time.monotonic()
        created = done = 0
        show = not options["no_progress"]
        for batch in runs.batches(list(due), options["batch_size"]):
            created += runs.billing_run_batch(run.id, batch, at=at)
            done += len(batch)
            if show:
                _progress(done, len(due), started, sys.stdout)
        runs.billing_run_finish(run.id)
        run.refresh_from_db()
        failed = run.customers_failed
        for failure in run.failures:
            self.stderr.write(f"\ncustomer {failure.get('external_id')} ({failure['customer_id']}): {failure['error']}")
        if show:
            self.stdout.write("")
        elapsed = time.monotonic() - started
        self.stdout.write(f"{created} invoices created, {failed} customers failed, in {elapsed:.1f}s")

    def _instant(self, options: dict[str, Any]) -> dt.datetime:
        if options["date"]:
            try:
                day = dt.date.fromisoformat(options["date"])
            except ValueError as exc:
                raise CommandError(f"--date: not a date: {options['date']}") from exc
            return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC) - dt.timedelta(seconds=1)
        if options["at"]:
            try:
                value = dt.datetime.fromisoformat(options["at"].replace("Z", "+00:00"))
            except ValueError as exc:
                raise CommandError(f"--at: not a date: {options['at']}") from exc
            return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return timezone.now()
