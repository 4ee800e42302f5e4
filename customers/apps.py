from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sync_groups(sender, **kwargs):
    from django.apps import apps
    from django.contrib.auth.models import Group, Permission

    # post_migrate fires once per app; act once, after the last app has its permissions.
    if sender.label != list(apps.get_app_configs())[-1].label:
        return

    from customers.roles import sync_staff_groups

    sync_staff_groups(Group, Permission)


class CustomersConfig(AppConfig):
    name = "customers"
    verbose_name = "Customers and organizations"

    def ready(self) -> None:
        from django.core import checks

        from billing_project.core.hooks import hooks_check
        from customers import hooks

        checks.register(hooks_check("customers", hooks.ALL))
        # Permissions of models added later are given to the staff groups after each migrate.
        post_migrate.connect(_sync_groups, dispatch_uid="customers.sync_staff_groups")
        # Admin modules are imported by django.contrib.admin's ready(), which runs first.
        from django.contrib import admin

        from customers.roles import require_declared_action_permissions

        require_declared_action_permissions(admin.site)

        # The API key cache (customers/auth.py) forgets everything when a key or an organization
        # is saved or deleted in this process: a revoked key is refused on its next request here.
        from django.db.models.signals import post_delete, post_save

        from customers.auth import forget_all
        from customers.models import ApiKey, Organization

        for model in (ApiKey, Organization):
            post_save.connect(forget_all, sender=model, dispatch_uid=f"customers.auth_cache.save.{model.__name__}")
            post_delete.connect(forget_all, sender=model, dispatch_uid=f"customers.auth_cache.delete.{model.__name__}")
