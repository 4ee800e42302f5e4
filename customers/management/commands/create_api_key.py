from django.core.management.base import BaseCommand, CommandError

from customers.models import Organization
from customers.services import api_key_create


class Command(BaseCommand):
    help = "Create another API key for an organization (by name or id) and print it once."

    def add_arguments(self, parser):
        parser.add_argument("organization", help="organization name or id")
        parser.add_argument("--name", default="")

    def handle(self, *args, **options):
        organization = find_organization(options["organization"])
        api_key, raw_key = api_key_create(organization, name=options["name"])
        self.stdout.write(f"API key {api_key.prefix} for {organization.name} (shown once): {raw_key}")


def find_organization(ref: str) -> Organization:
    matches = list(Organization.objects.filter(name=ref)[:2])
    if not matches:
        try:
            matches = list(Organization.objects.filter(id=ref)[:1])
        except Exception:  # noqa: BLE001 - not a UUID
            matches = []
    if not matches:
        raise CommandError(f"no organization named or with id {ref!r}")
    if len(matches) > 1:
        raise CommandError(f"several organizations are named {ref!r}; use the id")
    return matches[0]
