from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "billing_project.core"
    label = "core"
    verbose_name = "bxb core"

    def ready(self) -> None:
        from billing_project.core import observability

        observability.connect()
