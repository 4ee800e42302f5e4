"""Lago's official Python client: one customer, two subscriptions in two currencies, a wallet in the
second currency, then one invoice per currency on the billing day."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from lago_python_client.models import Customer, Plan, Subscription, Wallet

from invoicing.billing.run import customer_bill
from invoicing.models import Invoice

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_subscriptions_in_two_currencies_for_one_customer(lago):
    client = lago.client
    client.plans.create(
        Plan(
            name="Basic USD",
            code="basic_usd",
            interval="monthly",
            amount_cents=1000,
            amount_currency="USD",
            pay_in_advance=False,
        )
    )
    client.plans.create(
        Plan(
            name="Basic EUR",
            code="basic_eur",
            interval="monthly",
            amount_cents=900,
            amount_currency="EUR",
            pay_in_advance=False,
        )
    )
    client.customers.create(Customer(external_id="multi", name="Multi"))
    # this month's first day (periods that ended before a subscription is created are not billed)
    month = timezone.now().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    started = month.isoformat().replace("+00:00", "Z")
    billing_day = (month + timedelta(days=32)).replace(day=1, hour=1)
    usd = client.subscriptions.create(
        Subscription(
            external_customer_id="multi", plan_code="basic_usd", external_id="multi-usd", subscription_at=started
        )
    )
    eur = client.subscriptions.create(
        Subscription(
            external_customer_id="multi", plan_code="basic_eur", external_id="multi-eur", subscription_at=started
        )
    )
    assert (usd.plan_amount_currency, eur.plan_amount_currency) == ("USD", "EUR")
    assert client.customers.find("multi").currency == "USD"  # the first currency stays the default
    wallet = client.wallets.create(
        Wallet(external_customer_id="multi", currency="EUR", rate_amount="1", granted_credits="4", name="euros")
    )
    assert wallet.currency == "EUR"
    customer_id = client.customers.find("multi").lago_id
    invoices = customer_bill(customer_id, at=billing_day)
    # EUR: 900 − 400 of credits
    assert sorted((i.currency, i.total_amount_cents) for i in invoices) == [("EUR", 500), ("USD", 1000)]
    listed = client.invoices.find_all({"external_customer_id": "multi"})["invoices"]
    assert sorted((i.currency, i.prepaid_credit_amount_cents, i.total_amount_cents) for i in listed) == [
        ("EUR", 400, 500),
        ("USD", 0, 1000),
    ]
    assert Invoice.objects.filter(customer_id=customer_id).count() == 2
