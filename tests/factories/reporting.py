"""A known data set for the analytics: invoices, fees, credit notes and subscriptions whose
monthly figures are worked out by hand in tests/reporting/test_analytics.py."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from invoicing.credits.models import CreditNote
from invoicing.models import Fee, Invoice
from subscriptions.models import Subscription
from tests.factories.customers import CustomerFactory
from tests.factories.invoicing import make_charge, make_metric, make_plan


def make_invoice(customer: Any, issuing_date: date, total: int, **extra: Any) -> Invoice:
    return Invoice.objects.create(
        organization=customer.organization,
        customer=customer,
        currency=extra.pop("currency", customer.currency or "USD"),
        status=extra.pop("status", "finalized"),
        issuing_date=issuing_date,
        payment_due_date=extra.pop("payment_due_date", issuing_date),
        number=extra.pop("number", f"INV-{uuid.uuid4().hex[:8]}"),
        fees_amount_cents=total,
        sub_total_excluding_taxes_amount_cents=total,
        sub_total_including_taxes_amount_cents=total,
        total_amount_cents=total,
        **extra,
    )


def make_fee(invoice: Invoice, amount: int, *, fee_type: str = "charge", charge: Any = None, **extra: Any) -> Fee:
    return Fee.objects.create(
        organization=invoice.organization,
        customer=invoice.customer,
        invoice=invoice,
        fee_type=fee_type,
        charge=charge,
        currency=invoice.currency,
        amount_cents=amount,
        precise_amount_cents=amount,
        **extra,
    )


def make_credit_note(invoice: Invoice, issuing_date: date, *, refund: int = 0, credit: int = 0, **extra: Any):
    sequence = CreditNote.objects.filter(invoice=invoice).count() + 1
    credit_status = extra.pop("credit_status", "available" if credit else None)
    return CreditNote.objects.create(
        organization=invoice.organization,
        customer=invoice.customer,
        invoice=invoice,
        sequential_id=sequence,
        number=f"{invoice.number}-CN{sequence:03d}",
        issuing_date=issuing_date,
        currency=invoice.currency,
        credit_status=credit_status,
        refund_status="pending" if refund else None,
        total_amount_cents=refund + credit,
        refund_amount_cents=refund,
        credit_amount_cents=credit,
        balance_amount_cents=credit,
        **extra,
    )


def make_subscription(customer: Any, plan: Any, started_at: datetime | None, **extra: Any) -> Subscription:
    return Subscription.objects.create(
        organization=customer.organization,
        customer=customer,
        plan=plan,
        external_id=extra.pop("external_id", f"sub_{uuid.uuid4().hex[:8]}"),
        status=extra.pop("status", "active"),
        subscription_at=extra.pop("subscription_at", started_at or datetime(2024, 1, 1, tzinfo=UTC)),
        started_at=started_at,
        **extra,
    )


def at(year: int, month: int, day: int = 1) -> datetime:
    return datetime(year, month, day, tzinfo=UTC)


def analytics_data_set(organization: Any) -> dict[str, Any]:
    """The data set of test_analytics.py (today = 2024-06-15, six months January..June 2024)."""
    c1 = CustomerFactory(organization=organization, external_id="c1", currency="USD")
    c2 = CustomerFactory(organization=organization, external_id="c2", currency="USD")
    c3 = CustomerFactory(organization=organization, external_id="c3", currency="EUR")
    usd_plan = make_plan(organization, amount_cents=1000, currency="USD")
    api_calls = make_metric(organization, code="api_calls")
    storage = make_metric(organization, code="storage")
    api_charge = make_charge(usd_plan, api_calls)
    storage_charge = make_charge(usd_plan, storage)
    eur_plan = make_plan(organization, amount_cents=3001, currency="EUR", interval="quarterly")
    eur_charge = make_charge(eur_plan, api_calls)

    inv1 = make_invoice(c1, date(2024, 1, 10), 10000)
    inv2 = make_invoice(
        c2,
        date(2024, 1, 20),
        5050,
        payment_due_date=date(2024, 2, 19),
        payment_overdue=True,
        total_paid_amount_cents=50,
    )
    inv3 = make_invoice(c1, date(2024, 2, 5), 9999, status="voided")
    make_invoice(c1, date(2024, 2, 5), 7777, status="draft")
    inv5 = make_invoice(c3, date(2024, 3, 1), 1234)
    make_invoice(c1, date(2023, 12, 31), 111)
    inv7 = make_invoice(c2, date(2024, 2, 15), 3000, payment_due_date=date(2024, 3, 15), payment_overdue=True)
    make_invoice(c1, date(2024, 2, 20), 400, payment_due_date=date(2024, 3, 1), payment_overdue=True, status="voided")

    make_credit_note(inv1, date(2024, 2, 10), refund=2000)
    make_credit_note(inv1, date(2024, 2, 11), refund=500, voided_at=at(2024, 2, 12), credit_status="voided")
    make_credit_note(inv7, date(2024, 2, 16), credit=300)  # a credit, not a refund: no effect

    make_fee(inv1, 4000, charge=api_charge)
    make_fee(inv1, 1500, charge=storage_charge)
    make_fee(inv1, 4500, fee_type="subscription")
    make_fee(inv2, 250, charge=api_charge)
    make_fee(inv3, 999, charge=api_charge)
    make_fee(inv5, 1000, charge=eur_charge)

    # Subscriptions (MRR, churn, retention).
    make_subscription(c1, usd_plan, at(2023, 11, 1))  # monthly 10.00 USD
    yearly = make_plan(organization, amount_cents=12000, currency="USD", interval="yearly")
    make_subscription(c2, yearly, at(2024, 2, 10), status="terminated", terminated_at=at(2024, 4, 20))
    weekly = make_plan(organization, amount_cents=700, currency="USD", interval="weekly")
    make_subscription(c1, weekly, at(2024, 1, 1))
    make_subscription(c3, eur_plan, at(2024, 3, 5))
    semiannual = make_plan(organization, amount_cents=600, currency="EUR", interval="semiannual")
    make_subscription(c3, semiannual, at(2024, 4, 1), trial_ends_at=at(2024, 5, 10))
    make_subscription(c2, usd_plan, None, status="pending")
    free = make_plan(organization, amount_cents=0, currency="USD")
    make_subscription(
        CustomerFactory(organization=organization, external_id="c4", currency="USD"), free, at(2024, 1, 1)
    )
    return {"c1": c1, "c2": c2, "c3": c3, "inv2": inv2, "inv7": inv7}
