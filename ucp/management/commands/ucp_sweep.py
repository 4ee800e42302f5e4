"""`manage.py ucp_sweep [--at ISO] [--dry-run]`: beat `ucp-order-events-sweep` by hand — order-event
webhooks that are due are sent (one attempt each), idempotency records older than 48 hours are
deleted. `--dry-run` counts them and changes nothing."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from invoicing.management.commands.run_billing import parse_instant
from ucp import idempotency
from ucp.models import IdempotencyRecord
from ucp.services import orders


class Command(BaseCommand):
    help = "Send the UCP order-event webhooks that are due and forget expired idempotency keys."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--at", help="Run as of this ISO datetime (UTC when naive).")
        parser.add_argument("--dry-run", action="store_true", help="Count what is due; change nothing.")

    def handle(self, *args: Any, **options: Any) -> None:
        now = parse_instant(options.get("at"), "--at")
        due = orders.order_events_due(now)
        if options.get("dry_run"):
            expired = IdempotencyRecord.objects.filter(created_at__lt=now - idempotency.KEEP).count()
            self.stdout.write(f"dry run: {len(due)} order event(s) due, {expired} idempotency record(s) expired")
            return
        delivered = sum(orders.order_event_deliver(event_id, now=now).delivered_at is not None for event_id in due)
        purged = idempotency.purge(now)
        self.stdout.write(
            f"{len(due)} order event(s) sent, {delivered} delivered; {purged} idempotency record(s) deleted."
        )
