from django.core.management.base import BaseCommand, CommandError

from billing_project.core.errors import ValidationFailure
from customers.services import organization_create


class Command(BaseCommand):
    help = "Create an organization (tenant) and print its first API key (shown once)."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--currency", default="USD")
        parser.add_argument("--timezone", default="UTC")

    def handle(self, *args, **options):
        try:
            organization, raw_key = organization_create(
                options["name"], default_currency=options["currency"], timezone_name=options["timezone"]
            )
        except ValidationFailure as exc:
            raise CommandError(f"invalid organization: {exc.details}") from exc
        self.stdout.write(f"Organization: {organization.name} ({organization.id})")
        self.stdout.write(f"API key (shown once): {raw_key}")
