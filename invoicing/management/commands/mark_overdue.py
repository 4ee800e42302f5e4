"""`manage.py mark_overdue [--at ISO] [--organization ID|NAME] [--dry-run] [--no-progress]`

The beat entry `invoicing-mark-overdue` by hand: finalized, unpaid invoices whose payment due date
has passed become `payment_overdue` (and `invoice.payment_overdue` is sent), with progress on
stderr. `--dry-run` lists them and writes nothing. Safe to run twice.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from billing_project.core.commands import JobCommand
from invoicing.models import Invoice
from invoicing.services import lifecycle


class Command(JobCommand):
    help = "Mark finalized, unpaid invoices past their payment due date as overdue (the beat job, by hand)."
    dry_run_help = "List the invoices; change nothing."
    organization_option = progress_option = True

    def run(self, now: dt.datetime, *, dry_run: bool, organization: Any) -> None:
        due = lifecycle.invoices_overdue_due(now, organization=organization)
        if dry_run:
            for number, due_date, total, currency in Invoice.objects.filter(id__in=due).values_list(
                "number", "payment_due_date", "total_amount_cents", "currency"
            ):
                self.stdout.write(f"would mark overdue {number} (due {due_date}, {total} {currency})")
            self.stdout.write(f"dry run: {len(due)} invoice(s) overdue (nothing written)")
            return
        marked = sum(
            lifecycle.invoice_mark_overdue(invoice_id, now=now)
            for invoice_id in self.with_progress(due, len(due), "invoices")
        )
        self.stdout.write(f"{marked} invoice(s) marked overdue")
