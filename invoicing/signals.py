"""Signals the invoicing app sends to the apps above it in the layering (payments).

They are sent inside the transaction that made the change; receivers only enqueue work with
`transaction.on_commit` (docs/architecture.md) and hold no business rules.

invoice_finalized   an invoice was finalized (status `finalized`, numbered). Carries `invoice`
                    and `organization`. Payments collects it from the customer's saved method.
invoices_finalized  the same invoices again, together: once per organization for a billing batch's
                    invoices (`billing.writer`), once with one invoice for an invoice finalized
                    alone. Carries `invoices` (a list) and `organization`. For receivers whose work
                    is cheaper per batch than per invoice (UCP looks up the orders of all of them
                    in one task).
credit_note_refund_requested
                    a credit note with a refund part was created (`refund_status` pending).
                    Carries `credit_note` and `organization`. Payments refunds it through the
                    provider that took the payment and settles it (`credit_note_refund_settle`).
credit_note_created a credit note was issued. Carries `credit_note` and `organization`. Payments
                    e-mails it to the customer when the organization has `credit_note.created`
                    in its `email_settings`.
"""

from django.dispatch import Signal

invoice_finalized = Signal()
invoices_finalized = Signal()
credit_note_refund_requested = Signal()
credit_note_created = Signal()
