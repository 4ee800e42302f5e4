from django.core.management.base import BaseCommand, CommandError

from catalog.models import BillableMetric
from metering.aggregation import aggregate
from metering.management.commands._common import find_organization, parse_moment


class Command(BaseCommand):
    help = "Print a subscription's usage of one metric over [--from, --to)."

    def add_arguments(self, parser):
        parser.add_argument("organization", help="organization name or id")
        parser.add_argument("subscription", help="external subscription id")
        parser.add_argument("metric", help="billable metric code")
        parser.add_argument("--from", dest="from_", required=True)
        parser.add_argument("--to", required=True)
        parser.add_argument("--started-at", help="subscription start (events before it never count)")
        parser.add_argument("--group-by", action="append", default=[], help="a property to group by (repeatable)")
        parser.add_argument("--raw", action="store_true", help="read raw events, not rollups")

    def handle(self, *args, **options):
        organization = find_organization(options["organization"])
        metric = BillableMetric.live.filter(organization=organization, code=options["metric"]).first()
        if metric is None:
            raise CommandError(f"no billable metric {options['metric']!r}")
        result = aggregate(
            organization,
            external_subscription_id=options["subscription"],
            metric=metric,
            from_datetime=parse_moment(options["from_"], "from"),
            to_datetime=parse_moment(options["to"], "to"),
            grouped_by=options["group_by"],
            subscription_started_at=parse_moment(options["started_at"], "started-at")
            if options["started_at"]
            else None,
            use_rollups=not options["raw"],
        )
        self.stdout.write(f"metric {metric.code} ({metric.aggregation_type}), source: {result.source}")
        self.stdout.write(f"units: {result.units}")
        self.stdout.write(f"events: {result.events_count}")
        if result.precise_total_amount_cents:
            self.stdout.write(f"precise_total_amount_cents: {result.precise_total_amount_cents}")
        for group in result.groups:
            self.stdout.write(f"  {dict(group.grouped_by)}: units {group.units}, events {group.events_count}")
