from django.apps import AppConfig


class UcpConfig(AppConfig):
    name = "ucp"
    verbose_name = "UCP (agentic commerce)"
