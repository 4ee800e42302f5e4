"""The seam between invoice finalization and credits (credit notes, wallets).

`totals.compute` (finalize context, subscription and progressive invoices) locks the customer's
available credit notes and active wallets (`credit_notes_for_invoice`, `wallets_for_invoice`) and
hands them to the §6.1 pipeline; `lifecycle.finalize_in_place` then calls `consume_for_invoice`,
which writes what the pipeline took: a consumption line per credit note, an `invoiced` ledger
line per wallet. Voiding an invoice gives both back (`restore_for_voided_invoice`; coupons are
given back by `totals.give_back_coupon_credits`). Paying a `credit` invoice settles its purchased
credits (`settle_paid_credit_invoice`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from invoicing.credits.services import credit_notes, wallets
from invoicing.models import Invoice, InvoiceType


def consume_for_invoice(invoice: Invoice, computed: Any, *, now: dt.datetime) -> None:
    totals = computed.totals
    if totals.credit_note_credits:
        credit_notes.credit_notes_consume(invoice, totals.credit_note_credits, computed.credit_notes, now=now)
    if totals.prepaid_credits:
        wallets.wallets_consume(invoice, totals.prepaid_credits, computed.wallets, now=now)


def restore_for_voided_invoice(invoice: Invoice, *, now: dt.datetime) -> None:
    """§6.7: the wallet credits and credit-note balances this invoice consumed come back."""
    credit_notes.credit_notes_restore_for_voided_invoice(invoice, now=now)
    wallets.wallets_restore_for_voided_invoice(invoice, now=now)


credits_restore_for_voided_invoice = restore_for_voided_invoice


def settle_paid_credit_invoice(invoice: Invoice, *, now: dt.datetime) -> int:
    """A `credit` invoice was paid: its purchased credits enter the wallet."""
    if invoice.invoice_type != InvoiceType.CREDIT:
        return 0
    return wallets.wallet_transactions_settle_for_invoice(invoice, now=now)
