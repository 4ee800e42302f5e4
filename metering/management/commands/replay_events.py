import json
import sys
import time
from decimal import Decimal

from django.core.management.base import BaseCommand, CommandError

from metering import ingestion, services
from metering.management.commands._common import find_organization


class Command(BaseCommand):
    help = (
        "Replay or backfill events from a JSON-lines file (one event object per line, Lago's fields). "
        "Idempotent: events already stored are counted as duplicates, never stored twice."
    )

    def add_arguments(self, parser):
        parser.add_argument("organization", help="organization name or id")
        parser.add_argument("path", help="JSON-lines file, or - for stdin")
        parser.add_argument("--batch-size", type=int, default=1000)
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, **options):
        organization = find_organization(options["organization"])
        size = options["batch_size"]
        if not 1 <= size <= services.batch_max_length():
            raise CommandError(f"--batch-size must be between 1 and {services.batch_max_length()}")
        stream = sys.stdin if options["path"] == "-" else open(options["path"], encoding="utf-8")  # noqa: SIM115
        counts = {"lines": 0, "stored": 0, "duplicates": 0, "rejected": 0}
        started = time.monotonic()
        show = not options["no_progress"]
        batch: list[dict] = []
        now = ingestion.now_utc()

        def flush() -> None:
            if not batch:
                return
            result = services.events_ingest(organization, batch)
            counts["stored"] += len(result.events)
            counts["duplicates"] += len(result.duplicates)
            batch.clear()
            if show:
                rate = counts["lines"] / max(time.monotonic() - started, 1e-6)
                self.stderr.write(
                    f"\r{counts['lines']:,} lines  {counts['stored']:,} stored  {counts['duplicates']:,} duplicates  "
                    f"{counts['rejected']:,} rejected  {rate:,.0f} lines/s",
                    ending="",
                )

        try:
            for number, line in enumerate(stream, start=1):
                if not line.strip():
                    continue
                counts["lines"] += 1
                try:
                    payload = json.loads(line, parse_float=Decimal)
                except ValueError:
                    payload = None
                _, errors = (
                    ingestion.parse_event(0, payload, now)
                    if payload is not None
                    else (None, {"line": ["invalid_json"]})
                )
                if errors:
                    counts["rejected"] += 1
                    self.stderr.write(f"\nline {number}: rejected {errors}")
                    continue
                batch.append(payload)
                if len(batch) >= size:
                    flush()
            flush()
        finally:
            if stream is not sys.stdin:
                stream.close()
        if show:
            self.stderr.write("")
        self.stdout.write(
            f"{counts['lines']} lines: {counts['stored']} stored, {counts['duplicates']} duplicates, "
            f"{counts['rejected']} rejected"
        )
