from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "billing_project.core"
    label = "core"
    verbose_name = "bxb core"
