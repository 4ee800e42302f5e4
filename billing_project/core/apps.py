from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "billing_project.core"
    label = "core"
    verbose_name = "bxb core"

    def ready(self) -> None:
        from django.core import checks
        from django.core.signals import request_finished

        from billing_project.core import any_lookup

        any_lookup.register()  # `field__any=values` (billing_project/core/any_lookup.py)

        from billing_project.core import timestamps

        timestamps.connect()  # timestamptz values parsed in C (billing_project/core/timestamps.py)

        from billing_project.core.secret_key import check_secret_key

        checks.register(check_secret_key, deploy=True)

        from billing_project.core.metrics import check_metrics_token

        checks.register(check_metrics_token, deploy=True)

        from billing_project.core import logging as bxb_logging
        from billing_project.core import observability

        observability.connect()
        request_finished.connect(bxb_logging.clear_context, dispatch_uid="bxb_clear_log_context")

        from django.db.models.signals import pre_migrate

        pre_migrate.connect(_migrations_without_statement_timeout, dispatch_uid="bxb_migrate_no_timeout")


def _migrations_without_statement_timeout(using: str = "default", **kwargs: object) -> None:
    """A migration may build an index for longer than DATABASE_STATEMENT_TIMEOUT_MS: its session
    has no limit (sent once per app; idempotent)."""
    from django.db import connections

    connection = connections[using]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET statement_timeout = 0")
