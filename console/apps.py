"""The finance console: Django's admin site with a finance home, the customer page as the centre of
the work, the invoice as a document with its buttons, aging and billing runs (docs/console.md).

`ConsoleAdminConfig` replaces `django.contrib.admin` in INSTALLED_APPS so that `admin.site` is the
`ConsoleSite`; the `console` app itself is listed first so its templates (`admin/base_site.html`)
come before Django's. It is the top layer: it may import every app, none imports it.
"""

from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class ConsoleConfig(AppConfig):
    default = True
    name = "console"
    verbose_name = "Finance console"


class ConsoleAdminConfig(admin_apps.AdminConfig):
    default = False
    default_site = "console.site.ConsoleSite"

    def ready(self) -> None:
        super().ready()  # imports every app's admin.py
        from console.pages import install

        install(self.module.site)  # the customer and invoice pages, with what other apps hold
