from django.apps import AppConfig


class UsageMonitoringConfig(AppConfig):
    """Usage alerts, lifetime usage and progressive billing (Lago's `usage_monitoring`)."""

    name = "usage_monitoring"
    verbose_name = "Usage monitoring"
