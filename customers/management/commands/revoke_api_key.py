from django.core.management.base import BaseCommand, CommandError

from customers.models import ApiKey
from customers.services import api_key_revoke, hash_api_key


class Command(BaseCommand):
    help = "Revoke an API key, given its public prefix or the full key."

    def add_arguments(self, parser):
        parser.add_argument("key", help="the key's prefix (as shown in the admin) or the full key")

    def handle(self, *args, **options):
        ref = options["key"]
        api_key = ApiKey.objects.filter(prefix=ref).first() or ApiKey.objects.filter(key_hash=hash_api_key(ref)).first()
        if api_key is None:
            raise CommandError("no such API key")
        if api_key.revoked_at is not None:
            self.stdout.write(
                f"API key {api_key.prefix} was already revoked at {api_key.revoked_at:%Y-%m-%d %H:%M:%S}Z"
            )
            return
        api_key_revoke(api_key)
        self.stdout.write(f"Revoked API key {api_key.prefix} of {api_key.organization.name}")
