import json

from django.core.management.base import BaseCommand, CommandError

from billing_project.core.api.permissions import read_only_permissions
from billing_project.core.errors import ValidationFailure
from customers.models import Organization
from customers.selectors import organization_find
from customers.services import api_key_create


class Command(BaseCommand):
    help = "Create another API key for an organization (by name or id) and print it once."

    def add_arguments(self, parser):
        parser.add_argument("organization", help="organization name or id")
        parser.add_argument("--name", default="")
        scope = parser.add_mutually_exclusive_group()
        scope.add_argument("--read-only", action="store_true", help="the key may only read (GET) every resource")
        scope.add_argument(
            "--permissions",
            metavar="JSON",
            help='Lago-style permissions, e.g. \'{"event": ["write"], "customer": ["read", "write"]}\'',
        )

    def handle(self, *args, **options):
        organization = find_organization(options["organization"])
        permissions = None
        if options["read_only"]:
            permissions = read_only_permissions()
        elif options["permissions"]:
            try:
                permissions = json.loads(options["permissions"])
            except ValueError as exc:
                raise CommandError(f"--permissions is not valid JSON: {exc}") from exc
        try:
            api_key, raw_key = api_key_create(organization, name=options["name"], permissions=permissions)
        except ValidationFailure as exc:
            raise CommandError(f"invalid permissions: {exc.details}") from exc
        self.stdout.write(f"API key {api_key.prefix} ({api_key.scope}) for {organization.name} (shown once): {raw_key}")


def find_organization(ref: str) -> Organization:
    """The organization a command names, by id or unambiguous name (`organization_find`); a
    CommandError otherwise (unknown, or several namesakes: their ids are listed)."""
    try:
        return organization_find(ref)
    except LookupError as exc:
        raise CommandError(str(exc)) from exc
