"""Reads of wallets, wallet transactions and credit notes; the organization always comes first."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Q, QuerySet

from billing_project.core.errors import ValidationFailure
from billing_project.core.found import first_with_id, found
from billing_project.core.narrowing import narrowed, searched
from customers.models import Customer, Organization
from invoicing.credits.models import (
    CreditNote,
    TransactionType,
    Wallet,
    WalletTransaction,
    WalletTransactionConsumption,
)
from invoicing.selectors import issued_within


def _customer(organization: Organization, external_id: str) -> Customer:
    return found(
        Customer.objects.filter(organization=organization, external_id=external_id, deleted_at__isnull=True).first(),
        "customer",
    )


def wallet_list(
    organization: Organization,
    *,
    external_customer_id: str | None = None,
    status: str | None = None,
    currency: str | None = None,
    billing_entity_ids: list[Any] | None = None,
) -> QuerySet[Wallet]:
    qs = Wallet.objects.filter(organization=organization)
    if billing_entity_ids is not None:  # the wallet's own entity, else its customer's
        qs = qs.filter(
            Q(billing_entity_id__in=billing_entity_ids)
            | Q(billing_entity__isnull=True, customer__billing_entity_id__in=billing_entity_ids)
        )
    if external_customer_id:
        qs = qs.filter(customer=_customer(organization, external_customer_id))
    qs = narrowed(qs, status=status, currency=currency and currency.upper())
    return (
        qs.select_related("customer__billing_entity")
        .prefetch_related("recurring_transaction_rules")
        .order_by("-created_at", "id")
    )


def wallet_get(organization: Organization, wallet_id: Any) -> Wallet:
    return found(first_with_id(wallet_list(organization), wallet_id), "wallet")


def wallet_get_by_code(organization: Organization, external_customer_id: str, code: str) -> Wallet:
    return found(
        wallet_list(organization, external_customer_id=external_customer_id)
        .filter(code=code)
        .order_by("status", "-created_at")  # the active one first
        .first(),
        "wallet",
    )


def wallet_transaction_list(
    organization: Organization,
    *,
    wallet_id: Any,
    status: str | None = None,
    transaction_type: str | None = None,
    transaction_status: str | None = None,
) -> QuerySet[WalletTransaction]:
    wallet = wallet_get(organization, wallet_id)
    qs = narrowed(
        WalletTransaction.objects.filter(organization=organization, wallet=wallet),
        status=status,
        transaction_type=transaction_type,
        transaction_status=transaction_status,
    )
    return qs.select_related("wallet").order_by("-created_at", "id")


def wallet_transaction_get(organization: Organization, transaction_id: Any) -> WalletTransaction:
    transactions = WalletTransaction.objects.filter(organization=organization).select_related("wallet")
    return found(first_with_id(transactions, transaction_id), "wallet_transaction")


def wallet_transaction_pairings(
    organization: Organization, transaction_id: Any, *, fundings: bool
) -> QuerySet[WalletTransactionConsumption]:
    """What consumed an inbound line (`fundings=False`: its consumptions), or what funded an
    outbound one (`fundings=True`); asking the other way round is 422 `invalid_transaction_type`."""
    tx = wallet_transaction_get(organization, transaction_id)
    expected = TransactionType.OUTBOUND if fundings else TransactionType.INBOUND
    if tx.transaction_type != expected:
        raise ValidationFailure.single("transaction_type", "invalid_transaction_type")
    side, other = ("outbound", "inbound") if fundings else ("inbound", "outbound")
    return (
        WalletTransactionConsumption.objects.filter(organization=organization, **{side: tx})
        .select_related(f"{other}__wallet")
        .order_by("-created_at", "id")
    )


def credit_note_list(
    organization: Organization,
    *,
    external_customer_id: str | None = None,
    invoice_id: Any = None,
    credit_status: str | None = None,
    refund_status: str | None = None,
    reason: str | None = None,
    currency: str | None = None,
    invoice_number: str | None = None,
    issuing_date_from: dt.date | None = None,
    issuing_date_to: dt.date | None = None,
    amount_from: int | None = None,
    amount_to: int | None = None,
    search_term: str | None = None,
    billing_entity_ids: list[Any] | None = None,
) -> QuerySet[CreditNote]:
    qs = CreditNote.objects.filter(organization=organization)
    if billing_entity_ids is not None:  # the credited invoice's entity
        qs = qs.filter(
            Q(invoice__billing_entity_id__in=billing_entity_ids)
            | Q(invoice__billing_entity__isnull=True, customer__billing_entity_id__in=billing_entity_ids)
        )
    qs = narrowed(qs, invoice__number=invoice_number)
    qs = issued_within(qs, issuing_date_from, issuing_date_to, amount_from=amount_from, amount_to=amount_to)
    qs = searched(
        qs,
        search_term,
        "number",
        "customer__name",
        "customer__firstname",
        "customer__lastname",
        "customer__external_id",
        "customer__email",
    )
    qs = narrowed(
        qs,
        customer__external_id=external_customer_id,
        invoice_id=invoice_id,
        credit_status=credit_status,
        refund_status=refund_status,
        reason=reason,
        currency=currency,
    )
    return (
        qs.select_related("invoice", "customer__organization", "customer__billing_entity")
        .prefetch_related("items__fee", "applied_taxes")
        .order_by("-created_at", "id")
    )


def credit_note_get(organization: Organization, credit_note_id: Any) -> CreditNote:
    return found(first_with_id(credit_note_list(organization), credit_note_id), "credit_note")
