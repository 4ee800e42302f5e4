"""Installs the console's customer and invoice pages in place of their apps' admins.

`customers` and `invoicing` cannot import what their pages show (payments, wallets, alerts, the
audit log: higher layers), so the console, the top layer, registers subclasses of their admins
that add it. Called once, from `ConsoleAdminConfig.ready()`, after every app's admin.py.
"""

from __future__ import annotations

from django.contrib import admin

from console.customer_page import ConsoleCustomerAdmin
from console.invoice_page import ConsoleInvoiceAdmin
from customers.models import Customer
from invoicing.models import Invoice


def install(site: admin.AdminSite) -> None:
    for model, console_admin in ((Customer, ConsoleCustomerAdmin), (Invoice, ConsoleInvoiceAdmin)):
        if isinstance(site._registry.get(model), console_admin):
            continue
        if site.is_registered(model):
            site.unregister(model)
        site.register(model, console_admin)
