"""`manage.py retry_webhooks [--organization ID|NAME] [--endpoint ID] [--type invoice.created]
[--since ISO] [--limit N] [--dry-run]`

Failed webhook deliveries (the dead letter: every retry used up) put back in the queue in bulk,
once the receiver is fixed: each is sent again as a retry of the same delivery (same body, same
`X-Lago-Unique-Key`, so receivers drop what they already processed). Every organization unless one
is given; oldest first. `--dry-run` lists them (URLs shortened: they may carry tokens) and changes
nothing. Deliveries whose endpoint was deleted are left alone.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from billing_project.core.commands import ORGANIZATION_HELP, command_organization
from billing_project.core.logging import redact_urls
from billing_project.core.progress import Progress
from webhooks import selectors, services
from webhooks.models import WebhookEndpoint

CHUNK = 500


class Command(BaseCommand):
    help = "Send failed webhook deliveries again, in bulk (after the receiver was fixed)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--organization", help=ORGANIZATION_HELP)
        parser.add_argument("--endpoint", help="Only this webhook endpoint (its lago_id).")
        parser.add_argument("--type", dest="webhook_type", help="Only this webhook type, e.g. invoice.created.")
        parser.add_argument("--since", help="Only deliveries created since this ISO-8601 instant.")
        parser.add_argument("--limit", type=int, default=0, help="At most this many (default: all).")
        parser.add_argument("--dry-run", action="store_true", help="List them; send nothing.")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        organization = command_organization(options["organization"])
        endpoint = None
        if options["endpoint"]:
            try:
                endpoint = WebhookEndpoint.objects.filter(id=options["endpoint"]).first()
            except Exception as exc:  # not a UUID
                raise CommandError(f"--endpoint: not an endpoint id: {options['endpoint']!r}") from exc
            if endpoint is None:
                raise CommandError(f"--endpoint: no webhook endpoint {options['endpoint']!r}")
        since = None
        if options["since"]:
            from django.utils.dateparse import parse_datetime

            since = parse_datetime(options["since"].replace("Z", "+00:00"))
            if since is None:
                raise CommandError(f"--since: not a date: {options['since']!r}")
        failed = selectors.webhook_deliveries_failed(
            organization=organization,
            endpoint=endpoint,
            webhook_type=options["webhook_type"],
            since=since,
            limit=max(options["limit"], 0) or None,
        )
        if options["dry_run"]:
            count = 0
            for delivery in failed:
                count += 1
                self.stdout.write(
                    f"would retry {delivery.pk} {delivery.webhook_type} -> {redact_urls(delivery.webhook_url)} "
                    f"(attempts: {delivery.attempts_count}, created {delivery.created_at:%Y-%m-%dT%H:%M:%SZ}, "
                    f"last error: {delivery.last_error[:80] or delivery.last_http_status})"
                )
            self.stdout.write(f"dry run: {count} failed delivery(ies) would be sent again")
            return
        ids = [str(pk) for pk in failed.values_list("pk", flat=True)]
        progress = Progress(len(ids), "deliveries", stream=self.stderr, enabled=not options["no_progress"])
        queued = 0
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            queued += services.webhook_deliveries_retry(chunk)
            progress.advance(len(chunk))
        progress.done()
        self.stdout.write(f"{queued} failed delivery(ies) queued again")
