"""`admin.site` of bxb: Django's admin site with the finance home as its index and the console's
own pages (aging, billing runs), each behind `console_view`'s permission check."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import path

from billing_project.core.console import console_view


class ConsoleSite(admin.AdminSite):
    site_header = "bxb finance console"
    site_title = "bxb console"
    index_title = "Everything in the console"

    def get_urls(self) -> list[Any]:
        from console import views

        pages = (  # (path under console/, view, permission needed, url name)
            ("aging/", views.aging_view, "invoicing.view_invoice", "console_aging"),
            ("billing-runs/", views.billing_runs_view, "invoicing.view_billingrun", "console_billing_runs"),
            ("billing-runs/start/", views.billing_run_start_view, "invoicing.add_invoice", "console_billing_run_start"),
            (
                "billing-runs/<uuid:run_id>/retry/",
                views.billing_run_retry_view,
                "invoicing.add_invoice",
                "console_billing_run_retry",
            ),
        )
        return [
            *(
                path(f"console/{route}", console_view(self, view, permission=permission), name=name)
                for route, view, permission, name in pages
            ),
            *super().get_urls(),
        ]

    def index(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        """The finance home for staff who may read invoices; Django's app index for the others."""
        from console import views

        if request.user.has_perm("invoicing.view_invoice"):
            return views.home_view(self, request, extra_context)
        return super().index(request, extra_context)
