"""Invoice, fee and wallet transaction objects as Lago renders them: `invoice.subscriptions[]` is
the full subscription object, fee `item.item_type` is the class Lago names, and wallet
transactions carry `remaining_amount_cents`, `remaining_credit_amount` and `payment_method`."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from catalog.models import Commitment
from invoicing.billing.run import customer_bill
from invoicing.models import Invoice
from tests.factories.invoicing import make_customer, make_plan, subscribe

pytestmark = pytest.mark.django_db


def at(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def test_invoice_subscriptions_are_the_full_subscription_objects(api, organization):
    customer = make_customer(organization, external_id="acme", currency="USD")
    plan = make_plan(organization, amount_cents=1000, code="base")
    sub = subscribe(customer, plan, at(2024, 1, 1), external_id="acme_sub", name="Main")
    [invoice] = customer_bill(customer.id, at=at(2024, 2, 1, 1))
    shown = api.get(f"/api/v1/invoices/{invoice.id}").json()["invoice"]
    listed = api.get("/api/v1/subscriptions", {"external_customer_id": "acme"}).json()["subscriptions"]
    assert shown["subscriptions"] == listed  # the same object as GET /subscriptions renders
    [embedded] = shown["subscriptions"]
    assert embedded["lago_id"] == str(sub.id) and embedded["plan_code"] == "base" and embedded["name"] == "Main"
    for key in ("billing_time", "subscription_at", "started_at", "created_at", "plan_amount_cents",
                "current_billing_period_started_at", "next_plan_code", "on_termination_invoice"):  # fmt: skip
        assert key in embedded, key


def test_commitment_fee_item_is_the_subscription(api, organization):
    customer = make_customer(organization, currency="USD")
    plan = make_plan(organization, amount_cents=1000, code="committed", name="Committed", description="d")
    Commitment.objects.create(plan=plan, commitment_type="minimum_commitment", amount_cents=5000)
    sub = subscribe(customer, plan, at(2024, 1, 1))
    invoices = customer_bill(customer.id, at=at(2024, 2, 1, 1))
    invoice = next(i for i in invoices if i.fees.filter(fee_type="commitment").exists())
    fees = api.get(f"/api/v1/invoices/{invoice.id}").json()["invoice"]["fees"]
    item = next(f["item"] for f in fees if f["item"]["type"] == "commitment")
    assert item["item_type"] == "Subscription"  # Lago's value; was "Commitment"
    assert (item["lago_item_id"], item["code"], item["name"]) == (str(sub.id), "committed", "Committed")
    assert next(f["item"] for f in fees if f["item"]["type"] == "subscription")["item_type"] == "Subscription"


def test_credit_fee_item_is_the_wallet_transaction(api, organization):
    customer = make_customer(organization, currency="USD")
    body = {"external_customer_id": customer.external_id, "rate_amount": "1", "currency": "USD", "paid_credits": "10"}
    wallet = api.post("/api/v1/wallets", {"wallet": body}, format="json").json()["wallet"]
    [purchase] = api.get(f"/api/v1/wallets/{wallet['lago_id']}/wallet_transactions").json()["wallet_transactions"]
    invoice = Invoice.objects.get(customer=customer, invoice_type="credit")
    [fee] = api.get(f"/api/v1/invoices/{invoice.id}").json()["invoice"]["fees"]
    assert fee["item"]["type"] == "credit" and fee["item"]["code"] == "credit"
    assert fee["item"]["item_type"] == "WalletTransaction"  # Lago's value; was "credit"
    assert fee["item"]["lago_item_id"] == purchase["lago_id"]
    assert api.get(f"/api/v1/fees/{fee['lago_id']}").json()["fee"]["item"] == fee["item"]


def test_wallet_transactions_carry_remaining_amounts_and_payment_method(api, organization):
    customer = make_customer(organization, currency="USD")
    body = {"external_customer_id": customer.external_id, "rate_amount": "1", "currency": "USD", "granted_credits": "5"}
    wallet = api.post("/api/v1/wallets", {"wallet": body}, format="json").json()["wallet"]
    assert wallet["payment_method"] == {"payment_method_id": None, "payment_method_type": "provider"}
    [granted] = api.get(f"/api/v1/wallets/{wallet['lago_id']}/wallet_transactions").json()["wallet_transactions"]
    created = api.post(
        "/api/v1/wallet_transactions",
        {"wallet_transaction": {"wallet_id": wallet["lago_id"], "granted_credits": "1"}},
        format="json",
    ).json()["wallet_transactions"]
    shown = api.get(f"/api/v1/wallet_transactions/{granted['lago_id']}").json()["wallet_transaction"]
    for transaction in (granted, shown, *created):
        # every bxb wallet is "traceable": a settled inbound line says what is left of it
        assert (transaction["remaining_amount_cents"], transaction["remaining_credit_amount"]) in {
            (500, "5.0"),
            (100, "1.0"),
        }
        assert transaction["payment_method"] == {"payment_method_id": None, "payment_method_type": "provider"}
