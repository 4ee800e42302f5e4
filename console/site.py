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

        return [
            path(
                "console/aging/",
                console_view(self, views.aging_view, permission="invoicing.view_invoice"),
                name="console_aging",
            ),
            path(
                "console/billing-runs/",
                console_view(self, views.billing_runs_view, permission="invoicing.view_billingrun"),
                name="console_billing_runs",
            ),
            path(
                "console/billing-runs/start/",
                console_view(self, views.billing_run_start_view, permission="invoicing.add_invoice"),
                name="console_billing_run_start",
            ),
            path(
                "console/billing-runs/<uuid:run_id>/retry/",
                console_view(self, views.billing_run_retry_view, permission="invoicing.add_invoice"),
                name="console_billing_run_retry",
            ),
            *super().get_urls(),
        ]

    def index(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        """The finance home for staff who may read invoices; Django's app index for the others."""
        from console import views

        if request.user.has_perm("invoicing.view_invoice"):
            return views.home_view(self, request, extra_context)
        return super().index(request, extra_context)
