"""What a checkout buys, in bxb's own terms: the customer (found by the buyer's e-mail or new),
the subscription or the one-off invoice, and the invoice due now. One function does it, for the
quote and for the purchase (CONVENTIONS, "One path"):

* `quote` runs it inside a savepoint that is rolled back, and reads the totals of the invoice it
  produced: the checkout shows exactly what billing will charge (taxes, coupons, credits included);
* `bill` runs it for real, in the caller's transaction, at completion.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from billing_project.core.inputs import UNSET
from customers.inputs import BillingConfiguration, CustomerUpsert
from customers.models import Customer
from customers.services import customer_upsert
from invoicing.models import Fee, Invoice, InvoiceStatus
from invoicing.services.immediate import subscriptions_bill_now
from invoicing.services.lifecycle import invoice_finalize
from invoicing.services.one_off import invoice_create_one_off
from subscriptions.inputs import SubscriptionCreate
from subscriptions.models import Subscription
from subscriptions.services.lifecycle import subscription_create
from ucp.catalog import Entry
from ucp.models import Checkout, UcpSettings


@dataclass(frozen=True)
class Line:
    id: str
    entry: Entry
    quantity: int


@dataclass
class Billed:
    customer: Customer
    subscription: Subscription | None
    invoice: Invoice | None  # the invoice due now (None: nothing is billed at the start)


@dataclass
class Quote:
    currency: str
    totals: list[dict[str, Any]]
    line_totals: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return next(int(t["amount"]) for t in self.totals if t["type"] == "total")


class _Rollback(Exception):
    pass


def find_customer(settings: UcpSettings, email: str) -> Customer | None:
    if not email:
        return None
    return (
        Customer.objects.filter(organization_id=settings.organization_id, email__iexact=email, deleted_at__isnull=True)
        .order_by("created_at", "id")
        .first()
    )


def _customer(settings: UcpSettings, checkout: Checkout, currency: str) -> Customer:
    buyer = checkout.buyer or {}
    email = str(buyer.get("email") or "").strip()
    connection = settings.payment_connection
    stripe_link = (
        BillingConfiguration(payment_provider="stripe", payment_provider_code=connection.code)
        if connection is not None and connection.provider == "stripe"
        else None
    )
    existing = find_customer(settings, email)
    if existing is not None:
        if stripe_link and not existing.payment_provider:
            # A customer who never paid through a provider pays this purchase and its renewals by card.
            existing, _ = customer_upsert(
                settings.organization,
                CustomerUpsert(external_id=existing.external_id, billing_configuration=stripe_link),
            )
        return existing
    name = " ".join(str(buyer.get(k) or "").strip() for k in ("first_name", "last_name")).strip()
    phone = str(buyer.get("phone_number") or "").strip()
    upsert = CustomerUpsert(
        external_id=f"ucp_{checkout.public_id}",
        name=name or email or f"UCP buyer {checkout.public_id}",
        firstname=str(buyer.get("first_name") or "")[:255],
        lastname=str(buyer.get("last_name") or "")[:255],
        email=email,
        currency=currency,
        phone=phone[:255] if phone else UNSET,
        billing_configuration=stripe_link or UNSET,
    )
    customer, _ = customer_upsert(settings.organization, upsert)
    return customer


def _run(settings: UcpSettings, checkout: Checkout, lines: list[Line], *, now: dt.datetime) -> Billed:
    organization = settings.organization
    currency = lines[0].entry.currency
    customer = _customer(settings, checkout, currency)
    plan_lines = [line for line in lines if line.entry.kind == "plan"]
    subscription = None
    invoice: Invoice | None = None
    if plan_lines:
        line = plan_lines[0]
        subscription = subscription_create(
            organization,
            SubscriptionCreate(
                external_customer_id=customer.external_id,
                plan_code=line.entry.code,
                external_id=f"ucp_{checkout.public_id}",
                name=line.entry.title,
                billing_time="anniversary",
            ),
            now=now,
        )
        invoices = subscriptions_bill_now([subscription.id], reason="subscription_starting", at=now, now=now)
        invoice = invoices[0] if invoices else None
    else:
        invoice = invoice_create_one_off(
            organization,
            external_customer_id=customer.external_id,
            currency=currency,
            fees=[{"add_on_code": line.entry.code, "units": line.quantity} for line in lines],
            purchase_order_number=checkout.public_id,
            now=now,
        )
    if invoice is not None and invoice.status == InvoiceStatus.DRAFT:
        # Paid at checkout: the first invoice is final at once, whatever the grace period.
        invoice = invoice_finalize(organization, invoice_id=invoice.id, now=now)
    return Billed(customer=customer, subscription=subscription, invoice=invoice)


def bill(settings: UcpSettings, checkout: Checkout, lines: list[Line], *, now: dt.datetime | None = None) -> Billed:
    """Create what the checkout buys (in the caller's transaction)."""
    return _run(settings, checkout, lines, now=now or timezone.now())


def summarize(billed: Billed, lines: list[Line], currency: str) -> Quote:
    invoice = billed.invoice
    line_totals: dict[str, list[dict[str, Any]]] = {}
    if invoice is None:
        for line in lines:
            line_totals[line.id] = [{"type": "subtotal", "amount": 0}, {"type": "total", "amount": 0}]
        return Quote(
            currency=currency,
            totals=[{"type": "subtotal", "amount": 0}, {"type": "total", "amount": 0}],
            line_totals=line_totals,
        )
    fees = list(Fee.objects.filter(invoice=invoice))
    for line in lines:
        if line.entry.kind == "plan":
            amount = sum(f.amount_cents for f in fees if f.subscription_id is not None)
        else:
            amount = sum(f.amount_cents for f in fees if f.add_on_id == line.entry.listing.add_on_id)
        line_totals[line.id] = [{"type": "subtotal", "amount": amount}, {"type": "total", "amount": amount}]
    totals: list[dict[str, Any]] = [{"type": "subtotal", "amount": invoice.fees_amount_cents}]
    discount = invoice.coupons_amount_cents + invoice.progressive_billing_credit_amount_cents
    if discount > 0:
        totals.append({"type": "discount", "display_text": "Discounts", "amount": -discount})
    if invoice.taxes_amount_cents:
        totals.append({"type": "tax", "display_text": "Taxes", "amount": invoice.taxes_amount_cents})
    credits = invoice.credit_notes_amount_cents + invoice.prepaid_credit_amount_cents
    if credits > 0:
        totals.append({"type": "credits", "display_text": "Credits applied", "amount": -credits})
    totals.append({"type": "total", "display_text": "Due now", "amount": invoice.total_amount_cents})
    return Quote(currency=currency, totals=totals, line_totals=line_totals)


def quote(settings: UcpSettings, checkout: Checkout, lines: list[Line], *, now: dt.datetime | None = None) -> Quote:
    """The totals completing the checkout now would produce; nothing is kept."""
    currency = lines[0].entry.currency
    result: list[Quote] = []
    try:
        with transaction.atomic():
            billed = _run(settings, checkout, lines, now=now or timezone.now())
            result.append(summarize(billed, lines, currency))
            raise _Rollback
    except _Rollback:
        pass
    return result[0]
