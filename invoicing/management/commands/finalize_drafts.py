"""`manage.py finalize_drafts [--at ISO] [--organization ID|NAME] [--dry-run] [--no-progress]`

The beat entry `invoicing-finalize-drafts` by hand: drafts whose grace period has ended are
refreshed and finalized (numbers, `invoice.created`, PDF, payment), oldest due first, with progress on
stderr. `--dry-run` lists them and writes nothing. Safe to run twice (a finalized draft is skipped).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from billing_project.core.commands import JobCommand
from invoicing.models import Invoice
from invoicing.services import lifecycle


class Command(JobCommand):
    help = "Finalize the drafts whose grace period has ended (the hourly beat job, by hand)."
    dry_run_help = "List the drafts; finalize nothing."
    organization_option = progress_option = True

    def run(self, now: dt.datetime, *, dry_run: bool, organization: Any) -> None:
        due = [invoice_id for invoice_id, _ in lifecycle.invoices_finalize_due(now, organization=organization)]
        if dry_run:
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
        finalized = failed = 0
        for invoice_id in self.with_progress(due, len(due), "drafts"):
            try:
                finalized += lifecycle.invoice_finalize_if_due(invoice_id, now=now) is not None
            except Exception as exc:  # noqa: BLE001 - listed; the others go on
                failed += 1
                self.stderr.write(f"draft {invoice_id}: {exc!r}")
        self.stdout.write(f"{finalized} draft(s) finalized, {failed} failed")
