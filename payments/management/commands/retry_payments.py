"""`manage.py retry_payments [--at ISO]`: the retry sweep by hand (due retries, stale attempts,
waiting provider events, pending refunds)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand

from payments.services import collection, events, refunds


class Command(BaseCommand):
    help = "Start the payment retries that are due and re-submit attempts left pending."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--at", help="Run as of this ISO datetime (UTC when naive).")

    def handle(self, *args: Any, **options: Any) -> None:
        now = None
        if options.get("at"):
            now = dt.datetime.fromisoformat(options["at"])
            if now.tzinfo is None:
                now = now.replace(tzinfo=dt.UTC)
        started = collection.payments_retry_due(now)
        reconciled = collection.payments_reconcile(now)
        processed = events.provider_events_retry_due(now)
        resent = refunds.refunds_retry_pending(now)
        self.stdout.write(
            f"{len(started)} retry attempt(s), {reconciled} reconciled, {processed} event(s), {resent} refund(s)."
        )
