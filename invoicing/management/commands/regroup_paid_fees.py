"""`manage.py regroup_paid_fees [--at ISO] [--dry-run]`: what the hourly beat job does, by hand.

Paid, uninvoiced pay-in-advance fees of `regroup_paid_fees: "invoice"` charges are grouped on an
`advance_charges` invoice (already paid) at the end of their period, one per customer and day.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from billing_project.core.commands import JobCommand
from invoicing.services.advance import paid_fees_regroup, paid_fees_regroup_due


class Command(JobCommand):
    help = "Group paid pay-in-advance fees (regroup_paid_fees: invoice) on their period-end invoice."
    dry_run_help = "Only list the customers concerned."

    def run(self, now: dt.datetime, *, dry_run: bool, organization: Any) -> None:
        customers = paid_fees_regroup_due(now)
        if dry_run:
            self.stdout.write(f"{len(customers)} customer(s) have paid fees waiting to be regrouped")
            return
        created = sum(len(paid_fees_regroup(customer_id, at=now)) for customer_id in customers)
        self.stdout.write(f"{created} invoice(s) created for {len(customers)} customer(s)")
