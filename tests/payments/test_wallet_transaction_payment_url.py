"""`POST /wallet_transactions/{id}/payment_url`: the hosted page of a purchase's credit invoice."""

from __future__ import annotations

import pytest

from invoicing.credits.inputs import WalletTransactionCreate
from invoicing.credits.models import WalletTransaction
from invoicing.credits.services import wallets as svc
from payments.models import Payment
from tests.factories.credits import make_wallet
from tests.factories.customers import CustomerFactory
from tests.factories.payments import stripe_connection, stripe_customer

pytestmark = pytest.mark.django_db


def test_payment_url_of_a_pending_purchase(api, organization, fake_stripe):
    connection = stripe_connection(organization)
    customer = stripe_customer(organization, connection, provider_customer_id=fake_stripe.add_customer(), method=None)
    wallet = make_wallet(customer, granted="1", code="main")
    [purchase] = svc.wallet_transaction_create(
        organization, WalletTransactionCreate.from_body({"wallet_id": str(wallet.id), "paid_credits": "30"})
    )
    response = api.post(f"/api/v1/wallet_transactions/{purchase.id}/payment_url")
    assert response.status_code == 200, response.content
    details = response.json()["wallet_transaction_payment_details"]
    assert details["payment_url"].startswith("https://checkout.stripe.test/")
    assert (details["lago_wallet_transaction_id"], details["external_customer_id"]) == (
        str(purchase.id),
        customer.external_id,
    )
    assert (details["lago_customer_id"], details["payment_provider"]) == (str(customer.id), "stripe")

    [granted] = WalletTransaction.objects.filter(wallet=wallet, transaction_status="granted")
    svc.wallet_transaction_settle(purchase.id)
    for tx, code in ((granted, "wallet_transaction_not_purchased"), (purchase, "wallet_transaction_already_settled")):
        refused = api.post(f"/api/v1/wallet_transactions/{tx.id}/payment_url")
        assert refused.status_code == 422
        assert refused.json()["error_details"] == {"base": [code]}
    assert Payment.objects.filter(invoice=purchase.invoice).count() == 1


def test_payment_url_needs_a_provider(api, organization):
    customer = CustomerFactory(organization=organization, currency="USD")
    wallet = make_wallet(customer, code="main")
    [purchase] = svc.wallet_transaction_create(
        organization, WalletTransactionCreate.from_body({"wallet_id": str(wallet.id), "paid_credits": "3"})
    )
    refused = api.post(f"/v1/wallet_transactions/{purchase.id}/payment_url")
    assert refused.status_code == 422
    assert refused.json()["error_details"] == {"base": ["no_linked_payment_provider"]}
    assert not Payment.objects.exists()
