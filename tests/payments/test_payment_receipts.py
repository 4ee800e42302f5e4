"""Payment receipts: one per succeeded payment, gapless numbers per organization, a PDF, the
webhook `payment_receipt.created`, `GET /payment_receipts[/{id}]`, the admin."""

from __future__ import annotations

import io
import threading

import pytest
from django.db import connection as db_connection
from pypdf import PdfReader

from billing_project.core.money import format_amount
from payments.models import PaymentReceipt, PaymentStatus
from payments.providers import ChargeResult
from payments.services import collection, receipts
from tests.factories.payments import (
    adyen_connection,
    finalized_invoice,
    provider_customer,
    stripe_connection,
    stripe_customer,
)
from webhooks.models import WebhookDelivery

pytestmark = pytest.mark.django_db


def _paid_by_card(organization, fake_stripe, amount=5000, **extra):
    connection = stripe_connection(organization, code=extra.pop("code", "stripe_1"))
    customer = stripe_customer(
        organization, connection, provider_customer_id=fake_stripe.add_customer(), method="pm_card_visa", **extra
    )
    invoice = finalized_invoice(customer, amount)
    payment = collection.invoice_collect(invoice.id)
    assert payment is not None
    return invoice, collection.payment_submit(payment.id)


def test_a_succeeded_charge_gets_one_numbered_receipt_with_a_pdf(
    organization, fake_stripe, django_capture_on_commit_callbacks
):
    organization.document_number_prefix = "ACME"
    organization.save()
    with django_capture_on_commit_callbacks(execute=True):
        _, payment = _paid_by_card(organization, fake_stripe)
    receipt = PaymentReceipt.objects.get(payment=payment)
    assert receipt.number == "ACME-RCPT-000001" and receipt.sequential_id == 1
    content = receipt.file.read()
    assert content.startswith(b"%PDF")
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)
    invoice = payment.invoice
    for expected in (
        "Receipt",
        "ACME-RCPT-000001",
        f"Paid on {payment.paid_at.date().isoformat()}",
        "Amount paid",
        format_amount(5000, payment.currency),
        "Stripe",
        invoice.number,
        "Still due",
        format_amount(0, invoice.currency),
    ):
        assert expected in text, expected
    # The same success applied again (a webhook after the charge answer): still one receipt.
    collection.payment_record_result(payment.id, ChargeResult(status="succeeded"))
    assert PaymentReceipt.objects.filter(payment=payment).count() == 1


def test_failed_payments_get_no_receipt(organization, fake_adyen):
    connection = adyen_connection(organization)
    customer = provider_customer(organization, connection, provider_customer_id="c", method="card_refused")
    payment = collection.invoice_collect(finalized_invoice(customer, 1000, currency="EUR").id)
    assert payment is not None
    assert collection.payment_submit(payment.id).status == PaymentStatus.FAILED
    assert not PaymentReceipt.objects.exists()


def test_manual_payments_get_receipts_and_numbers_are_per_organization(organization, other_tenant, fake_stripe):
    from tests.factories.customers import CustomerFactory

    customer = CustomerFactory(organization=organization)
    invoice = finalized_invoice(customer, 3000)
    first = collection.payment_create_manual(organization, invoice_id=invoice.id, amount_cents=1000, reference="wire 1")
    second = collection.payment_create_manual(
        organization, invoice_id=invoice.id, amount_cents=2000, reference="wire 2"
    )
    theirs_customer = CustomerFactory(organization=other_tenant.organization)
    theirs = collection.payment_create_manual(
        other_tenant.organization,
        invoice_id=finalized_invoice(theirs_customer, 500).id,
        amount_cents=500,
        reference="x",
    )
    assert [first.receipt.sequential_id, second.receipt.sequential_id] == [1, 2]
    assert theirs.receipt.sequential_id == 1


def test_the_webhook_payment_receipt_created_is_sent(organization, fake_stripe):
    from webhooks.services import webhook_endpoint_create

    webhook_endpoint_create(organization, webhook_url="https://hooks.example/bxb")
    _, payment = _paid_by_card(organization, fake_stripe)
    delivery = WebhookDelivery.objects.get(webhook_type="payment_receipt.created")
    body = delivery.payload
    assert body["object_type"] == "payment_receipt"
    assert body["payment_receipt"]["number"] == payment.receipt.number
    assert body["payment_receipt"]["payment"]["lago_id"] == str(payment.id)


