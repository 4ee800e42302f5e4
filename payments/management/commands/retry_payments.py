"""`manage.py retry_payments [--at ISO] [--dry-run]`: the retry sweep by hand (beat
`payments-retry-sweep`, every 10 minutes): due retries, attempts left pending, attempts to
reconcile with the provider, waiting provider events, pending refunds. `--dry-run` counts what each
would touch and changes nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

from billing_project.core.commands import JobCommand
from payments.services import collection, events, refunds


class Command(JobCommand):
    help = "Start the payment retries that are due and re-submit attempts left pending."

    def run(self, now: dt.datetime, *, dry_run: bool, organization: Any) -> None:
        if dry_run:
            self.stdout.write(
                f"dry run: {collection.payments_retry_candidates(now).count()} retry attempt(s) due, "
                f"{collection.payments_stale_pending(now).count()} pending attempt(s) to submit again, "
                f"{collection.payments_to_reconcile(now).count()} to reconcile, "
                f"{len(events.provider_events_due(now))} event(s), {refunds.refunds_pending(now).count()} refund(s)"
                " (nothing written)"
            )
            return
        started = collection.payments_retry_due(now)
        reconciled = collection.payments_reconcile(now)
        processed = events.provider_events_retry_due(now)
        resent = refunds.refunds_retry_pending(now)
        self.stdout.write(
            f"{len(started)} retry attempt(s), {reconciled} reconciled, {processed} event(s), {resent} refund(s)."
        )
