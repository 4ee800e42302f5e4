"""Lago's wallet, wallet transaction and credit note objects (docs/lago-compatibility.md §1.3, §3)
for the API and webhooks: money as integers, decimals as strings (never floats, except the rates
Lago's client types as float). Each renderer returns its shape (`WalletShape`, `CreditNoteShape`...),
from which the OpenAPI components are derived (`invoicing.credits.api.serializers`,
billing_project/core/api/shapes.py)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, TypedDict

from billing_project.core.api.shapes import Date, DateTime, Help, Uuid, utc_iso
from billing_project.core.money import from_cents
from customers.entities import customer_billing_entity, document_entity_code, sections_by_ids
from customers.payment_choice import PaymentMethodChoiceShape
from customers.representation import AppliedSectionShape, CustomerShape, applied_sections_payload, customer_payload
from customers.section_choice import SectionChoice
from invoicing.billing.pricing import decimal_string
from invoicing.credits.models import (
    CreditNote,
    CreditNoteAppliedTax,
    RecurringTransactionRule,
    Wallet,
    WalletTransaction,
    WalletTransactionConsumption,
)
from invoicing.credits.tracing import cents_to_credits
from invoicing.representation import _EXACT, _RATE, AppliedTaxShape, FeeShape, applied_tax_fields, fee_payload, number

_CREDITS = Help("A number of credits, an exact decimal as a string.")


class RecurringRuleShape(TypedDict):
    lago_id: Uuid
    trigger: str
    interval: str | None
    method: str
    status: str
    paid_credits: Annotated[str, _CREDITS]
    granted_credits: Annotated[str, _CREDITS]
    threshold_credits: Annotated[str | None, _CREDITS]
    target_ongoing_balance: Annotated[str | None, _CREDITS]
    started_at: DateTime | None
    expiration_at: DateTime | None
    created_at: DateTime
    transaction_metadata: list[dict[str, Any]]
    transaction_name: str | None
    ignore_paid_top_up_limits: bool
    invoice_requires_successful_payment: bool
    payment_method: PaymentMethodChoiceShape
    purchase_order_number: str | None
    applied_invoice_custom_sections: list[AppliedSectionShape]


class AppliesToShape(TypedDict):
    fee_types: list[str]
    billable_metric_codes: list[str]


class WalletShape(TypedDict):
    lago_id: Uuid
    lago_customer_id: Uuid
    external_customer_id: str
    status: str
    currency: str
    name: str | None
    code: str | None
    priority: int
    rate_amount: Annotated[str, _EXACT]
    credits_balance: Annotated[str, _CREDITS]
    balance_cents: int
    consumed_credits: Annotated[str, _CREDITS]
    consumed_amount_cents: int
    ongoing_balance_cents: int
    ongoing_usage_balance_cents: int
    credits_ongoing_balance: Annotated[str, _CREDITS]
    credits_ongoing_usage_balance: Annotated[str, _CREDITS]
    created_at: DateTime
    expiration_at: DateTime | None
    last_balance_sync_at: DateTime | None
    last_consumed_credit_at: DateTime | None
    terminated_at: DateTime | None
    recurring_transaction_rules: list[RecurringRuleShape]
    applies_to: AppliesToShape
    invoice_requires_successful_payment: bool
    paid_top_up_min_amount_cents: int | None
    paid_top_up_max_amount_cents: int | None
    metadata: dict[str, Any]
    payment_method: PaymentMethodChoiceShape
    applied_invoice_custom_sections: list[AppliedSectionShape]
    billing_entity_code: str
    purchase_order_number: str | None


class WalletTransactionMetadataShape(TypedDict):
    key: str
    value: str


class WalletTransactionShape(TypedDict):
    lago_id: Uuid
    lago_wallet_id: Uuid
    lago_invoice_id: Uuid | None
    lago_credit_note_id: Uuid | None
    lago_voided_invoice_id: Uuid | None
    status: str
    source: str
    transaction_status: str
    transaction_type: str
    amount: Annotated[str, _EXACT]
    amount_cents: int
    credit_amount: Annotated[str, _CREDITS]
    remaining_amount_cents: int | None
    remaining_credit_amount: str | None
    priority: int
    settled_at: DateTime | None
    failed_at: DateTime | None
    created_at: DateTime
    metadata: list[WalletTransactionMetadataShape]
    name: str | None
    invoice_requires_successful_payment: bool
    purchase_order_number: str | None
    payment_method: PaymentMethodChoiceShape
    applied_invoice_custom_sections: list[AppliedSectionShape]


class EstimatedAppliedTaxShape(AppliedTaxShape):
    base_amount_cents: int


class CreditNoteAppliedTaxShape(EstimatedAppliedTaxShape):
    lago_id: Uuid
    lago_credit_note_id: Uuid
    created_at: DateTime


class CreditNoteItemShape(TypedDict):
    lago_id: Uuid
    amount_cents: int
    precise_amount_cents: Annotated[str, _EXACT]
    amount_currency: str
    fee: FeeShape


class CreditNoteShape(TypedDict):
    lago_id: Uuid
    sequential_id: int
    billing_entity_code: str
    number: str
    lago_invoice_id: Uuid
    invoice_number: str
    issuing_date: Date
    credit_status: str | None
    refund_status: str | None
    reason: str
    description: str | None
    currency: str
    total_amount_cents: int
    credit_amount_cents: int
    balance_amount_cents: int
    refund_amount_cents: int
    offset_amount_cents: int
    taxes_amount_cents: int
    taxes_rate: Annotated[float, _RATE]
    sub_total_excluding_taxes_amount_cents: int
    coupons_adjustment_amount_cents: int
    precise_coupons_adjustment_amount_cents: Annotated[str, _EXACT]
    precise_taxes_amount_cents: Annotated[str, _EXACT]
    purchase_order_number: str | None
    file_url: str | None
    created_at: DateTime
    updated_at: DateTime
    voided_at: DateTime | None
    refunded_at: DateTime | None
    items: list[CreditNoteItemShape]
    applied_taxes: list[CreditNoteAppliedTaxShape]
    metadata: dict[str, Any]
    customer: CustomerShape


class EstimatedItemShape(TypedDict):
    lago_fee_id: Uuid
    amount_cents: int


class CreditNoteEstimateShape(TypedDict):
    lago_invoice_id: Uuid
    invoice_number: str
    currency: str
    taxes_amount_cents: int
    precise_taxes_amount_cents: Annotated[str, _EXACT]
    taxes_rate: Annotated[float, _RATE]
    sub_total_excluding_taxes_amount_cents: int
    max_creditable_amount_cents: int
    max_refundable_amount_cents: int
    max_offsettable_amount_cents: int
    coupons_adjustment_amount_cents: int
    precise_coupons_adjustment_amount_cents: Annotated[str, _EXACT]
    items: list[EstimatedItemShape]
    applied_taxes: list[EstimatedAppliedTaxShape]


def _credits(value: Any) -> str:
    return decimal_string(Decimal(value or 0))


def rule_payload(rule: RecurringTransactionRule) -> RecurringRuleShape:
    return {
        "lago_id": str(rule.id),
        "trigger": rule.trigger,
        "interval": rule.interval or None,
        "method": rule.method,
        "status": rule.status,
        "paid_credits": _credits(rule.paid_credits),
        "granted_credits": _credits(rule.granted_credits),
        "threshold_credits": _credits(rule.threshold_credits) if rule.threshold_credits is not None else None,
        "target_ongoing_balance": _credits(rule.target_ongoing_balance)
        if rule.target_ongoing_balance is not None
        else None,
        "started_at": utc_iso(rule.started_at),
        "expiration_at": utc_iso(rule.expiration_at),
        "created_at": utc_iso(rule.created_at),
        "transaction_metadata": rule.transaction_metadata or [],
        "transaction_name": rule.transaction_name or None,
        "ignore_paid_top_up_limits": rule.ignore_paid_top_up_limits,
        "invoice_requires_successful_payment": False,
        "payment_method": rule.payment_method_choice.payload(),
        "purchase_order_number": rule.purchase_order_number or None,
        "applied_invoice_custom_sections": _applied_sections(rule.organization_id, rule.section_choice),
    }


def wallet_payload(wallet: Wallet) -> WalletShape:
    return {
        "lago_id": str(wallet.id),
        "lago_customer_id": str(wallet.customer_id),
        "external_customer_id": wallet.customer.external_id,
        "status": wallet.status,
        "currency": wallet.currency,
        "name": wallet.name or None,
        "code": wallet.code or None,
        "priority": wallet.priority,
        "rate_amount": decimal_string(wallet.rate_amount),
        "credits_balance": _credits(wallet.credits_balance),
        "balance_cents": wallet.balance_cents,
        "consumed_credits": _credits(wallet.consumed_credits),
        "consumed_amount_cents": wallet.consumed_amount_cents,
        "ongoing_balance_cents": wallet.ongoing_balance_cents,
        "ongoing_usage_balance_cents": wallet.ongoing_usage_balance_cents,
        "credits_ongoing_balance": _credits(wallet.credits_ongoing_balance),
        "credits_ongoing_usage_balance": _credits(wallet.credits_ongoing_usage_balance),
        "created_at": utc_iso(wallet.created_at),
        "expiration_at": utc_iso(wallet.expiration_at),
        "last_balance_sync_at": utc_iso(wallet.last_balance_sync_at),
        "last_consumed_credit_at": utc_iso(wallet.last_consumed_credit_at),
        "terminated_at": utc_iso(wallet.terminated_at),
        "recurring_transaction_rules": [rule_payload(r) for r in wallet.recurring_transaction_rules.all()],
        "applies_to": {
            "fee_types": list(wallet.applies_to_fee_types or []),
            "billable_metric_codes": list(wallet.applies_to_billable_metric_codes or []),
        },
        "invoice_requires_successful_payment": wallet.invoice_requires_successful_payment,
        "paid_top_up_min_amount_cents": wallet.paid_top_up_min_amount_cents,
        "paid_top_up_max_amount_cents": wallet.paid_top_up_max_amount_cents,
        "metadata": wallet.metadata or {},
        "payment_method": wallet.payment_method_choice.payload(),
        "applied_invoice_custom_sections": _applied_sections(wallet.organization_id, wallet.section_choice),
        "billing_entity_code": (
            document_entity_code(wallet.billing_entity_id, wallet.customer)
            if wallet.billing_entity_id is not None
            else customer_billing_entity(wallet.customer).code
        ),
        "purchase_order_number": wallet.purchase_order_number or None,
    }


def _applied_sections(organization_id: Any, choice: SectionChoice) -> list[AppliedSectionShape]:
    """The sections a wallet or a top-up chose (read only when it chose some)."""
    return applied_sections_payload(sections_by_ids(organization_id, choice.section_ids)) if choice.section_ids else []


def wallet_transaction_payload(tx: WalletTransaction) -> WalletTransactionShape:
    wallet = tx.wallet
    return {
        "lago_id": str(tx.id),
        "lago_wallet_id": str(tx.wallet_id),
        "lago_invoice_id": str(tx.invoice_id) if tx.invoice_id else None,
        "lago_credit_note_id": str(tx.credit_note_id) if tx.credit_note_id else None,
        "lago_voided_invoice_id": str(tx.voided_invoice_id) if tx.voided_invoice_id else None,
        "status": tx.status,
        "source": tx.source,
        "transaction_status": tx.transaction_status,
        "transaction_type": tx.transaction_type,
        "amount": decimal_string(from_cents(tx.amount_cents, wallet.currency)),
        "amount_cents": tx.amount_cents,
        "credit_amount": _credits(tx.credit_amount),
        # What outbound lines have not consumed of a settled inbound line (docs/credits.md,
        # "Traceability"); null on outbound and unsettled lines.
        "remaining_amount_cents": tx.remaining_amount_cents,
        "remaining_credit_amount": None
        if tx.remaining_amount_cents is None
        else _credits(
            cents_to_credits(tx.remaining_amount_cents, rate_amount=wallet.rate_amount, currency=wallet.currency)
        ),
        "priority": tx.priority,
        "settled_at": utc_iso(tx.settled_at),
        "failed_at": utc_iso(tx.failed_at),
        "created_at": utc_iso(tx.created_at),
        "metadata": [{"key": str(m.get("key")), "value": str(m.get("value") or "")} for m in tx.metadata or []],
        "name": tx.name or None,
        "invoice_requires_successful_payment": tx.invoice_requires_successful_payment,
        "purchase_order_number": tx.purchase_order_number or None,
        "payment_method": tx.payment_method_choice.payload(),
        "applied_invoice_custom_sections": _applied_sections(tx.organization_id, tx.section_choice),
    }


class WalletTransactionConsumptionShape(TypedDict):
    """Lago's wallet transaction consumption (`GET /wallet_transactions/{id}/consumptions`) or
    funding (`…/fundings`): the amount, and the transaction on the other side."""

    lago_id: Uuid
    amount_cents: int
    credit_amount: str
    created_at: DateTime
    wallet_transaction: WalletTransactionShape


def wallet_transaction_consumption_payload(
    row: WalletTransactionConsumption, *, counterpart: WalletTransaction
) -> WalletTransactionConsumptionShape:
    wallet = counterpart.wallet
    credits = cents_to_credits(row.amount_cents, rate_amount=wallet.rate_amount, currency=wallet.currency)
    return {
        "lago_id": str(row.id),
        "amount_cents": row.amount_cents,
        "credit_amount": _credits(credits),
        "created_at": utc_iso(row.created_at) or "",
        "wallet_transaction": wallet_transaction_payload(counterpart),
    }


def _applied_tax(row: CreditNoteAppliedTax, *, credit_note_id: str) -> CreditNoteAppliedTaxShape:
    return {
        **applied_tax_fields(row, row.tax_description or None),
        "base_amount_cents": row.base_amount_cents,
        "lago_id": str(row.id),
        "lago_credit_note_id": credit_note_id,
        "created_at": utc_iso(row.created_at),
    }


def credit_note_file_url(note: CreditNote) -> str | None:
    if not note.file:
        return None
    from django.conf import settings

    base = (getattr(settings, "PUBLIC_URL", "") or "").rstrip("/")
    return f"{base}/{settings.MEDIA_URL.strip('/')}/{note.file.name}"


def credit_note_payload(note: CreditNote) -> CreditNoteShape:
    return {
        "lago_id": str(note.id),
        "sequential_id": note.sequential_id,
        "billing_entity_code": document_entity_code(note.invoice.billing_entity_id, note.customer),
        "number": note.number,
        "lago_invoice_id": str(note.invoice_id),
        "invoice_number": note.invoice.number,
        "issuing_date": note.issuing_date.isoformat(),
        "credit_status": note.credit_status,
        "refund_status": note.refund_status,
        "reason": note.reason,
        "description": note.description or None,
        "currency": note.currency,
        "total_amount_cents": note.total_amount_cents,
        "credit_amount_cents": note.credit_amount_cents,
        "balance_amount_cents": note.balance_amount_cents,
        "refund_amount_cents": note.refund_amount_cents,
        "offset_amount_cents": note.offset_amount_cents,
        "taxes_amount_cents": note.taxes_amount_cents,
        "taxes_rate": number(note.taxes_rate),
        "sub_total_excluding_taxes_amount_cents": note.sub_total_excluding_taxes_amount_cents,
        "coupons_adjustment_amount_cents": note.coupons_adjustment_amount_cents,
        "precise_coupons_adjustment_amount_cents": decimal_string(note.precise_coupons_adjustment_amount_cents),
        "precise_taxes_amount_cents": decimal_string(note.precise_taxes_amount_cents),
        "purchase_order_number": note.invoice.purchase_order_number or None,
        "file_url": credit_note_file_url(note),
        "created_at": utc_iso(note.created_at),
        "updated_at": utc_iso(note.updated_at),
        "voided_at": utc_iso(note.voided_at),
        "refunded_at": utc_iso(note.refunded_at),
        "items": [
            {
                "lago_id": str(item.id),
                "amount_cents": item.amount_cents,
                "precise_amount_cents": decimal_string(item.precise_amount_cents),
                "amount_currency": item.amount_currency,
                "fee": fee_payload(item.fee),
            }
            for item in note.items.all()
        ],
        "applied_taxes": [_applied_tax(t, credit_note_id=str(note.id)) for t in note.applied_taxes.all()],
        "metadata": note.metadata or {},
        "customer": customer_payload(note.customer),
    }
