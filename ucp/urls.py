"""Mounted at /ucp/ by billing_project/urls.py: each organization's UCP business at /ucp/<slug>/."""

from __future__ import annotations

from django.urls import path

from ucp import views

urlpatterns = [
    path("<slug:slug>/.well-known/ucp", views.well_known, name="ucp-well-known"),
    path("<slug:slug>/payment-handlers/<str:code>", views.payment_handler_spec, name="ucp-payment-handler"),
    path(
        "<slug:slug>/payment-handlers/<str:code>/schema.json",
        views.payment_handler_schema,
        name="ucp-payment-handler-schema",
    ),
    path("<slug:slug>/catalog/search", views.catalog_search, name="ucp-catalog-search"),
    path("<slug:slug>/catalog/lookup", views.catalog_lookup, name="ucp-catalog-lookup"),
    path("<slug:slug>/catalog/product", views.catalog_product, name="ucp-catalog-product"),
    path("<slug:slug>/checkout-sessions", views.checkout_sessions, name="ucp-checkout-sessions"),
    path("<slug:slug>/checkout-sessions/<str:checkout_id>", views.checkout_session, name="ucp-checkout-session"),
    path(
        "<slug:slug>/checkout-sessions/<str:checkout_id>/complete",
        views.checkout_complete,
        name="ucp-checkout-complete",
    ),
    path("<slug:slug>/checkout-sessions/<str:checkout_id>/cancel", views.checkout_cancel, name="ucp-checkout-cancel"),
    path("<slug:slug>/orders/<str:order_id>", views.order_detail, name="ucp-order"),
]
