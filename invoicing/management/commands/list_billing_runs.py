"""`manage.py list_billing_runs [--limit 20] [--status failed] [--organization ID|NAME] [--run ID]`.

The recent billing runs, newest first, one line each (when, up to when, trigger, status, customers
due, invoices created, customers failed and missing, retries, duration). `--run ID` shows one run
with every recorded failure (customer, error) and the customers of the batches that never
reported. Reads only.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from customers.management.commands.create_api_key import find_organization
from invoicing.models import BillingRun, BillingRunStatus


def _duration(run: BillingRun) -> str:
    end = run.finished_at or timezone.now()
    return f"{(end - run.created_at).total_seconds():.1f}s"


class Command(BaseCommand):
    help = "List the recent billing runs and their failures (read-only)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--limit", type=int, default=20)
        parser.add_argument("--status", choices=[s.value for s in BillingRunStatus])
        parser.add_argument("--organization", help="Only runs of this organization (id, or a name no other has).")
        parser.add_argument("--run", help="One run, with its failures and missing customers.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["run"]:
            try:
                run = BillingRun.objects.select_related("organization").filter(id=options["run"]).first()
            except Exception as exc:  # not a UUID
                raise CommandError(f"--run: not a run id: {options['run']!r}") from exc
            if run is None:
                raise CommandError(f"no billing run {options['run']!r}")
            self._detail(run)
            return
        runs = BillingRun.objects.select_related("organization").order_by("-created_at")
        if options["status"]:
            runs = runs.filter(status=options["status"])
        if options["organization"]:
            runs = runs.filter(organization=find_organization(options["organization"]))
        shown = 0
        for run in runs[: max(options["limit"], 1)]:
            shown += 1
            self.stdout.write(
                f"{run.id} {run.created_at:%Y-%m-%d %H:%M:%S} at={run.at:%Y-%m-%dT%H:%M:%SZ} {run.trigger:<8} "
                f"{run.status:<10} org={run.organization.name if run.organization else '*'} "
                f"due={run.customers_due} invoices={run.invoices_created} failed={run.customers_failed} "
                f"missing={run.customers_missing} batches={run.batches_reported}/{run.batches_total} "
                f"retries={run.retries} {_duration(run)}"
            )
        self.stdout.write(f"{shown} run(s)")

    def _detail(self, run: BillingRun) -> None:
        for label, value in (
            ("run", run.id),
            ("organization", f"{run.organization.name} ({run.organization_id})" if run.organization else "all"),
            ("trigger", run.trigger),
            ("billed up to", run.at.isoformat()),
            ("status", run.status),
            ("customers due", run.customers_due),
            ("subscriptions due", run.subscriptions_due),
            ("invoices created", run.invoices_created),
            ("batches reported", f"{run.batches_reported}/{run.batches_total}"),
            ("customers failed", run.customers_failed),
            ("customers missing", run.customers_missing),
            ("retries", run.retries),
            ("oldest due", run.oldest_due_at.isoformat() if run.oldest_due_at else "-"),
            ("started", run.created_at.isoformat()),
            ("finished", run.finished_at.isoformat() if run.finished_at else "-"),
        ):
            self.stdout.write(f"{label:>18}: {value}")
        for failure in run.failures:
            self.stdout.write(f"failed  {failure.get('external_id')} ({failure['customer_id']}): {failure['error']}")
        for customer_id in run.missing:
            self.stdout.write(f"missing {customer_id}")
        if run.customers_missing > len(run.missing):
            self.stdout.write(f"... and {run.customers_missing - len(run.missing)} more missing")
