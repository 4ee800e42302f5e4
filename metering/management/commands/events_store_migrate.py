import time

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from customers.models import Organization
from metering.clickhouse import backfill, migrate
from metering.management.commands._common import add_organizations_option, check_copy_options, find_organization
from metering.models import EventsStoreMigrationStatus


class Command(BaseCommand):
    help = (
        "Move organizations' events to ClickHouse as their store of record: copy the stored events "
        "(the ClickHouse backfill, checkpointed) and their idempotency keys, switch ingestion and "
        "aggregation to ClickHouse, then copy what processes still wrote to PostgreSQL. Resumable: "
        "run it again and it continues where it stopped (docs/operations.md, Switching the events store)."
    )

    def add_arguments(self, parser):
        add_organizations_option(parser, "name or id (repeatable)")
        parser.add_argument("--all", action="store_true", help="every organization still on PostgreSQL")
        parser.add_argument("--batch-size", type=int, default=backfill.BATCH_SIZE, help="events per copied batch")
        parser.add_argument(
            "--settle-seconds",
            type=float,
            default=None,
            help="after the switch, how long processes may still write PostgreSQL (default: API_KEY_CACHE_SECONDS + 25)",
        )
        parser.add_argument(
            "--wait",
            action="store_true",
            help="wait for the backfill's verification (CLICKHOUSE_BACKFILL_SETTLE_SECONDS) instead of stopping",
        )
        parser.add_argument("--status", action="store_true", help="show each organization's store; change nothing")

    def handle(self, *args, **options):
        check_copy_options(options)
        if options["organization"]:
            organizations = [find_organization(ref) for ref in options["organization"]]
        elif options["all"] or options["status"]:
            organizations = list(Organization.objects.order_by("name", "id"))
            if not options["status"]:
                organizations = [o for o in organizations if o.events_store != "clickhouse"]
        else:
            raise CommandError("name --organization (repeatable) or --all")
        unfinished = []
        for organization in organizations:
            label = f"{organization.name} ({organization.id})"
            if options["status"]:
                row = migrate.migration_of(organization)
                state = f"; migration {row.status}" if row is not None else ""
                self.stdout.write(f"{label}: {organization.events_store}{state}")
                continue
            try:
                row = self._migrate(organization, label, options)
            except migrate.NotReady as exc:
                self.stdout.write(f"{label}: not yet: {exc}")
                unfinished.append(label)
                continue
            except Exception as exc:  # noqa: BLE001 - reported per organization; the next run resumes
                self.stderr.write(f"{label}: stopped by {type(exc).__name__}: {exc} (run again to resume)")
                unfinished.append(label)
                continue
            self.stdout.write(f"{label}: {row.status}, store clickhouse ({row.keys_copied:,} keys copied)")
        if unfinished:
            raise CommandError(f"not complete: {', '.join(unfinished)}")

    def _migrate(self, organization, label, options):
        def report(step: migrate.Step) -> None:
            if step.phase == "switched":
                self.stderr.write(f"{label}: switched to ClickHouse")
            elif step.done:
                self.stderr.write(f"{label}: {step.phase} +{step.done:,}")

        for _ in range(1000):
            try:
                return migrate.events_store_migrate(
                    organization,
                    batch_size=options["batch_size"],
                    settle_seconds=options["settle_seconds"],
                    report=report,
                )
            except migrate.NotReady:
                row = backfill.backfill_of(organization)
                migration = migrate.migration_of(organization)
                copying = migration is None or migration.status == EventsStoreMigrationStatus.COPYING
                if not (options["wait"] and copying and row is not None and row.status == "running"):
                    raise
                until = backfill.settles_at(row)
                self.stderr.write(f"{label}: copied; waiting until {until.isoformat()} to compare counts")
                time.sleep(max(1.0, (until - timezone.now()).total_seconds() + 0.5))
        raise migrate.NotReady("gave up waiting")
