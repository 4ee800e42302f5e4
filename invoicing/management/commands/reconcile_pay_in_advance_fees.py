"""`manage.py reconcile_pay_in_advance_fees [--at ISO] [--lookback-days N] [--organization ID|NAME]
[--retry-failed] [--dry-run]`: what the beat job `invoicing-pay-in-advance-reconcile` does, in the
foreground.

Events of pay-in-advance charges that have no fee (an outage, a lost task) are billed now, each in
its own usage window, exactly as after ingestion. Events already recorded as failed
(`pay_in_advance_fee_failed`) are priced again only with `--retry-failed` (after fixing the charge).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from customers.management.commands.create_api_key import find_organization
from customers.models import Organization
from invoicing.management.commands.run_billing import parse_instant
from invoicing.services.advance import (
    pay_in_advance_fees,
    pay_in_advance_reconcile_due,
    reconcile_lookback,
)


class Command(BaseCommand):
    help = "Bill the pay-in-advance events that have no fee (the reconciliation sweep, by hand)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--at", help="The instant to run for (ISO 8601, UTC if naive); default now.")
        parser.add_argument("--lookback-days", type=int, help="How far back to look (default: the setting, 35).")
        parser.add_argument("--organization", help="Only this organization (id, or a name no other has).")
        parser.add_argument("--retry-failed", action="store_true", help="Also price events recorded as failed.")
        parser.add_argument("--dry-run", action="store_true", help="Only list the subscriptions concerned.")

    def handle(self, *args: Any, **options: Any) -> None:
        at = parse_instant(options.get("at"), "--at")
        days = options.get("lookback_days")
        if days is not None and days < 0:
            raise CommandError("--lookback-days must be 0 or more")
        lookback = dt.timedelta(days=days) if days is not None else reconcile_lookback()
        organization = find_organization(options["organization"]) if options.get("organization") else None
        retry = bool(options.get("retry_failed"))
        due = pay_in_advance_reconcile_due(at, lookback=lookback, organization=organization, retry_failed=retry)
        for organization_id, external_ids in due.items():
            self.stdout.write(f"{organization_id}: {', '.join(external_ids)}")
        if options.get("dry_run"):
            self.stdout.write(f"{sum(len(v) for v in due.values())} subscription(s) have events without a fee")
            return
        fees = 0
        for organization_id, external_ids in due.items():
            org = Organization.objects.get(id=organization_id)
            fees += len(
                pay_in_advance_fees(
                    org, external_subscription_ids=external_ids, now=at, since=at - lookback, retry_failed=retry
                )
            )
        self.stdout.write(f"{fees} fee(s) created for {sum(len(v) for v in due.values())} subscription(s)")
