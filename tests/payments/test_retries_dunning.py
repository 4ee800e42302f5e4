"""The retry schedule and dunning campaigns, with controlled time."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command

from invoicing.credits.inputs import WalletCreate
from payments.models import CustomerDunning, Payment, PaymentRequest, PaymentStatus
from payments.services import collection, dunning
from tests.factories.customers import CustomerFactory
from tests.factories.payments import dunning_campaign, finalized_invoice, stripe_connection, stripe_customer

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def test_failed_charges_follow_the_schedule_then_the_invoice_is_overdue(organization, fake_stripe):
    connection = stripe_connection(organization)
    customer = stripe_customer(
        organization, connection, provider_customer_id=fake_stripe.add_customer(), method="pm_card_chargeDeclined"
    )
    invoice = finalized_invoice(customer, 5000)
    payment = collection.payment_submit(collection.invoice_collect(invoice.id, now=T0).id, now=T0)
    assert payment.next_retry_at == T0 + dt.timedelta(days=1)

    now = T0
    for delay in [1, 3, 5, 7]:
        assert collection.payments_retry_due(now=payment.next_retry_at - dt.timedelta(minutes=1)) == []
        now = payment.next_retry_at
        (retry,) = collection.payments_retry_due(now=now)
        assert retry.origin == "retry"
        assert collection.payments_retry_due(now=now) == []  # taken once
        payment = collection.payment_submit(retry.id, now=now)
        assert payment.status == PaymentStatus.FAILED
        invoice.refresh_from_db()
        if delay != 7:
            assert not invoice.payment_overdue
    # 1 + 4 attempts failed: the schedule is exhausted.
    assert payment.next_retry_at is None
    invoice.refresh_from_db()
    assert invoice.payment_overdue is True and invoice.payment_status == "failed"
    assert Payment.objects.filter(invoice=invoice).count() == 5
    gaps = [
        (b.failed_at - a.failed_at).days
        for a, b in zip(
            Payment.objects.filter(invoice=invoice).order_by("failed_at"),
            list(Payment.objects.filter(invoice=invoice).order_by("failed_at"))[1:],
            strict=False,
        )
    ]
    assert gaps == [1, 3, 5, 7]
    assert len(fake_stripe.posts("/v1/payment_intents")) == 5


def test_a_retry_is_skipped_once_the_invoice_was_paid_by_hand(organization, fake_stripe):
    connection = stripe_connection(organization)
    customer = stripe_customer(
        organization, connection, provider_customer_id=fake_stripe.add_customer(), method="pm_card_chargeDeclined"
    )
    invoice = finalized_invoice(customer, 5000)
    payment = collection.payment_submit(collection.invoice_collect(invoice.id, now=T0).id, now=T0)
    collection.payment_create_manual(organization, invoice_id=invoice.id, amount_cents=5000, reference="cheque")
    assert collection.payments_retry_due(now=payment.next_retry_at) == []
    assert len(fake_stripe.posts("/v1/payment_intents")) == 1


def _overdue(customer, amount, currency="USD"):
    return finalized_invoice(customer, amount, currency=currency, payment_overdue=True, payment_status="failed")


def test_dunning_campaign_schedule(organization, django_capture_on_commit_callbacks):
    def run(at):
        with django_capture_on_commit_callbacks(execute=True):
            return dunning.dunning_run(at)

    campaign = dunning_campaign(organization, days_between_attempts=3, max_attempts=3)
    customer = CustomerFactory(organization=organization, email="ap@acme.test, cfo@acme.test")
    a, b = _overdue(customer, 600), _overdue(customer, 700)
    below = CustomerFactory(organization=organization)
    _overdue(below, 999)
    other_currency = CustomerFactory(organization=organization)
    _overdue(other_currency, 50_000, currency="EUR")  # no EUR threshold

    (first,) = run(T0)
    assert (first["amount_cents"], first["attempt"]) == (1300, 1)
    request = PaymentRequest.objects.get()
    assert set(request.invoices.all()) == {a, b} and request.campaign == campaign
    assert request.email == "ap@acme.test, cfo@acme.test"
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["ap@acme.test", "cfo@acme.test"]
    assert a.number in mail.outbox[0].body and "13.00 USD" in mail.outbox[0].body

    assert run(T0 + dt.timedelta(days=2, hours=23)) == []
    assert [e["attempt"] for e in run(T0 + dt.timedelta(days=3))] == [2]
    state = CustomerDunning.objects.get(customer=customer)
    assert state.completed_at is None
    assert [e["attempt"] for e in run(T0 + dt.timedelta(days=6))] == [3]
    state.refresh_from_db()
    assert state.completed_at == T0 + dt.timedelta(days=6)  # flagged after the last attempt
    assert run(T0 + dt.timedelta(days=9)) == []
    assert PaymentRequest.objects.count() == 3
    assert len(mail.outbox) == 3


def test_dunning_finished_webhook(organization):
    from webhooks.models import WebhookDelivery, WebhookEndpoint

    WebhookEndpoint.objects.create(organization=organization, webhook_url="http://127.0.0.1:9/hook")
    dunning_campaign(organization, max_attempts=1)
    customer = CustomerFactory(organization=organization)
    _overdue(customer, 5000)
    dunning.dunning_run(T0)
    types = list(WebhookDelivery.objects.values_list("webhook_type", flat=True))
    assert "payment_request.created" in types and "dunning_campaign.finished" in types


def test_paying_resets_the_customers_dunning(organization):
    dunning_campaign(organization, days_between_attempts=1, max_attempts=2)
    customer = CustomerFactory(organization=organization)
    invoice = _overdue(customer, 5000)
    dunning.dunning_run(T0)
    collection.payment_create_manual(organization, invoice_id=invoice.id, amount_cents=5000, reference="paid")
    dunning.dunning_run(T0 + dt.timedelta(days=1))
    assert not CustomerDunning.objects.filter(customer=customer).exists()
    _overdue(customer, 5000)
    (entry,) = dunning.dunning_run(T0 + dt.timedelta(days=2))
    assert entry["attempt"] == 1


def test_dunning_charges_the_saved_card_once_for_all_invoices(
    organization, fake_stripe, django_capture_on_commit_callbacks
):
    dunning_campaign(organization)
    connection = stripe_connection(organization)
    customer = stripe_customer(
        organization, connection, provider_customer_id=fake_stripe.add_customer(), method="pm_card_visa"
    )
    a, b = _overdue(customer, 600), _overdue(customer, 700)
    with django_capture_on_commit_callbacks(execute=True):
        dunning.dunning_run(T0)
    request = PaymentRequest.objects.get()
    assert request.payment_status == "succeeded"
    (charge,) = fake_stripe.posts("/v1/payment_intents")
    assert charge["params"]["amount"] == "1300"
    for invoice in (a, b):
        invoice.refresh_from_db()
        assert invoice.payment_status == "succeeded" and invoice.total_due_amount_cents == 0


def test_dry_run_and_the_command(organization):
    dunning_campaign(organization)
    _overdue(CustomerFactory(organization=organization), 5000)
    out = StringIO()
    call_command("run_dunning", "--dry-run", "--at", "2026-03-02T09:00:00", stdout=out)
    assert "would request 5000 USD" in out.getvalue()
    assert PaymentRequest.objects.count() == 0 and len(mail.outbox) == 0
    out = StringIO()
    call_command("run_dunning", "--dry-run", "--organization", organization.name, stdout=out)  # by name
    assert "would request 5000 USD" in out.getvalue()
    out = StringIO()
    call_command("run_dunning", stdout=out)
    assert "1 payment request(s) requested." in out.getvalue()
    assert PaymentRequest.objects.count() == 1


def test_payment_requests_api(api, organization, other_tenant, django_capture_on_commit_callbacks):
    customer = CustomerFactory(organization=organization)
    a, b = _overdue(customer, 600), _overdue(customer, 700)
    not_overdue = finalized_invoice(customer, 100)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            "/api/v1/payment_requests",
            {
                "payment_request": {
                    "external_customer_id": customer.external_id,
                    "email": "pay@acme.test",
                    "lago_invoice_ids": [str(a.id), str(b.id)],
                }
            },
            format="json",
        )
    assert response.status_code == 200, response.content
    body = response.json()["payment_request"]
    assert body["amount_cents"] == 1300 and body["amount_currency"] == "USD" and body["payment_status"] == "pending"
    assert {i["lago_id"] for i in body["invoices"]} == {str(a.id), str(b.id)}
    assert mail.outbox[0].to == ["pay@acme.test"]

    bad = api.post(
        "/api/v1/payment_requests",
        {"payment_request": {"external_customer_id": customer.external_id, "lago_invoice_ids": [str(not_overdue.id)]}},
        format="json",
    )
    assert bad.status_code == 422 and bad.json()["error_details"] == {"invoices": ["invoices_not_overdue"]}
    assert api.get("/api/v1/payment_requests").json()["meta"]["total_count"] == 1
    assert api.get(f"/api/v1/payment_requests/{body['lago_id']}").status_code == 200
    assert other_tenant.client.get(f"/api/v1/payment_requests/{body['lago_id']}").status_code == 404
    stolen = other_tenant.client.post(
        "/api/v1/payment_requests",
        {"payment_request": {"external_customer_id": customer.external_id, "lago_invoice_ids": [str(a.id)]}},
        format="json",
    )
    assert stolen.status_code == 404


def test_a_top_up_whose_retries_are_exhausted_fails_its_credits(
    organization, fake_stripe, django_capture_on_commit_callbacks, settings
):
    from invoicing.credits.models import WalletTransaction
    from invoicing.credits.services.wallets import wallet_create
    from invoicing.models import Invoice

    settings.PAYMENTS_RETRY_SCHEDULE_DAYS = [1]
    connection = stripe_connection(organization)
    customer = stripe_customer(
        organization, connection, provider_customer_id=fake_stripe.add_customer(), method="pm_card_chargeDeclined"
    )
    with django_capture_on_commit_callbacks(execute=True):
        wallet_create(
            organization,
            WalletCreate.from_body(
                {"external_customer_id": customer.external_id, "rate_amount": "1", "paid_credits": "10"}
            ),
        )
    invoice = Invoice.objects.get(customer=customer, invoice_type="credit")
    first = Payment.objects.get(invoice=invoice)
    assert first.status == PaymentStatus.FAILED
    (retry,) = collection.payments_retry_due(now=first.next_retry_at)
    collection.payment_submit(retry.id, now=first.next_retry_at)
    tx = WalletTransaction.objects.get(invoice=invoice)
    assert tx.status == "failed"
    invoice.refresh_from_db()
    assert invoice.payment_overdue is True


def test_retry_payments_dry_run_counts_what_is_due_and_changes_nothing(organization, fake_stripe):
    connection = stripe_connection(organization)
    customer = stripe_customer(
        organization, connection, provider_customer_id=fake_stripe.add_customer(), method="pm_card_chargeDeclined"
    )
    invoice = finalized_invoice(customer, 5000)
    attempt = collection.invoice_collect(invoice.id, now=T0)
    assert attempt is not None
    payment = collection.payment_submit(attempt.id, now=T0)
    assert payment.next_retry_at is not None
    at = payment.next_retry_at.isoformat()
    out = StringIO()
    call_command("retry_payments", "--at", at, "--dry-run", stdout=out)
    assert "dry run: 1 retry attempt(s) due" in out.getvalue() and "(nothing written)" in out.getvalue()
    payment.refresh_from_db()
    assert payment.next_retry_at is not None and Payment.objects.filter(invoice=invoice).count() == 1
    out = StringIO()
    call_command("retry_payments", "--at", at, stdout=out)
    assert out.getvalue().startswith("1 retry attempt(s)")
