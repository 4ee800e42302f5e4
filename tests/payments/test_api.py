"""The payments API: manual (partial) payments, retry_payment, payment_url, checkout_url."""

from __future__ import annotations

import pytest

from payments.models import Payment, PaymentMethod, PaymentStatus
from payments.services import collection
from tests.factories.customers import CustomerFactory
from tests.factories.payments import finalized_invoice, stripe_connection, stripe_customer

pytestmark = pytest.mark.django_db


def test_partial_manual_payments_add_up(api, organization):
    customer = CustomerFactory(organization=organization)
    invoice = finalized_invoice(customer, 10_000)
    first = api.post(
        "/api/v1/payments",
        {"payment": {"invoice_id": str(invoice.id), "amount_cents": 3000, "reference": "wire 1"}},
        format="json",
    )
    assert first.status_code == 200, first.content
    body = first.json()["payment"]
    assert body["amount_cents"] == 3000 and body["type"] == "manual" and body["payment_status"] == "succeeded"
    assert body["invoice_ids"] == [str(invoice.id)] and body["reference"] == "wire 1"
    invoice.refresh_from_db()
    assert (invoice.total_paid_amount_cents, invoice.total_due_amount_cents) == (3000, 7000)
    assert invoice.payment_status == "pending"

    too_much = api.post(
        "/api/v1/payments",
        {"payment": {"invoice_id": str(invoice.id), "amount_cents": 7001, "reference": "wire 2"}},
        format="json",
    )
    assert too_much.status_code == 422
    assert too_much.json()["error_details"] == {"amount_cents": ["higher_than_remaining_invoice_amount"]}

    rest = api.post(
        "/api/v1/payments",
        {"payment": {"invoice_id": str(invoice.id), "amount_cents": 7000, "reference": "wire 2"}},
        format="json",
    )
    assert rest.status_code == 200
    invoice.refresh_from_db()
    assert (invoice.total_paid_amount_cents, invoice.total_due_amount_cents) == (10_000, 0)
    assert invoice.payment_status == "succeeded"

    again = api.post(
        "/api/v1/payments",
        {"payment": {"invoice_id": str(invoice.id), "amount_cents": 1, "reference": "wire 3"}},
        format="json",
    )
    assert again.status_code == 405 and again.json()["code"] == "invalid_status"

    listed = api.get(f"/api/v1/payments?invoice_id={invoice.id}").json()
    assert [p["amount_cents"] for p in listed["payments"]] == [7000, 3000]
    assert listed["meta"]["total_count"] == 2
    one = api.get(f"/api/v1/payments/{body['lago_id']}")
    assert one.status_code == 200 and one.json()["payment"]["lago_id"] == body["lago_id"]


@pytest.mark.parametrize(
    ("payload", "status", "expected"),
    [
        ({}, 400, None),
        ({"payment": {"invoice_id": "x", "amount_cents": 0, "reference": "r"}}, 422, "amount_cents"),
        ({"payment": {"invoice_id": "x", "amount_cents": 10}}, 422, "reference"),
    ],
)
def test_manual_payment_validation(api, payload, status, expected):
    response = api.post("/api/v1/payments", payload, format="json")
    assert response.status_code == status
    if expected:
        assert expected in response.json()["error_details"]


def test_other_tenants_cannot_see_or_pay(api, organization, other_tenant):
    customer = CustomerFactory(organization=organization)
    invoice = finalized_invoice(customer, 1000)
    payment = collection.payment_create_manual(organization, invoice_id=invoice.id, amount_cents=500, reference="r")
    assert other_tenant.client.get(f"/api/v1/payments/{payment.id}").status_code == 404
    assert other_tenant.client.get("/api/v1/payments").json()["payments"] == []
    response = other_tenant.client.post(
        "/api/v1/payments",
        {"payment": {"invoice_id": str(invoice.id), "amount_cents": 500, "reference": "r"}},
        format="json",
    )
    assert response.status_code == 404 and response.json()["code"] == "invoice_not_found"
    assert other_tenant.client.post(f"/api/v1/invoices/{invoice.id}/retry_payment").status_code == 404
    assert other_tenant.client.post(f"/api/v1/invoices/{invoice.id}/payment_url").status_code == 404
    assert api.get("/api/v1/payments/not-a-uuid").status_code == 404


def _stripe(organization, fake, method):
    connection = stripe_connection(organization)
    return connection, stripe_customer(
        organization, connection, provider_customer_id=fake.add_customer(), method=method
    )


