"""Mounted at /ucp/ by billing_project/urls.py: each organization's UCP business at /ucp/<slug>/."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.urls import URLPattern, path

from ucp import views


def _business(route: str, view: Callable[..., Any], name: str) -> URLPattern:
    """`/ucp/<slug>/<route>`, named `ucp-<name>`."""
    return path(f"<slug:slug>/{route}", view, name=f"ucp-{name}")


urlpatterns = [
    _business(".well-known/ucp", views.well_known, "well-known"),
    _business("payment-handlers/<str:code>", views.payment_handler_spec, "payment-handler"),
    _business("payment-handlers/<str:code>/schema.json", views.payment_handler_schema, "payment-handler-schema"),
    _business("catalog/search", views.catalog_search, "catalog-search"),
    _business("catalog/lookup", views.catalog_lookup, "catalog-lookup"),
    _business("catalog/product", views.catalog_product, "catalog-product"),
    _business("checkout-sessions", views.checkout_sessions, "checkout-sessions"),
    _business("checkout-sessions/<str:checkout_id>", views.checkout_session, "checkout-session"),
    _business("checkout-sessions/<str:checkout_id>/complete", views.checkout_complete, "checkout-complete"),
    _business("checkout-sessions/<str:checkout_id>/cancel", views.checkout_cancel, "checkout-cancel"),
    _business("orders/<str:order_id>", views.order_detail, "order"),
]
