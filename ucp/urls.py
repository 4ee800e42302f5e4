"""Mounted at /ucp/ by billing_project/urls.py: each organization's UCP business at /ucp/<slug>/."""

from __future__ import annotations

from django.urls import path

from ucp import views

urlpatterns = [
    path("<slug:slug>/.well-known/ucp", views.well_known, name="ucp-well-known"),
    path("<slug:slug>/payment-handlers/<str:code>", views.payment_handler_spec, name="ucp-payment-handler"),
]