def test_retry_payment_after_a_decline(api, organization, fake_stripe, django_capture_on_commit_callbacks):
    _connection, customer = _stripe(organization, fake_stripe, "pm_card_chargeDeclined")
    invoice = finalized_invoice(customer, 2000)
    collection.payment_submit(collection.invoice_collect(invoice.id).id)
    invoice.refresh_from_db()
    assert invoice.payment_status == "failed"
    PaymentMethod.objects.filter(customer=customer).update(provider_method_id="pm_card_visa")
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"/api/v1/invoices/{invoice.id}/retry_payment")
    assert response.status_code == 200 and response.content == b""
    invoice.refresh_from_db()
    assert invoice.payment_status == "succeeded"
    latest = Payment.objects.filter(invoice=invoice).order_by("-created_at").first()
    assert latest.origin == "api_retry" and latest.status == PaymentStatus.SUCCEEDED
    # Paid: nothing to retry.
    response = api.post(f"/api/v1/invoices/{invoice.id}/retry_payment")
    assert response.status_code == 405 and response.json()["code"] == "invalid_status"


def test_retry_payment_refuses_while_the_provider_processes(api, organization, fake_stripe):
    _, customer = _stripe(organization, fake_stripe, "pm_sepa_debit")
    invoice = finalized_invoice(customer, 2000)
    collection.payment_submit(collection.invoice_collect(invoice.id).id)
    response = api.post(f"/api/v1/invoices/{invoice.id}/retry_payment")
    assert response.status_code == 405
    assert response.json()["code"] == "payment_processor_is_currently_handling_payment"


def test_retry_payment_replaces_an_abandoned_3ds_attempt(
    api, organization, fake_stripe, django_capture_on_commit_callbacks
):
    _, customer = _stripe(organization, fake_stripe, "pm_card_threeDSecure")
    invoice = finalized_invoice(customer, 2000)
    first = collection.payment_submit(collection.invoice_collect(invoice.id).id)
    assert first.status == PaymentStatus.REQUIRES_ACTION
    PaymentMethod.objects.filter(customer=customer).update(provider_method_id="pm_card_visa")
    with django_capture_on_commit_callbacks(execute=True):
        assert api.post(f"/api/v1/invoices/{invoice.id}/retry_payment").status_code == 200
    first.refresh_from_db()
    assert first.status == PaymentStatus.CANCELED
    assert fake_stripe.payment_intents[first.provider_payment_id]["status"] == "canceled"
    invoice.refresh_from_db()
    assert invoice.payment_status == "succeeded"


def test_retry_payment_on_a_draft(api, organization):
    invoice = finalized_invoice(CustomerFactory(organization=organization), 1000, status="draft")
    response = api.post(f"/api/v1/invoices/{invoice.id}/retry_payment")
    assert response.status_code == 405 and response.json()["code"] == "invalid_status"


def test_payment_url_for_an_invoice_without_a_saved_method(api, organization, fake_stripe):
    _, customer = _stripe(organization, fake_stripe, None)
    invoice = finalized_invoice(customer, 1500, currency="JPY")
    response = api.post(f"/api/v1/invoices/{invoice.id}/payment_url")
    assert response.status_code == 200, response.content
    details = response.json()["invoice_payment_details"]
    assert details["payment_url"].startswith("https://checkout.stripe.test/")
    assert details["lago_invoice_id"] == str(invoice.id)
    (session,) = fake_stripe.sessions.values()
    assert session["mode"] == "payment"
    item = session["params"]["line_items"][0]["price_data"]
    assert item["unit_amount"] == "1500" and item["currency"] == "jpy"
    payment = Payment.objects.get(invoice=invoice)
    assert session["params"]["payment_intent_data"]["metadata"]["bxb_payment_id"] == str(payment.id)
    # Asked again: the same page.
    again = api.post(f"/api/v1/invoices/{invoice.id}/payment_url").json()
    assert again["invoice_payment_details"]["payment_url"] == details["payment_url"]
    assert len(fake_stripe.sessions) == 1


def test_payment_url_without_a_provider(api, organization):
    invoice = finalized_invoice(CustomerFactory(organization=organization), 1000)
    response = api.post(f"/api/v1/invoices/{invoice.id}/payment_url")
    assert response.status_code == 422
    assert response.json()["error_details"] == {"base": ["no_linked_payment_provider"]}


def test_checkout_url_in_setup_mode(api, organization, fake_stripe):
    connection = stripe_connection(organization)
    customer = CustomerFactory(
        organization=organization,
        payment_provider="stripe",
        payment_provider_code=connection.code,
        provider_settings={"provider_payment_methods": ["card", "sepa_debit"]},
    )
    response = api.post(f"/api/v1/customers/{customer.external_id}/checkout_url")
    assert response.status_code == 200, response.content
    body = response.json()["customer"]
    assert body["checkout_url"].startswith("https://checkout.stripe.test/")
    assert body["external_customer_id"] == customer.external_id and body["payment_provider"] == "stripe"
    customer.refresh_from_db()
    assert customer.provider_customer_id in fake_stripe.customers  # created on the way
    (session,) = fake_stripe.sessions.values()
    assert session["mode"] == "setup" and session["customer"] == customer.provider_customer_id
    assert session["params"]["payment_method_types"] == ["card", "sepa_debit"]


