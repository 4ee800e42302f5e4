"""The usage sweep by hand: `evaluate_usage [--subscription EXT --organization ID] [--all] [--dry-run]`.

Without options it does what the per-minute beat sweep does: every subscription ingestion marked
and no task evaluated since is evaluated now (alerts, lifetime usage, progressive billing).
`--subscription` forces one subscription; `--all` forces every active subscription that has alerts
or usage thresholds. Safe to run twice: crossings and applied thresholds are unique.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from customers.management.commands.create_api_key import find_organization
from customers.models import Organization
from usage_monitoring import selectors
from usage_monitoring.services import evaluation


class Command(BaseCommand):
    help = "Evaluate usage alerts and progressive-billing thresholds (as the per-minute sweep does)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--subscription", help="External id of one subscription (with --organization).")
        parser.add_argument("--organization", help="Organization id, or a name no other organization has.")
        parser.add_argument("--all", action="store_true", help="Every monitored active subscription.")
        parser.add_argument("--dry-run", action="store_true", help="List what would be evaluated.")

    def handle(self, *args: Any, **options: Any) -> None:
        organization = self._organization(options.get("organization"))
        if options.get("subscription"):
            if organization is None:
                raise CommandError("--subscription needs --organization")
            targets = [(organization.id, options["subscription"])]
            force = True
        elif options.get("all"):
            targets = selectors.monitored_subscriptions(organization)
            force = True
        else:
            targets = [t for t in evaluation.activities_due() if organization is None or t[0] == organization.id]
            force = False
        if options.get("dry_run"):
            for organization_id, external_id in targets:
                self.stdout.write(f"{organization_id} {external_id}")
            self.stdout.write(f"{len(targets)} subscription(s) would be evaluated")
            return
        evaluated = 0
        for organization_id, external_id in targets:
            org = Organization.objects.get(id=organization_id)
            if evaluation.subscription_evaluate(org, external_subscription_id=external_id, force=force) is not None:
                evaluated += 1
        self.stdout.write(self.style.SUCCESS(f"{evaluated} subscription(s) evaluated"))

    def _organization(self, value: str | None) -> Organization | None:
        return find_organization(value) if value else None
