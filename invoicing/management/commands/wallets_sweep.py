"""`manage.py wallets_sweep [--at ISO] [--dry-run]`: what the hourly beat job does, by hand.

Terminates expired wallets (their credits voided), runs recurring top-up rules that are due
(interval) or triggered (threshold), and refreshes ongoing balances.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from billing_project.core.commands import JobCommand
from invoicing.credits.services import wallet_rules, wallets


class Command(JobCommand):
    help = "Terminate expired wallets, run recurring top-ups and refresh ongoing balances."
    dry_run_help = "Only list what is due."

    def run(self, now: dt.datetime, *, dry_run: bool, organization: Any) -> None:
        expired = wallets.wallets_terminate_expired(now, dry_run=dry_run)
        rules = wallet_rules.wallets_recurring_top_up(now, dry_run=dry_run)
        refreshed = 0 if dry_run else wallets.wallets_refresh_ongoing_balances(now)
        verb = "would be" if dry_run else "were"
        self.stdout.write(
            f"{len(expired)} expired wallet(s) {verb} terminated, {len(rules)} top-up rule(s) {verb} run, "
            f"{refreshed} ongoing balance(s) refreshed"
        )
