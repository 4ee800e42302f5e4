"""The billing run by hand: `run_billing [--date 2024-03-01 | --at ISO] [--organization ID|NAME] [--dry-run]`.

Does what the hourly beat sweep does, in this process, with progress on stderr: every customer with
something due at that instant (in its timezone) gets its invoices, billed in batches of
`--batch-size` customers (one transaction each, as the `invoicing.bill_customers` task does), and
the run is recorded (admin: Billing runs; `list_billing_runs`). Customers that fail are listed and
recorded on the run; the others are billed. Safe to run twice.

`--dry-run` writes nothing: it lists the customers that are due (external id, subscriptions due,
since when) and the totals.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from billing_project.core.commands import parse_instant
from billing_project.core.progress import Progress
from customers.management.commands.create_api_key import find_organization
from customers.models import Customer
from invoicing.billing import runs
from invoicing.models import BillingRunBatch


class Command(BaseCommand):
    help = "Bill every customer whose billing day has come (as the hourly beat sweep does)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--date", help="Bill as of the end of this UTC day (YYYY-MM-DD).")
        parser.add_argument("--at", help="Bill as of this ISO-8601 instant (default: now).")
        parser.add_argument("--organization", help="Only this organization (id, or a name no other organization has).")
        parser.add_argument("--dry-run", action="store_true", help="List what is due; bill and write nothing.")
        parser.add_argument("--no-progress", action="store_true")
        parser.add_argument(
            "--batch-size", type=int, default=runs.BATCH_SIZE, help="Customers per transaction (default %(default)s)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        at = self._instant(options)
        organization = find_organization(options["organization"]) if options["organization"] else None
        if options["dry_run"]:
            self._dry_run(at, organization)
            return
        run, due = runs.billing_run_start(
            at, organization=organization, trigger="command", batch_size=options["batch_size"]
        )
        self.stdout.write(
            f"billing run {run.id} at {at.isoformat()}: {len(due)} customers, {sum(due.values())} subscriptions due"
        )
        if not due:
            return
        started = time.monotonic()
        created = 0
        progress = Progress(len(due), "customers", stream=self.stderr, enabled=not options["no_progress"])
        for batch in BillingRunBatch.objects.filter(run=run).order_by("position"):
            created += runs.billing_run_batch(run.id, batch.customer_ids, at=at, batch_id=batch.id)
            progress.advance(len(batch.customer_ids))
        progress.done()
        run = runs.billing_run_finish(run.id) or run
        for failure in run.failures:
            self.stderr.write(f"customer {failure.get('external_id')} ({failure['customer_id']}): {failure['error']}")
        elapsed = time.monotonic() - started
        self.stdout.write(
            f"{created} invoices created, {run.customers_failed} customers failed, in {elapsed:.1f}s ({run.status})"
        )

    def _dry_run(self, at: dt.datetime, organization: Any) -> None:
        plan = runs.billing_run_plan(at, organization=organization)
        names = dict(Customer.objects.filter(id__in=list(plan.due)).values_list("id", "external_id"))
        for customer_id, due in sorted(plan.due.items(), key=lambda item: (item[1].oldest, str(item[0]))):
            self.stdout.write(
                f"would bill customer {names.get(customer_id)} ({customer_id}): "
                f"{due.subscriptions} subscription(s), due since {due.oldest.isoformat()}"
            )
        self.stdout.write(
            f"dry run at {at.isoformat()}: {plan.customers} customers, {plan.subscriptions} subscriptions due"
            " (nothing written)"
        )

    def _instant(self, options: dict[str, Any]) -> dt.datetime:
        if options["date"]:
            try:
                day = dt.date.fromisoformat(options["date"])
            except ValueError as exc:
                raise CommandError(f"--date: not a date: {options['date']}") from exc
            return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC) - dt.timedelta(seconds=1)
        return parse_instant(options["at"], "--at")
