from django.apps import AppConfig


class EntitlementsConfig(AppConfig):
    """Features, privileges and plan/subscription entitlements (Lago's `Entitlement::*`; docs/entitlements.md)."""

    name = "entitlements"
    verbose_name = "Entitlements"
