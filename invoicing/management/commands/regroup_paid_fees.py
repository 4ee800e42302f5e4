"""`manage.py regroup_paid_fees [--at ISO] [--dry-run]`: what the hourly beat job does, by hand.

Paid, uninvoiced pay-in-advance fees of `regroup_paid_fees: "invoice"` charges are grouped on an
`advance_charges` invoice (already paid) at the end of their period, one per customer and day.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from invoicing.management.commands.run_billing import parse_instant
from invoicing.services.advance import paid_fees_regroup, paid_fees_regroup_due


class Command(BaseCommand):
    help = "Group paid pay-in-advance fees (regroup_paid_fees: invoice) on their period-end invoice."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--at", help="The instant to run for (ISO 8601, UTC if naive); default now.")
        parser.add_argument("--dry-run", action="store_true", help="Only list the customers concerned.")

    def handle(self, *args: Any, **options: Any) -> None:
        at = parse_instant(options.get("at"), "--at")
        customers = paid_fees_regroup_due(at)
        if options.get("dry_run"):
            self.stdout.write(f"{len(customers)} customer(s) have paid fees waiting to be regrouped")
            return
        created = sum(len(paid_fees_regroup(customer_id, at=at)) for customer_id in customers)
        self.stdout.write(f"{created} invoice(s) created for {len(customers)} customer(s)")
