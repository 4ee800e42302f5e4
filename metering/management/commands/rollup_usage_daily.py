from datetime import UTC, datetime, timedelta

from django.core.management.base import BaseCommand

from metering import services
from metering.management.commands._common import parse_moment


class Command(BaseCommand):
    help = "The daily rollup job: rebuild yesterday's (or --date's) hourly rollups from raw events."

    def add_arguments(self, parser):
        parser.add_argument("--date", help="UTC day to rebuild (default: yesterday)")
        parser.add_argument("--dry-run", action="store_true", help="list the organizations, change nothing")

    def handle(self, *args, **options):
        if options["date"]:
            day = parse_moment(options["date"], "date")
        else:
            day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
        organizations = services.organizations_with_events(day, day + timedelta(days=1))
        if options["dry_run"]:
            for organization in organizations:
                self.stdout.write(f"would rebuild {day:%Y-%m-%d} for {organization.name}")
            return
        total = services.usage_rollups_daily(day)
        self.stdout.write(f"{day:%Y-%m-%d}: rebuilt the rollups of {total} organizations")
