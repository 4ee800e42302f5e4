import time

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from billing_project.core.progress import Progress
from customers.models import Organization
from metering.clickhouse import backfill, store
from metering.management.commands._common import (
    add_organizations_option,
    check_copy_options,
    find_organization,
    parse_moment,
)
from metering.models import ClickHouseBackfill, ClickHouseBackfillStatus

Status = ClickHouseBackfillStatus


def describe(row: ClickHouseBackfill | None) -> str:
    if row is None:
        return "not started"
    scope = f"events from {row.from_timestamp.isoformat()}" if row.from_timestamp else "all events"
    text = f"{row.status} ({scope}; {row.events_copied:,} copied"
    if row.verified_events is not None:
        text += f"; {row.verified_events:,} verified"
    text += ")"
    if row.last_error:
        text += f"; last check: {row.last_error}"
    return text


class Command(BaseCommand):
    help = (
        "Copy the events stored before ClickHouse was switched on (the backfill; the beat task "
        "metering-clickhouse-backfill runs the same every minute). Until an organization's backfill "
        "is complete and its counts match, its usage is read from PostgreSQL. Idempotent and resumable: "
        "a second run continues where the first stopped; copies are de-duplicated by ClickHouse."
    )

    def add_arguments(self, parser):
        add_organizations_option(parser, "name or id (repeatable); default: all")
        parser.add_argument(
            "--from",
            dest="from_",
            help="only events dated from this ISO date/datetime (older ones are always read from PostgreSQL)",
        )
        parser.add_argument("--restart", action="store_true", help="walk again from the start (also after `failed`)")
        parser.add_argument("--batch-size", type=int, default=backfill.BATCH_SIZE)
        parser.add_argument(
            "--dry-run", action="store_true", help="show each backfill and what it would copy; writes nothing"
        )
        parser.add_argument("--no-progress", action="store_true")
        parser.add_argument(
            "--wait",
            action="store_true",
            help="after walking, wait for CLICKHOUSE_BACKFILL_SETTLE_SECONDS to pass and compare the counts "
            "(else the beat task or a later run does it)",
        )

    def handle(self, *args, **options):
        check_copy_options(options)
        from_timestamp = parse_moment(options["from_"], "from") if options["from_"] else None
        if options["organization"]:
            organizations = [find_organization(ref) for ref in options["organization"]]
        else:
            organizations = list(Organization.objects.order_by("name", "id"))
        self.stdout.write(f"ClickHouse {store.target()}: {len(organizations)} organizations")
        unfinished: list[str] = []
        self.waiting: list[str] = []
        for organization in organizations:
            label = f"{organization.name} ({organization.id})"
            if options["dry_run"]:
                row = backfill.backfill_of(organization)
                todo = backfill.events_to_copy(organization, row, from_timestamp=from_timestamp)
                action = (
                    "nothing to copy"
                    if row is not None and row.status == Status.COMPLETE
                    else f"would walk {todo:,} events"
                )
                self.stdout.write(f"{label}: {describe(row)}; {action}")
                continue
            try:
                row = self._run(organization, label, from_timestamp, options)
            except Exception as exc:  # noqa: BLE001 - reported per organization; the next run resumes
                self.stderr.write(f"{label}: stopped by {type(exc).__name__}: {exc} (run again to resume)")
                unfinished.append(label)
                continue
            self.stdout.write(f"{label}: {describe(row)}")
            if row is None or row.status == Status.FAILED or (row.status == Status.RUNNING and not self._settling(row)):
                unfinished.append(label)
        for line in self.waiting:
            self.stdout.write(line)
        if self.waiting:
            self.stdout.write(
                "counts are compared CLICKHOUSE_BACKFILL_SETTLE_SECONDS after a backfill starts (every process must "
                "have CLICKHOUSE_URL by then); the beat task does it, or run again with --wait"
            )
        if options["dry_run"]:
            self.stdout.write("dry run: nothing written")
        elif unfinished:
            raise CommandError(f"not complete: {', '.join(unfinished)} (docs/operations.md, ClickHouse backfill)")

    @staticmethod
    def _settling(row: ClickHouseBackfill) -> bool:
        return timezone.now() < backfill.settles_at(row)

    def _run(self, organization, label, from_timestamp, options):
        row = backfill.clickhouse_backfill_start(
            organization, from_timestamp=from_timestamp, restart=options["restart"]
        )
        if row.status != Status.RUNNING:
            return row
        show = not options["no_progress"]
        total = backfill.events_to_copy(organization, row, from_timestamp=from_timestamp) if show else 0
        if show:
            self.stderr.write(f"{label}: walking {total:,} events")
        progress = Progress(total, "events", stream=self.stderr, enabled=show)

        def on_batch(batch: backfill.Batch) -> None:
            progress.advance(batch.events)

        for _ in range(backfill.MAX_SCANS + 1):
            scans = row.scans
            row = backfill.clickhouse_backfill_run(organization, batch_size=options["batch_size"], on_batch=on_batch)
            if row.status != Status.RUNNING:
                break
            settles_at = backfill.settles_at(row)
            if timezone.now() < settles_at:
                if not options["wait"]:
                    self.waiting.append(f"{label}: walked; counts compared from {settles_at.isoformat()}")
                    break
                self.stderr.write(f"{label}: walked; waiting until {settles_at.isoformat()} to compare counts")
                time.sleep(max(0.0, (settles_at - timezone.now()).total_seconds()) + 0.5)
                continue
            if row.scans == scans:
                self.stderr.write(f"{label}: another process is copying it; not waiting")
                break
            progress.done()
            self.stderr.write(f"{label}: {row.last_error}; walking again")
            progress = Progress(
                backfill.events_to_copy(organization, row, from_timestamp=None) if show else 0,
                "events",
                stream=self.stderr,
                enabled=show,
            )
        progress.done()
        return row