def test_checkout_url_errors(api, organization, other_tenant):
    customer = CustomerFactory(organization=organization)
    response = api.post(f"/api/v1/customers/{customer.external_id}/checkout_url")
    assert response.status_code == 422 and response.json()["error_details"] == {"base": ["invalid_payment_provider"]}
    assert api.post("/api/v1/customers/nobody/checkout_url").status_code == 404
    other = other_tenant.client.post(f"/api/v1/customers/{customer.external_id}/checkout_url")
    assert other.status_code == 404


def test_customer_upsert_with_sync_with_provider_creates_the_stripe_customer(
    api, organization, fake_stripe, django_capture_on_commit_callbacks
):
    stripe_connection(organization)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            "/api/v1/customers",
            {
                "customer": {
                    "external_id": "acme",
                    "name": "Acme",
                    "email": "billing@acme.test",
                    "billing_configuration": {"payment_provider": "stripe", "sync_with_provider": True},
                }
            },
            format="json",
        )
    assert response.status_code == 200, response.content
    from customers.models import Customer

    customer = Customer.objects.get(organization=organization, external_id="acme")
    assert customer.provider_customer_id in fake_stripe.customers
    (request,) = fake_stripe.posts("/v1/customers")
    assert request["idempotency_key"] == f"bxb_customer_{customer.id}"
    assert request["params"]["email"] == "billing@acme.test"
    # Upserting again does not create a second one.
    with django_capture_on_commit_callbacks(execute=True):
        api.post("/api/v1/customers", {"customer": {"external_id": "acme", "name": "Acme 2"}}, format="json")
    assert len(fake_stripe.posts("/v1/customers")) == 1


def test_credentials_are_encrypted_at_rest(organization):
    connection = stripe_connection(organization, secret_key="sk_live_very_secret")
    raw = (
        type(connection)
        .objects.filter(id=connection.id)
        .values_list("secret_key_encrypted", "webhook_secret_encrypted")[0]
    )
    assert "sk_live_very_secret" not in raw[0] and raw[0]
    assert "whsec" not in raw[1]
    connection.refresh_from_db()
    assert connection.secret_key == "sk_live_very_secret"


def test_paying_by_hand_cancels_an_open_payment_page(
    api, organization, fake_stripe, django_capture_on_commit_callbacks
):
    _, customer = _stripe(organization, fake_stripe, None)
    invoice = finalized_invoice(customer, 1500)
    assert api.post(f"/api/v1/invoices/{invoice.id}/payment_url").status_code == 200
    page = Payment.objects.get(invoice=invoice)
    assert page.status == PaymentStatus.REQUIRES_ACTION
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            "/api/v1/payments",
            {"payment": {"invoice_id": str(invoice.id), "amount_cents": 1500, "reference": "wire"}},
            format="json",
        )
    assert response.status_code == 200
    page.refresh_from_db()
    assert page.status == PaymentStatus.CANCELED


def test_a_provider_outage_does_not_fail_retry_payment(
    api, organization, fake_stripe, django_capture_on_commit_callbacks, settings
):
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    _, customer = _stripe(organization, fake_stripe, "pm_card_visa")
    invoice = finalized_invoice(customer, 1500, payment_status="failed")
    fake_stripe.fail_next(20, "500")
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"/api/v1/invoices/{invoice.id}/retry_payment")
    assert response.status_code == 200
    payment = Payment.objects.get(invoice=invoice)
    assert payment.status == PaymentStatus.PENDING  # the sweeper submits it again, same key
    assert fake_stripe.charges() == []


def test_sync_with_provider_without_a_connection_does_not_break_the_upsert(api, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            "/api/v1/customers",
            {
                "customer": {
                    "external_id": "lonely",
                    "billing_configuration": {"payment_provider": "stripe", "sync_with_provider": True},
                }
            },
            format="json",
        )
    assert response.status_code == 200
    assert response.json()["customer"]["billing_configuration"]["provider_customer_id"] is None


def test_stripe_down_does_not_break_the_upsert(
    api, organization, fake_stripe, settings, django_capture_on_commit_callbacks
):
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    stripe_connection(organization)
    fake_stripe.fail_next(50, "500")
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            "/api/v1/customers",
            {
                "customer": {
                    "external_id": "later",
                    "billing_configuration": {"payment_provider": "stripe", "sync_with_provider": True},
                }
            },
            format="json",
        )
    assert response.status_code == 200
    from customers.models import Customer
    from payments.services.customers import provider_customers_sync_pending

    fake_stripe.faults.clear()
    assert provider_customers_sync_pending() == 1  # the sweeper creates it once Stripe is back
    assert Customer.objects.get(external_id="later").provider_customer_id in fake_stripe.customers
