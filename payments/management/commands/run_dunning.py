"""`manage.py run_dunning [--dry-run] [--at ISO] [--organization ID|NAME]`: one dunning pass by hand."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from customers.management.commands.create_api_key import find_organization
from invoicing.management.commands.run_billing import parse_instant
from payments.services.dunning import dunning_run


class Command(BaseCommand):
    help = "Create the payment requests dunning campaigns call for (the daily beat job, by hand)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Show what would be requested; change nothing.")
        parser.add_argument("--at", help="Run as of this ISO datetime (UTC when naive).")
        parser.add_argument("--organization", help="Only this organization (id, or a name no other has).")

    def handle(self, *args: Any, **options: Any) -> None:
        now = parse_instant(options["at"], "--at") if options.get("at") else None
        organization = find_organization(options["organization"]) if options.get("organization") else None
        done = dunning_run(now, dry_run=options["dry_run"], organization=organization)
        verb = "would request" if options["dry_run"] else "requested"
        for entry in done:
            self.stdout.write(
                f"{verb} {entry['amount_cents']} {entry['currency']} from customer {entry['customer_id']} "
                f"(campaign {entry['campaign']}, attempt {entry['attempt']})"
            )
        self.stdout.write(f"{len(done)} payment request(s) {verb}.")
