from django.core.management.base import BaseCommand, CommandError

from customers.models import Organization
from metering import services
from metering.management.commands._common import find_organization, parse_moment


class Command(BaseCommand):
    help = "Rebuild the hourly usage rollups (and event values) of [--from, --to) from raw events."

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="from_", required=True, help="ISO date or datetime (UTC)")
        parser.add_argument("--to", required=True, help="ISO date or datetime (UTC), exclusive")
        parser.add_argument("--organization", help="organization name or id (default: every organization)")
        parser.add_argument("--code", help="only this metric code")
        parser.add_argument("--subscription", help="only this external subscription id")

    def handle(self, *args, **options):
        start, end = parse_moment(options["from_"], "from"), parse_moment(options["to"], "to")
        if start >= end:
            raise CommandError("--from must be before --to")
        organizations = (
            [find_organization(options["organization"])] if options["organization"] else Organization.objects.all()
        )
        for organization in organizations:
            stats = services.usage_rollups_rebuild(
                organization,
                from_datetime=start,
                to_datetime=end,
                code=options["code"],
                external_subscription_id=options["subscription"],
            )
            links = f", {stats['unique_links']} unique-count links" if "unique_links" in stats else ""
            self.stdout.write(
                f"{organization.name}: {stats['events']} events, {stats['values_updated']} values updated, "
                f"{stats['rollups']} rollup rows{links}"
            )
