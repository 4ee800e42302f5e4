"""GoCardless: the real gocardless-pro SDK against the suite's fake GoCardless
(tests/payments/fake_gocardless.py), the SDK's own webhook signature verification."""

from __future__ import annotations

import json

import pytest

from invoicing.credits.inputs import CreditNoteCreate
from invoicing.credits.models import RefundStatus
from invoicing.credits.services.credit_notes import credit_note_create
from payments.models import EventStatus, PaymentMethod, PaymentStatus, ProviderEvent, Refund
from payments.providers import TransientProviderError
from payments.services import collection, customers
from tests.factories.customers import CustomerFactory
from tests.factories.payments import finalized_invoice, gocardless_connection, provider_customer
from tests.payments.fake_gocardless import gc_event, sign, webhook

pytestmark = pytest.mark.django_db


def _collect(invoice_id):
    payment = collection.invoice_collect(invoice_id)
    assert payment is not None
    return payment


@pytest.fixture
def gocardless(organization, fake_gocardless):
    return gocardless_connection(organization)


def _post(client, organization, body, signature=None, capture=None):
    url = f"/webhooks/gocardless/{organization.id}"
    header = sign(body) if signature is None else signature
    if capture is None:
        return client.post(url, data=body, content_type="application/json", HTTP_WEBHOOK_SIGNATURE=header)
    with capture(execute=True):
        return client.post(url, data=body, content_type="application/json", HTTP_WEBHOOK_SIGNATURE=header)


def _debited(organization, connection, fake, amount=12_345):
    customer_id = "CU_TEST1"
    mandate = fake.add_mandate(customer_id)
    customer = provider_customer(
        organization, connection, provider_customer_id=customer_id, method=mandate, method_type="direct_debit",
        currency="EUR",
    )  # fmt: skip
    invoice = finalized_invoice(customer, amount, currency="EUR", with_fee=True)
    payment = collection.payment_submit(_collect(invoice.id).id)
    return customer, invoice, payment


def test_a_direct_debit_is_processing_until_confirmed(
    client, organization, gocardless, fake_gocardless, django_capture_on_commit_callbacks
):
    _, invoice, payment = _debited(organization, gocardless, fake_gocardless)
    assert payment.status == PaymentStatus.PROCESSING
    (request,) = fake_gocardless.posts("/payments")
    params = request["body"]["payments"]
    assert params["amount"] == 12_345 and params["currency"] == "EUR"
    assert params["links"]["mandate"] == payment.provider_method_id
    assert params["metadata"]["bxb_payment_id"] == str(payment.id)
    assert request["idempotency_key"] == f"bxb_payment_{payment.id}"
    assert request["headers"]["authorization"] == "Bearer gc_token"
    body = webhook(
        [
            gc_event(
                "payments",
                "confirmed",
                {"payment": payment.provider_payment_id},
                resource_metadata={"bxb_payment_id": str(payment.id)},
            )
        ]
    )
    response = _post(client, organization, body, capture=django_capture_on_commit_callbacks)
    assert response.status_code == 200, response.content
    payment.refresh_from_db()
    invoice.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert invoice.payment_status == "succeeded"


def test_a_failed_debit_fails_the_payment_found_by_its_provider_id(
    client, organization, gocardless, fake_gocardless, django_capture_on_commit_callbacks
):
    _, invoice, payment = _debited(organization, gocardless, fake_gocardless)
    body = webhook(
        [
            gc_event(
                "payments",
                "failed",
                {"payment": payment.provider_payment_id},
                details={"cause": "insufficient_funds", "reason_code": "AM04", "description": "No money"},
            )
        ]
    )
    _post(client, organization, body, capture=django_capture_on_commit_callbacks)
    payment.refresh_from_db()
    invoice.refresh_from_db()
    assert payment.status == PaymentStatus.FAILED
    assert payment.error_code == "AM04" and payment.error_message == "No money"
    assert invoice.payment_status == "failed"


def test_a_charge_back_after_confirmation_is_a_lost_dispute(
    client, organization, gocardless, fake_gocardless, django_capture_on_commit_callbacks
):
    _, _invoice, payment = _debited(organization, gocardless, fake_gocardless)
    links = {"payment": payment.provider_payment_id}
    body = webhook([gc_event("payments", "confirmed", links), gc_event("payments", "charged_back", links)])
    _post(client, organization, body, capture=django_capture_on_commit_callbacks)
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED  # never goes back
    assert payment.dispute_status == "lost" and payment.dispute_lost_at is not None


