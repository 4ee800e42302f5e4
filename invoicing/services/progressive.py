"""Progressive billing credits (docs/billing-semantics.md §10): usage a `progressive_billing` invoice already
billed is deducted from the next invoice of the same subscription and period (the next progressive
invoice, or the period-end invoice) as `progressive_billing_credit_amount_cents`.

Invoices of type `progressive_billing` are created by `usage_monitoring` (which sits above
invoicing); this module only reads them, so invoicing needs nothing from the app above.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import Any
from uuid import UUID

from invoicing.calculation import ProgressiveBillingCredit
from invoicing.models import Fee, FeeType, Invoice, InvoiceStatus, InvoiceSubscription, InvoiceType, InvoicingReason

TAKES_PROGRESSIVE_CREDITS = {InvoiceType.SUBSCRIPTION, InvoiceType.PROGRESSIVE_BILLING}


def _previous(subscription_id: UUID | str, start: dt.datetime, end: dt.datetime, *, exclude_invoice: Any = None):
    qs = (
        InvoiceSubscription.objects.filter(
            subscription_id=subscription_id,
            invoicing_reason=InvoicingReason.PROGRESSIVE_BILLING,
            charges_from_datetime__gte=start,
            charges_to_datetime__lte=end,
            invoice__status=InvoiceStatus.FINALIZED,
        )
        .select_related("invoice")
        .order_by("charges_to_datetime", "id")
    )
    if exclude_invoice is not None:
        qs = qs.exclude(invoice_id=exclude_invoice)
    return qs


def _net(invoice: Invoice) -> int:
    return max(int(invoice.fees_amount_cents) - int(invoice.progressive_billing_credit_amount_cents), 0)


def previous_progressive_amount_cents(subscription: Any, start: dt.datetime, end: dt.datetime) -> int:
    """What finalized progressive invoices already billed for this subscription in [start, end]."""
    return sum(_net(row.invoice) for row in _previous(subscription.id, start, end))


def progressive_credits(
    invoice: Invoice, fees: list[Any], *, progressive: Collection[Any] | None = None
) -> list[ProgressiveBillingCredit]:
    """One credit per earlier progressive invoice of each billed period, allocated to that
    period's in-arrears charge fees on `invoice`. `progressive`: the subscriptions known to have a
    progressive-billing period (the billing run reads it under the customer lock, which progressive
    invoicing takes too); the others' periods are not looked up. None: every period is."""
    if invoice.invoice_type not in TAKES_PROGRESSIVE_CREDITS:
        return []
    by_row: dict[Any, list[str]] = {}
    rows: dict[Any, InvoiceSubscription] = {}
    for fee in fees:
        if fee.fee_type == FeeType.CHARGE and not fee.pay_in_advance and fee.invoice_subscription_id:
            by_row.setdefault(fee.invoice_subscription_id, []).append(str(fee.id))
            if Fee.invoice_subscription.is_cached(fee):  # a new invoice: its periods may not be saved yet
                rows[fee.invoice_subscription_id] = fee.invoice_subscription
    if not by_row:
        return []
    missing = [row_id for row_id in by_row if row_id not in rows]
    if missing:  # (an empty IN is not sent, but compiling it costs more than the rest of this function)
        rows.update({row.id: row for row in InvoiceSubscription.objects.filter(id__in=missing)})
    credits: list[ProgressiveBillingCredit] = []
    for row in sorted(rows.values(), key=lambda r: (r.charges_from_datetime, str(r.id))):
        if progressive is not None and row.subscription_id not in progressive:
            continue  # the billing run saw no progressive-billing period of it (under the customer lock)
        previous = _previous(
            row.subscription_id, row.charges_from_datetime, row.charges_to_datetime, exclude_invoice=invoice.id
        ).exclude(id=row.id)
        for earlier in previous:
            amount = _net(earlier.invoice)
            if amount > 0:
                credits.append(
                    ProgressiveBillingCredit(
                        id=str(earlier.invoice_id),
                        amount_cents=amount,
                        fee_ids=tuple(by_row[row.id]),
                        number=earlier.invoice.number,
                    )
                )
    return credits
