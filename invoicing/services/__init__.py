"""Invoicing services (writes). Each owns its transaction; see the modules for details.

* `billing`: the billing run (`customer_bill`, `billing_due_customers`, `due_items`).
* `lifecycle`: finalize, refresh, void, update, numbering, grace period and overdue jobs.
* `one_off`: one-off add-on invoices.
* `fees`, `taxes`, `totals`: building fees, resolving taxes, the §6.1 totals on rows.
"""

from invoicing.services.billing import billing_due_customers, customer_bill, due_items
from invoicing.services.lifecycle import (
    document_prefix,
    invoice_finalize,
    invoice_finalize_if_due,
    invoice_mark_paid,
    invoice_refresh,
    invoice_update,
    invoice_void,
    invoices_finalize_due,
    invoices_mark_overdue,
)
from invoicing.services.one_off import invoice_create_one_off

__all__ = [
    "billing_due_customers",
    "customer_bill",
    "document_prefix",
    "due_items",
    "invoice_create_one_off",
    "invoice_finalize",
    "invoice_finalize_if_due",
    "invoice_mark_paid",
    "invoice_refresh",
    "invoice_update",
    "invoice_void",
    "invoices_finalize_due",
    "invoices_mark_overdue",
]
