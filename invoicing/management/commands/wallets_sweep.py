"""`manage.py wallets_sweep [--at ISO] [--dry-run]`: what the hourly beat job does, by hand.

Terminates expired wallets (their credits voided), runs recurring top-up rules that are due
(interval) or triggered (threshold), and refreshes ongoing balances.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from invoicing.credits.services import wallet_rules, wallets
from invoicing.management.commands.run_billing import parse_instant


class Command(BaseCommand):
    help = "Terminate expired wallets, run recurring top-ups and refresh ongoing balances."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--at", help="The instant to run for (ISO 8601, UTC if naive); default now.")
        parser.add_argument("--dry-run", action="store_true", help="Only list what is due.")

    def handle(self, *args: Any, **options: Any) -> None:
        now = parse_instant(options.get("at"), "--at")
        dry_run = bool(options.get("dry_run"))
        expired = wallets.wallets_terminate_expired(now, dry_run=dry_run)
        rules = wallet_rules.wallets_recurring_top_up(now, dry_run=dry_run)
        refreshed = 0 if dry_run else wallets.wallets_refresh_ongoing_balances(now)
        verb = "would be" if dry_run else "were"
        self.stdout.write(
            f"{len(expired)} expired wallet(s) {verb} terminated, {len(rules)} top-up rule(s) {verb} run, "
            f"{refreshed} ongoing balance(s) refreshed"
        )
