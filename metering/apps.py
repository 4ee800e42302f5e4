from django.apps import AppConfig


class MeteringConfig(AppConfig):
    name = "metering"

    def ready(self) -> None:
        from django.core import checks

        from metering import lookups
        from metering.extensions import check_lookups_registered

        lookups.connect()
        checks.register(check_lookups_registered)
