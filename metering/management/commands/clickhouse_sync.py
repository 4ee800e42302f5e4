from django.core.management.base import BaseCommand, CommandError

from metering import clickhouse, services
from metering.clickhouse import store
from metering.management.commands._common import find_organization, parse_moment
from metering.models import ClickHouseOutbox


class Command(BaseCommand):
    help = (
        "Replay pending events (the outbox) to ClickHouse; with --backfill, first queue an organization's "
        "stored events again (e.g. a range ClickHouse lost). The copy that lets aggregation read ClickHouse "
        "is `clickhouse_backfill`."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--backfill", metavar="ORGANIZATION", help="queue this organization's events again (name or id)"
        )
        parser.add_argument("--from", dest="from_", help="with --backfill: events from this ISO date/datetime")
        parser.add_argument("--to", help="with --backfill: events before this ISO date/datetime")
        parser.add_argument(
            "--settle",
            action="store_true",
            help="then settle the store of record's inserts older than a minute (what the beat does every minute)",
        )

    def handle(self, *args, **options):
        if not clickhouse.enabled():
            raise CommandError("CLICKHOUSE_URL is not set")
        if options["backfill"]:
            organization = find_organization(options["backfill"])
            queued = services.clickhouse_events_requeue(
                organization,
                from_datetime=parse_moment(options["from_"], "from") if options["from_"] else None,
                to_datetime=parse_moment(options["to"], "to") if options["to"] else None,
            )
            self.stdout.write(f"queued {queued} events of {organization.name}")
        total = 0
        while True:
            written = clickhouse.clickhouse_flush()
            if not written:
                break
            total += written
        pending = ClickHouseOutbox.objects.count()
        self.stdout.write(f"wrote {total} events to ClickHouse; {pending} outbox batches pending")
        if options["settle"]:
            settled = store.clickhouse_settle()
            self.stdout.write(
                f"settled {settled.inserts} inserts up to {settled.upto or 'no new moment'}; "
                f"{settled.orphans} of a transaction that did not commit"
            )
