"""`manage.py finalize_drafts [--at ISO] [--organization ID|NAME] [--dry-run] [--no-progress]`

The beat entry `invoicing-finalize-drafts` by hand: drafts whose grace period has ended are
refreshed and finalized (numbers, `invoice.created`, PDF, payment), oldest due first, with progress on
stderr. `--dry-run` lists them and writes nothing. Safe to run twice (a finalized draft is skipped).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from billing_project.core.progress import Progress
from customers.management.commands.create_api_key import find_organization
from invoicing.management.commands.run_billing import parse_instant
from invoicing.models import Invoice
from invoicing.services import lifecycle


class Command(BaseCommand):
    help = "Finalize the drafts whose grace period has ended (the hourly beat job, by hand)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--at", help="As of this ISO-8601 instant (default: now).")
        parser.add_argument("--organization", help="Only this organization (id, or a name no other has).")
        parser.add_argument("--dry-run", action="store_true", help="List the drafts; finalize nothing.")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        now = parse_instant(options["at"], "--at")
        organization = find_organization(options["organization"]) if options["organization"] else None
        due = [invoice_id for invoice_id, _ in lifecycle.invoices_finalize_due(now, organization=organization)]
        if options["dry_run"]:
            for invoice_id, customer, finalize_at in (
                Invoice.objects.filter(id__in=due)
                .order_by("finalize_at")
                .values_list("id", "customer__external_id", "finalize_at")
            ):
                self.stdout.write(
                    f"would finalize draft {invoice_id} of customer {customer} (due {finalize_at.isoformat()})"
                )
            self.stdout.write(f"dry run: {len(due)} draft(s) to finalize (nothing written)")
            return
        progress = Progress(len(due), "drafts", stream=self.stderr, enabled=not options["no_progress"])
        finalized = failed = 0
        for invoice_id in due:
            try:
                finalized += lifecycle.invoice_finalize_if_due(invoice_id, now=now) is not None
            except Exception as exc:  # noqa: BLE001 - listed; the others go on
                failed += 1
                self.stderr.write(f"draft {invoice_id}: {exc!r}")
            progress.advance()
        progress.done()
        self.stdout.write(f"{finalized} draft(s) finalized, {failed} failed")
