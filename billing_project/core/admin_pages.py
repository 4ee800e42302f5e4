"""Pieces the finance console's admin pages repeat: a money column, and a document's PDF route.

class InvoiceAdmin(PdfAdminMixin, admin.ModelAdmin):
    pdf_kwarg = "invoice_id"
    total = money_column("total_amount_cents", "total", ordering="total_amount_cents")

    def pdf_document(self, request, pk):  # the document (with its `file` and `number`), or a 404 response
        ...
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.http import FileResponse, HttpRequest, HttpResponse
from django.urls import URLPattern, path

from billing_project.core.console import console_view
from billing_project.core.money import format_amount


def money_column(
    cents: str, description: str, *, currency: str = "currency", ordering: str | None = None
) -> Callable[[Any, Any], str]:
    """An admin column showing the amount at attribute `cents` in the currency at `currency`
    (dotted paths, e.g. `"wallet.currency"`), formatted with its currency."""
    amount_of, currency_of = operator.attrgetter(cents), operator.attrgetter(currency)

    @admin.display(description=description, ordering=ordering)
    def column(modeladmin: Any, obj: Any) -> str:
        return format_amount(amount_of(obj), currency_of(obj))

    return column


def pdf_response(request: HttpRequest, document: Any) -> FileResponse:
    """A generated document's PDF (`<number>.pdf`), inline unless `?download=1`."""
    return FileResponse(
        document.file.open("rb"),
        content_type="application/pdf",
        filename=f"{document.number}.pdf",
        as_attachment=request.GET.get("download") == "1",
    )


class PdfAdminMixin:
    """An admin page's `<uuid:<pdf_kwarg>>/pdf/` route, named `<app>_<model>_pdf` and open to who may
    view the model: the PDF of `pdf_document(request, pk)`, or the response it returns instead (404)."""

    pdf_kwarg = "object_id"
    model: Any
    admin_site: admin.AdminSite

    def get_urls(self) -> list[URLPattern]:
        opts = self.model._meta
        view = console_view(self.admin_site, self.pdf_view, permission=f"{opts.app_label}.view_{opts.model_name}")
        return [
            path(f"<uuid:{self.pdf_kwarg}>/pdf/", view, name=f"{opts.app_label}_{opts.model_name}_pdf"),
            *super().get_urls(),  # type: ignore[misc]
        ]

    def pdf_view(self, request: HttpRequest, **kwargs: Any) -> Any:  # FileResponse, or the 404 response
        document = self.pdf_document(request, kwargs[self.pdf_kwarg])
        return document if isinstance(document, HttpResponse) else pdf_response(request, document)

    def pdf_document(self, request: HttpRequest, pk: Any) -> Any:
        raise NotImplementedError