def test_the_sdk_replays_a_repeated_key_as_the_first_payment(organization, gocardless, fake_gocardless):
    customer_id = "CU_TEST2"
    mandate = fake_gocardless.add_mandate(customer_id)
    customer = provider_customer(organization, gocardless, provider_customer_id=customer_id, method=mandate)
    pending = _collect(finalized_invoice(customer, 5000, currency="EUR").id)
    fake_gocardless.fail_next(3, "timeout")  # the SDK's own 3 tries time out; each was processed
    with pytest.raises(TransientProviderError):
        collection.payment_submit(pending.id)
    pending.refresh_from_db()
    assert pending.status == PaymentStatus.PENDING
    payment = collection.payment_submit(pending.id)
    assert payment.status == PaymentStatus.PROCESSING
    assert len(fake_gocardless.payments) == 1  # one debit, whatever the retries
    keys = {r["idempotency_key"] for r in fake_gocardless.posts("/payments")}
    assert keys == {f"bxb_payment_{pending.id}"}
    assert payment.provider_payment_id == next(iter(fake_gocardless.payments))


def test_an_inactive_mandate_fails_the_attempt(organization, gocardless, fake_gocardless):
    customer = provider_customer(organization, gocardless, provider_customer_id="CU_X", method="MD_DEAD")
    payment = collection.payment_submit(_collect(finalized_invoice(customer, 5000, "EUR").id).id)
    assert payment.status == PaymentStatus.FAILED and payment.error_code == "mandate_is_inactive"


def test_sync_with_provider_creates_the_gocardless_customer_once(organization, gocardless, fake_gocardless):
    customer = CustomerFactory(
        organization=organization,
        name="Acme Ltd",
        email="billing@acme.test",
        payment_provider="gocardless",
        provider_settings={"sync_with_provider": True},
    )
    assert customers.wants_provider_customer(customer)
    customer = customers.provider_customer_ensure(customer.id)
    assert (customer.provider_customer_id or "").startswith("CU")
    (request,) = fake_gocardless.posts("/customers")
    assert request["body"]["customers"]["company_name"] == "Acme Ltd"
    assert request["body"]["customers"]["email"] == "billing@acme.test"
    assert request["idempotency_key"] == f"bxb_customer_{customer.id}"


def test_checkout_url_is_a_billing_request_flow(api, organization, gocardless, fake_gocardless):
    CustomerFactory(
        organization=organization, external_id="gc-1", payment_provider="gocardless", currency="GBP",
        provider_customer_id="CU_FLOW",
    )  # fmt: skip
    response = api.post("/api/v1/customers/gc-1/checkout_url", format="json")
    assert response.status_code == 200, response.content
    assert response.json()["customer"]["checkout_url"].startswith("https://pay-sandbox.gocardless.com/")
    (br,) = fake_gocardless.posts("/billing_requests")
    assert br["body"]["billing_requests"]["mandate_request"] == {"currency": "GBP"}
    assert br["body"]["billing_requests"]["links"] == {"customer": "CU_FLOW"}
    (flow,) = fake_gocardless.posts("/billing_request_flows")
    assert flow["body"]["billing_request_flows"]["links"]["billing_request"] in fake_gocardless.billing_requests


def test_a_new_mandate_becomes_the_default_method_and_collects(
    client, organization, gocardless, fake_gocardless, django_capture_on_commit_callbacks
):
    customer = provider_customer(organization, gocardless, provider_customer_id="CU_NEW", currency="EUR")
    invoice = finalized_invoice(customer, 2500, currency="EUR")
    mandate = fake_gocardless.add_mandate("CU_NEW")
    # The mandate event carries no customer link: the provider is asked (GET /mandates/{id}).
    body = webhook([gc_event("mandates", "active", {"mandate": mandate})])
    _post(client, organization, body, capture=django_capture_on_commit_callbacks)
    method = PaymentMethod.objects.get(customer=customer)
    assert method.provider_method_id == mandate and method.method_type == "direct_debit" and method.is_default
    assert len(fake_gocardless.payments) == 1  # the owed invoice is debited from the new mandate
    invoice.refresh_from_db()
    assert invoice.payments.get().status == PaymentStatus.PROCESSING


