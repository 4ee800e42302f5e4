"""Helpers for credits tests: wallets with credits, finalized invoices to credit, credit notes."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from catalog.models import AddOn
from invoicing.credits.inputs import CreditNoteCreate, WalletCreate
from invoicing.credits.models import CreditNote, Wallet
from invoicing.credits.services import credit_notes, wallets
from invoicing.models import Invoice
from invoicing.services import invoice_create_one_off

NOW = datetime(2024, 1, 15, 12, tzinfo=UTC)


def make_wallet(customer: Any, *, granted: str | None = None, paid: str | None = None, **data: Any) -> Wallet:
    payload: dict[str, Any] = {"external_customer_id": customer.external_id, "rate_amount": "1", "currency": "USD"}
    if granted is not None:
        payload["granted_credits"] = granted
    if paid is not None:
        payload["paid_credits"] = paid
    now = data.pop("now", None)
    payload.update(data)
    return wallets.wallet_create(customer.organization, WalletCreate.from_body(payload), now=now)


def make_one_off_invoice(customer: Any, amount_cents: int, *, currency: str = "USD", **fee: Any) -> Invoice:
    organization = customer.organization
    add_on = AddOn.objects.create(
        organization=organization,
        name=f"add-on {amount_cents}",
        code=f"add_on_{AddOn.objects.count() + 1}",
        amount_cents=amount_cents,
        amount_currency=currency,
    )
    return invoice_create_one_off(
        organization,
        external_customer_id=customer.external_id,
        currency=currency,
        fees=[{"add_on_code": add_on.code, **fee}],
    )


def make_credit_note(invoice: Invoice, *, credit: int = 0, refund: int = 0, offset: int = 0, items=None) -> CreditNote:
    fee = invoice.fees.order_by("created_at", "id").first()
    items = items or [{"fee_id": str(fee.id), "amount_cents": credit + refund + offset}]
    return credit_notes.credit_note_create(
        invoice.organization,
        CreditNoteCreate.from_body(
            {
                "invoice_id": invoice.id,
                "items": items,
                "credit_amount_cents": credit,
                "refund_amount_cents": refund,
                "offset_amount_cents": offset,
                "reason": "other",
            }
        ),
    )


def credits(value: str) -> Decimal:
    return Decimal(value)
