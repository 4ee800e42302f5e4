"""`manage.py run_dunning [--dry-run] [--at ISO] [--organization ID|NAME]`: one dunning pass by hand."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from customers.management.commands.create_api_key import find_organization
from payments.services.dunning import dunning_run


class Command(BaseCommand):
    help = "Create the payment requests dunning campaigns call for (the daily beat job, by hand)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Show what would be requested; change nothing.")
        parser.add_argument("--at", help="Run as of this ISO datetime (UTC when naive).")
        parser.add_argument("--organization", help="Only this organization (id, or a name no other has).")

    def handle(self, *args: Any, **options: Any) -> None:
        now = None
        if options.get("at"):
            try:
                now = dt.datetime.fromisoformat(options["at"])
            except ValueError as exc:
                raise CommandError(f"--at: {exc}") from exc
            if now.tzinfo is None:
                now = now.replace(tzinfo=dt.UTC)
        organization = find_organization(options["organization"]) if options.get("organization") else None
        done = dunning_run(now, dry_run=options["dry_run"], organization=organization)
        verb = "would request" if options["dry_run"] else "requested"
        for entry in done:
            self.stdout.write(
                f"{verb} {entry['amount_cents']} {entry['currency']} from customer {entry['customer_id']} "
                f"(campaign {entry['campaign']}, attempt {entry['attempt']})"
            )
        self.stdout.write(f"{len(done)} payment request(s) {verb}.")
