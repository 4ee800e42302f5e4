"""Run the webhook sweeper by hand: what beat runs every 5 minutes."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from billing_project.core.logging import redact_urls
from webhooks import selectors, services, tasks
from webhooks.models import DeliveryStatus, WebhookDelivery


class Command(BaseCommand):
    help = "Send the webhook deliveries that are due (retries, and deliveries whose on-commit hook was lost)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--dry-run", action="store_true", help="List what is due; send nothing.")
        parser.add_argument(
            "--inline", action="store_true", help="Attempt each delivery in this process instead of enqueuing."
        )
        parser.add_argument("--limit", type=int, default=500, help="At most this many deliveries (default 500).")

    def handle(self, *args: Any, dry_run: bool, inline: bool, limit: int, **options: Any) -> None:
        due = selectors.webhook_deliveries_due(timezone.now(), limit=limit)
        if dry_run:
            for delivery in WebhookDelivery.objects.filter(pk__in=due).order_by("next_attempt_at"):
                self.stdout.write(
                    f"{delivery.pk} {delivery.webhook_type} -> {redact_urls(delivery.webhook_url)} "
                    f"(attempts: {delivery.attempts_count}, due since {delivery.next_attempt_at:%04Y-%m-%dT%H:%M:%SZ})"
                )
            self.stdout.write(f"{len(due)} delivery(ies) due; nothing sent (dry run).")
            return
        if not inline:
            for delivery_id in due:
                tasks.webhook_deliver.delay(delivery_id)
            self.stdout.write(f"Enqueued {len(due)} delivery(ies).")
            return
        results = {DeliveryStatus.SUCCEEDED: 0, DeliveryStatus.PENDING: 0, DeliveryStatus.FAILED: 0}
        for delivery_id in due:
            attempted = services.webhook_delivery_attempt(delivery_id)
            if attempted is not None:
                results[DeliveryStatus(attempted.status)] += 1
        self.stdout.write(
            f"Attempted {sum(results.values())} delivery(ies): {results[DeliveryStatus.SUCCEEDED]} succeeded, "
            f"{results[DeliveryStatus.PENDING]} will be retried, {results[DeliveryStatus.FAILED]} failed for good."
        )
