"""The official lago-python-client against a live bxb: payments, retry_payment, payment requests."""

from __future__ import annotations

import pytest
from lago_python_client.models.payment import Payment as LagoPayment
from lago_python_client.models.payment_request import PaymentRequest as LagoPaymentRequest

from tests.factories.customers import CustomerFactory
from tests.factories.payments import finalized_invoice, stripe_connection, stripe_customer

pytestmark = pytest.mark.django_db(transaction=True)


def test_manual_payments_through_the_client(lago):
    customer = CustomerFactory(organization=lago.organization)
    invoice = finalized_invoice(customer, 10_000)
    created = lago.client.payments.create(
        LagoPayment(invoice_id=str(invoice.id), amount_cents=2500, reference="wire 7", paid_at=None)
    )
    assert created.amount_cents == 2500 and created.invoice_ids == [str(invoice.id)]
    assert created.payment_status == "succeeded" and created.type == "manual"
    found = lago.client.payments.find(created.lago_id)
    assert found.reference == "wire 7"
    listed = lago.client.payments.find_all({"external_customer_id": customer.external_id})
    assert [p.lago_id for p in listed["payments"]] == [created.lago_id]
    fetched = lago.client.invoices.find(str(invoice.id))
    assert fetched.total_paid_amount_cents == 2500 and fetched.total_due_amount_cents == 7500


def test_retry_payment_and_payment_url_through_the_client(lago, fake_stripe):
    connection = stripe_connection(lago.organization)
    customer = stripe_customer(
        lago.organization, connection, provider_customer_id=fake_stripe.add_customer(), method="pm_card_visa"
    )
    invoice = finalized_invoice(customer, 4200, payment_status="failed")
    url = lago.client.invoices.payment_url(str(invoice.id))
    assert url.startswith("https://checkout.stripe.test/")
    assert lago.client.invoices.retry_payment(str(invoice.id)) is None
    assert lago.client.invoices.find(str(invoice.id)).payment_status == "succeeded"
    assert len(fake_stripe.charges()) == 1
    checkout = lago.client.customers.checkout_url(customer.external_id)
    assert checkout.startswith("https://checkout.stripe.test/")


def test_payment_requests_through_the_client(lago):
    customer = CustomerFactory(organization=lago.organization)
    invoice = finalized_invoice(customer, 3000, payment_overdue=True, payment_status="failed")
    created = lago.client.payment_requests.create(
        LagoPaymentRequest(
            email="ap@acme.test", external_customer_id=customer.external_id, lago_invoice_ids=[str(invoice.id)]
        )
    )
    assert created.amount_cents == 3000 and created.payment_status == "pending"
    assert created.invoices.__root__[0].lago_id == str(invoice.id)
    listed = lago.client.payment_requests.find_all()
    assert [r.lago_id for r in listed["payment_requests"]] == [created.lago_id]
