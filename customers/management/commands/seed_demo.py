from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from customers.demo import seed_demo


def is_local_database() -> bool:
    return settings.DATABASES["default"]["ENGINE"].endswith("sqlite3")


class Command(BaseCommand):
    help = "Create (or refresh) the demo organization, its API key and demo data. Idempotent."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="allow seeding when DEBUG is off")

    def handle(self, *args, **options):
        if not settings.DEBUG and not options["force"] and not is_local_database():
            raise CommandError("seed_demo creates a well-known API key; pass --force to run it on this database")
        organization, raw_key, lines = seed_demo()
        self.stdout.write(f"Demo organization: {organization.name} ({organization.id})")
        for line in lines:
            self.stdout.write(f"  {line}")
        self.stdout.write(f"Demo API key: {raw_key}")
        self.stdout.write(f"Try: curl -H 'Authorization: Bearer {raw_key}' http://127.0.0.1:8000/api/v1/customers")
