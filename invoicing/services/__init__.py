"""Invoicing services (writes). Each owns its transaction; see the modules for details.

* `lifecycle`: finalize, refresh, void, update, numbering, grace period and overdue jobs.
* `one_off`: one-off add-on invoices.
* `taxes`, `totals`: resolving taxes, the §6.1 totals on rows.

The billing run is its own package, `invoicing.billing`.
"""

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
    "document_prefix",
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