def test_a_cancelled_mandate_is_forgotten(
    client, organization, gocardless, fake_gocardless, django_capture_on_commit_callbacks
):
    customer = provider_customer(organization, gocardless, provider_customer_id="CU_C", method="MD_GONE")
    body = webhook([gc_event("mandates", "cancelled", {"mandate": "MD_GONE"})])
    _post(client, organization, body, capture=django_capture_on_commit_callbacks)
    assert not PaymentMethod.objects.filter(customer=customer).exists()


def test_a_batch_is_stored_event_by_event_and_a_redelivery_changes_nothing(
    client, organization, gocardless, fake_gocardless, django_capture_on_commit_callbacks
):
    events = [gc_event("payments", "submitted", {"payment": "PM_UNKNOWN"}), gc_event("creditors", "updated", {})]
    body = webhook(events)
    first = _post(client, organization, body, capture=django_capture_on_commit_callbacks).json()
    again = _post(client, organization, body, capture=django_capture_on_commit_callbacks).json()
    assert [e["duplicate"] for e in first["events"]] == [False, False]
    assert [e["duplicate"] for e in again["events"]] == [True, True]
    stored = {e.event_id: e.status for e in ProviderEvent.objects.filter(provider="gocardless")}
    assert stored == {events[0]["id"]: EventStatus.WAITING, events[1]["id"]: EventStatus.IGNORED}


def test_a_bad_signature_is_refused(client, organization, gocardless, fake_gocardless):
    body = webhook([gc_event("payments", "confirmed", {"payment": "PM1"})])
    assert _post(client, organization, body, signature="0" * 64).status_code == 400
    assert _post(client, organization, body, signature="").status_code == 400
    assert _post(client, organization, body + " ", signature=sign(body)).status_code == 400
    assert _post(client, organization, '{"no_events": 1}', signature=sign('{"no_events": 1}')).status_code == 400
    assert ProviderEvent.objects.count() == 0


def test_another_organization_cannot_be_reached_with_our_signature(
    client, organization, gocardless, fake_gocardless, other_tenant
):
    from tests.factories.payments import gocardless_connection as make

    make(other_tenant.organization, webhook_secret="their_secret")
    body = webhook([gc_event("payments", "confirmed", {"payment": "PM1"})])
    assert _post(client, other_tenant.organization, body).status_code == 400


def test_credit_note_refund_confirms_the_total_and_settles_by_webhook(
    client, organization, gocardless, fake_gocardless, django_capture_on_commit_callbacks
):
    _, invoice, payment = _debited(organization, gocardless, fake_gocardless, amount=10_000)
    body = webhook([gc_event("payments", "confirmed", {"payment": payment.provider_payment_id})])
    _post(client, organization, body, capture=django_capture_on_commit_callbacks)
    fee = invoice.fees.get()
    with django_capture_on_commit_callbacks(execute=True):
        note = credit_note_create(
            organization,
            CreditNoteCreate.from_body(
                {
                    "invoice_id": invoice.id,
                    "items": [{"fee_id": str(fee.id), "amount_cents": 3000}],
                    "refund_amount_cents": 3000,
                    "reason": "order_change",
                }
            ),
        )
    refund = Refund.objects.get(credit_note=note)
    assert refund.status == RefundStatus.PENDING and refund.provider_refund_id.startswith("RF")
    (request,) = fake_gocardless.posts("/refunds")
    params = request["body"]["refunds"]
    assert params["amount"] == 3000 and params["total_amount_confirmation"] == 3000
    assert params["metadata"]["bxb_refund_id"] == str(refund.id)
    assert request["idempotency_key"] == f"bxb_refund_{refund.id}"
    paid = webhook([gc_event("refunds", "paid", {"refund": refund.provider_refund_id},
                             resource_metadata={"bxb_refund_id": str(refund.id)})])  # fmt: skip
    _post(client, organization, paid, capture=django_capture_on_commit_callbacks)
    refund.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED


def test_reconciliation_reads_the_payment_at_gocardless(organization, gocardless, fake_gocardless):
    _, _invoice, payment = _debited(organization, gocardless, fake_gocardless)
    fake_gocardless.payments[payment.provider_payment_id]["status"] = "confirmed"
    from payments.providers import provider_for

    result = provider_for(gocardless).retrieve(provider_payment_id=payment.provider_payment_id)
    assert result.status == "succeeded"


def test_webhook_payload_is_not_json_with_events_is_refused(client, organization, gocardless, fake_gocardless):
    body = json.dumps({"events": "nope"})
    assert _post(client, organization, body).status_code == 400
