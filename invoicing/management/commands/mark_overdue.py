"""`manage.py mark_overdue [--at ISO] [--organization ID|NAME] [--dry-run] [--no-progress]`

The beat entry `invoicing-mark-overdue` by hand: finalized, unpaid invoices whose payment due date
has passed become `payment_overdue` (and `invoice.payment_overdue` is sent), with progress on
stderr. `--dry-run` lists them and writes nothing. Safe to run twice.
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
    help = "Mark finalized, unpaid invoices past their payment due date as overdue (the beat job, by hand)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--at", help="As of this ISO-8601 instant (default: now).")
        parser.add_argument("--organization", help="Only this organization (id, or a name no other has).")
        parser.add_argument("--dry-run", action="store_true", help="List the invoices; change nothing.")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        now = parse_instant(options["at"], "--at")
        organization = find_organization(options["organization"]) if options["organization"] else None
        due = lifecycle.invoices_overdue_due(now, organization=organization)
        if options["dry_run"]:
            for number, due_date, total, currency in Invoice.objects.filter(id__in=due).values_list(
                "number", "payment_due_date", "total_amount_cents", "currency"
            ):
                self.stdout.write(f"would mark overdue {number} (due {due_date}, {total} {currency})")
            self.stdout.write(f"dry run: {len(due)} invoice(s) overdue (nothing written)")
            return
        progress = Progress(len(due), "invoices", stream=self.stderr, enabled=not options["no_progress"])
        marked = 0
        for invoice_id in due:
            marked += lifecycle.invoice_mark_overdue(invoice_id, now=now)
            progress.advance()
        progress.done()
        self.stdout.write(f"{marked} invoice(s) marked overdue")
