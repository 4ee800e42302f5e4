"""Which payment method collects an invoice: the one place that decides (Lago's
`PaymentMethods::DetermineService`; docs/payments.md §12).

Collection (`payments.services.collection.invoice_collect`) asks `payment_method_determine` before
every automatic attempt (the first one, the retries, `retry_payment`) and charges the method it
answers, at that method's provider, with that method's provider id.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from customers.models import Customer
from customers.payment_choice import PaymentMethodChoice
from invoicing.credits.models import TransactionStatus, TransactionType, WalletTransaction
from invoicing.models import Invoice, InvoiceSubscription, InvoiceType
from payments.models import PaymentMethod

logger = logging.getLogger(__name__)

SUBSCRIPTION_TYPES = (InvoiceType.SUBSCRIPTION, InvoiceType.ADVANCE_CHARGES, InvoiceType.PROGRESSIVE_BILLING)


@dataclass(frozen=True)
class DeterminedMethod:
    """The answer: `manual` (never charge automatically), a saved `method`, or neither (the
    customer's default: the default saved method, else the provider's own default for the
    customer). `source` names the level that decided, for logs and the admin."""

    source: str  # override, invoice, subscription, wallet_transaction, wallet, customer_default
    manual: bool = False
    method: PaymentMethod | None = None
    missing: bool = False  # a method was chosen but is no longer one of the customer's: nothing to charge

    @property
    def chargeable(self) -> bool:
        return not self.manual and not self.missing


def _choices(invoice: Invoice) -> list[tuple[str, PaymentMethodChoice]]:
    """The choices that apply to the invoice, the one that decides first."""
    if invoice.invoice_type in SUBSCRIPTION_TYPES:
        # One invoice may bill several subscriptions of the customer: as in Lago, one decides, here
        # the oldest (Lago takes its first link, in no stated order).
        link = (
            InvoiceSubscription.objects.filter(invoice=invoice)
            .select_related("subscription")
            .order_by("subscription__created_at", "subscription_id")
            .first()
        )
        return [("subscription", link.subscription.payment_method_choice)] if link is not None else []
    if invoice.invoice_type == InvoiceType.CREDIT:
        # The purchased line of a top-up: its own choice (a recurring rule's top-up carries the
        # rule's, copied when the rule fired), then its wallet's.
        tx = (
            WalletTransaction.objects.filter(
                invoice=invoice,
                transaction_type=TransactionType.INBOUND,
                transaction_status=TransactionStatus.PURCHASED,
            )
            .select_related("wallet")
            .order_by("created_at", "id")
            .first()
        )
        if tx is None:
            return []
        return [("wallet_transaction", tx.payment_method_choice), ("wallet", tx.wallet.payment_method_choice)]
    return [("invoice", invoice.payment_method_choice)]


def _resolve(customer: Customer, source: str, choice: PaymentMethodChoice) -> DeterminedMethod:
    if choice.manual or choice.payment_method_id is None:
        return DeterminedMethod(source=source, manual=choice.manual)
    method = (
        PaymentMethod.objects.select_related("connection")
        .filter(customer=customer, id=choice.payment_method_id)
        .first()
    )
    if method is None:
        logger.warning(
            "chosen payment method is gone",
            extra={"customer_id": str(customer.pk), "payment_method_id": str(choice.payment_method_id)},
        )
        return DeterminedMethod(source=source, missing=True)
    return DeterminedMethod(source=source, method=method)


def payment_method_determine(invoice: Invoice, *, override: PaymentMethodChoice | None = None) -> DeterminedMethod:
    """The payment method that collects `invoice`.

    `override` (a `retry_payment` that names a `payment_method`) decides alone. Otherwise, by the
    invoice's type, the first choice that is not "provider, no method" decides:

    * subscription, advance-charges and progressive-billing invoices: the subscription's choice
      (the oldest subscription the invoice bills);
    * credit invoices (wallet top-ups): the top-up's choice, then its recurring rule's, then
      its wallet's;
    * one-off invoices: the choice sent with the invoice;
    * anything else, or when no level chose: the customer's default method.

    `manual` anywhere on the way means no automatic collection. A chosen method that is no longer
    one of the customer's (removed since) is not replaced by another one: nothing is charged and
    the invoice waits for a manual payment or the hosted payment page (`missing`).
    """
    if override is not None:
        return payment_method_determine_for_customer(invoice.customer, override=override)
    for source, choice in _choices(invoice):
        if not choice.inherits:
            return _resolve(invoice.customer, source, choice)
    return DeterminedMethod(source="customer_default")


def payment_method_determine_for_customer(
    customer: Customer, *, override: PaymentMethodChoice | None = None
) -> DeterminedMethod:
    """What charges something of the customer's that is not one invoice (a payment request):
    `override` (its `payment_method`) when it names a method or `manual`, else the default."""
    if override is None or override.inherits:
        return DeterminedMethod(source="customer_default")
    return _resolve(customer, "override", override)


def payment_method_summary(customer: Customer, choice: PaymentMethodChoice) -> str:
    """What the customer reads of a choice (the portal): a sentence naming the card or mandate,
    the default method, or that its invoices are paid by hand (`manual`)."""
    if choice.manual:
        return "Paid by hand: bank transfer, or the Pay button of its invoices"
    if choice.payment_method_id is None:
        return "Paid with your default payment method"
    method = PaymentMethod.objects.filter(customer=customer, id=choice.payment_method_id).first()
    if method is None:
        return "Its payment method was removed: pay its invoices with the Pay button"
    details = method.details or {}
    name = str(details.get("brand") or method.method_type or "a saved payment method")
    return f"Paid with {name} ···· {details['last4']}" if details.get("last4") else f"Paid with {name}"


class SavedPaymentMethods:
    """Fills `customers.hooks.customer_payment_methods`: the customer's saved methods, for the
    `payment_method` choice checked by `customers.payment_choice.payment_method_choose`."""

    def owns(self, customer: Customer, method_id: UUID) -> bool:
        return PaymentMethod.objects.filter(
            organization_id=customer.organization_id, customer_id=customer.pk, id=method_id
        ).exists()

    def labels(self, organization_id: Any, method_ids: Iterable[UUID]) -> dict[UUID, str]:
        ids = [method_id for method_id in method_ids if method_id]
        rows = PaymentMethod.objects.filter(organization_id=organization_id, id__in=ids).select_related("connection")
        return {row.id: _label(row) for row in rows}


def _label(method: PaymentMethod) -> str:
    details = method.details or {}
    parts = [method.connection.provider, method.method_type or "method"]
    if details.get("brand"):
        parts.append(str(details["brand"]))
    if details.get("last4"):
        parts.append(f"••{details['last4']}")
    parts.append(f"({method.provider_method_id})")
    return " ".join(parts)