@pytest.mark.django_db(transaction=True)
def test_concurrent_successes_take_consecutive_numbers(organization):
    from tests.factories.customers import CustomerFactory

    customer = CustomerFactory(organization=organization)
    invoices = [finalized_invoice(customer, 1000) for _ in range(6)]
    errors: list[BaseException] = []

    def pay(invoice_id):
        try:
            collection.payment_create_manual(organization, invoice_id=invoice_id, amount_cents=1000, reference="r")
        except BaseException as exc:
            errors.append(exc)
        finally:
            db_connection.close()

    threads = [threading.Thread(target=pay, args=(i.id,)) for i in invoices]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    numbers = sorted(PaymentReceipt.objects.filter(organization=organization).values_list("sequential_id", flat=True))
    assert numbers == [1, 2, 3, 4, 5, 6]


def test_api_list_and_detail_in_lagos_shape(api, organization, fake_stripe):
    invoice, payment = _paid_by_card(organization, fake_stripe)
    receipts.receipt_generate_pdf(payment.receipt.id)
    response = api.get("/api/v1/payment_receipts")
    assert response.status_code == 200
    body = response.json()
    assert body["meta"]["total_count"] == 1
    item = body["payment_receipts"][0]
    assert set(item) == {"lago_id", "number", "file_url", "xml_url", "payment", "created_at"}
    assert item["file_url"].endswith(".pdf") and item["xml_url"] is None
    assert item["payment"]["lago_id"] == str(payment.id)
    detail = api.get(f"/api/v1/payment_receipts/{item['lago_id']}")
    assert detail.status_code == 200 and detail.json()["payment_receipt"] == item
    by_invoice = api.get(f"/api/v1/payment_receipts?invoice_id={invoice.id}").json()
    assert [r["lago_id"] for r in by_invoice["payment_receipts"]] == [item["lago_id"]]
    other = api.get("/api/v1/payment_receipts?invoice_id=5b6f1c0e-4f57-4a4d-9f39-9c1d5e4b0a11").json()
    assert other["payment_receipts"] == []
    assert api.get("/api/v1/payment_receipts?invoice_id=garbage").json()["payment_receipts"] == []


def test_another_tenant_sees_no_receipt(api, organization, other_tenant, fake_stripe):
    _, payment = _paid_by_card(organization, fake_stripe)
    theirs = other_tenant.client
    assert theirs.get("/api/v1/payment_receipts").json()["payment_receipts"] == []
    response = theirs.get(f"/api/v1/payment_receipts/{payment.receipt.id}")
    assert response.status_code == 404 and response.json()["code"] == "payment_receipt_not_found"
    assert api.get("/api/v1/payment_receipts/not-a-uuid").status_code == 404


@pytest.fixture
def root(client):
    from django.contrib.auth.models import User

    client.force_login(User.objects.create_superuser("root", "root@example.test", "pw"))
    return client


def test_admin_lists_receipts_and_serves_the_pdf(root, organization, fake_stripe):
    admin_client = root
    _, payment = _paid_by_card(organization, fake_stripe)
    response = admin_client.get("/admin/payments/paymentreceipt/")
    assert response.status_code == 200
    assert payment.receipt.number in response.content.decode()
    pdf = admin_client.get(f"/admin/payments/paymentreceipt/{payment.receipt.id}/pdf/")
    assert pdf.status_code == 200 and b"".join(pdf.streaming_content).startswith(b"%PDF")


def test_the_receipt_is_issued_by_the_entity_that_billed_the_invoice(organization):
    from payments.pdf import receipt_document
    from tests.factories.customers import BillingEntityFactory, CustomerFactory

    eu = BillingEntityFactory(organization=organization, code="eu", legal_name="Acme Europe SAS", email="eu@acme.test")
    customer = CustomerFactory(organization=organization, billing_entity=eu)
    invoice = finalized_invoice(customer, 3000)
    payment = collection.payment_create_manual(organization, invoice_id=invoice.id, amount_cents=3000, reference="w")
    document = receipt_document(payment.receipt)
    assert (document.issuer, document.issuer_email) == ("Acme Europe SAS", "eu@acme.test")
