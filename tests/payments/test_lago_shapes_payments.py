"""Lago's operations that need a payment provider, checked against the specification's shapes
(the checker and the table: tests/core/test_lago_shapes.py, tests/core/lago_spec_shapes.py): the
customer's payment methods, checkout and payment URLs, and retrying a failed payment. Stripe is
the local fake server the payments tests use, reached by Stripe's own SDK."""

from __future__ import annotations

import pytest

from invoicing.credits.inputs import WalletTransactionCreate
from invoicing.credits.services import wallets as wallet_services
from payments.models import PaymentMethod
from payments.services import collection
from tests.core.test_lago_shapes import Lago
from tests.factories.credits import make_wallet
from tests.factories.payments import finalized_invoice, stripe_connection, stripe_customer

pytestmark = pytest.mark.django_db


def test_payment_methods_urls_and_retries(tenant, fake_stripe, django_capture_on_commit_callbacks):
    api = Lago(tenant.client)
    organization = tenant.organization
    connection = stripe_connection(organization)
    customer = stripe_customer(
        organization, connection, provider_customer_id=fake_stripe.add_customer(), method="pm_card_chargeDeclined"
    )
    second = PaymentMethod.objects.create(
        organization=organization, customer=customer, connection=connection, provider_method_id="pm_card_visa",
        method_type="card", is_default=False,
    )  # fmt: skip
    methods = f"/customers/{customer.external_id}/payment_methods"
    api.call("GET", "/customers/{external_customer_id}/payment_methods", methods)
    api.call(
        "POST", "/customers/{external_customer_id}/checkout_url", f"/customers/{customer.external_id}/checkout_url"
    )

    declined = finalized_invoice(customer, 2000)
    payment = collection.invoice_collect(declined.id)
    assert payment is not None
    collection.payment_submit(payment.id)
    api.call(
        "PUT",
        "/customers/{external_customer_id}/payment_methods/{lago_id}/set_as_default",
        f"{methods}/{second.id}/set_as_default",
    )
    with django_capture_on_commit_callbacks(execute=True):
        api.call("POST", "/invoices/{lago_id}/retry_payment", f"/invoices/{declined.id}/retry_payment")
    first = PaymentMethod.objects.get(customer=customer, provider_method_id="pm_card_chargeDeclined")
    api.call("DELETE", "/customers/{external_customer_id}/payment_methods/{lago_id}", f"{methods}/{first.id}")
    receipt = api.call("GET", "/payment_receipts")["payment_receipts"][0]
    api.call("GET", "/payment_receipts/{lago_id}", f"/payment_receipts/{receipt['lago_id']}")

    unpaid = finalized_invoice(customer, 1500)
    api.call("POST", "/invoices/{lago_id}/payment_url", f"/invoices/{unpaid.id}/payment_url")

    buyer = stripe_customer(organization, connection, provider_customer_id=fake_stripe.add_customer(), method=None)
    wallet = make_wallet(buyer, granted="1", code="main")
    [purchase] = wallet_services.wallet_transaction_create(
        organization, WalletTransactionCreate.from_body({"wallet_id": str(wallet.id), "paid_credits": "30"})
    )
    api.call("POST", "/wallet_transactions/{lago_id}/payment_url", f"/wallet_transactions/{purchase.id}/payment_url")
