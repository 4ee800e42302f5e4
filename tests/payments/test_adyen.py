"""Adyen: the real SDK against the suite's fake Adyen (tests/payments/fake_adyen.py), the SDK's own
HMAC validation of notifications."""

from __future__ import annotations

import pytest

from invoicing.credits.inputs import CreditNoteCreate
from invoicing.credits.models import RefundStatus
from invoicing.credits.services.credit_notes import credit_note_create
from payments.models import EventStatus, PaymentMethod, PaymentStatus, ProviderEvent, Refund
from payments.providers import ProviderError, TransientProviderError
from payments.providers.adyen import adyen_amount, from_adyen_amount
from payments.services import collection, customers
from tests.factories.customers import CustomerFactory
from tests.factories.payments import adyen_connection, finalized_invoice, provider_customer
from tests.payments.fake_adyen import HMAC_KEY, item, notification

pytestmark = pytest.mark.django_db


def _collect(invoice_id):
    payment = collection.invoice_collect(invoice_id)
    assert payment is not None
    return payment


@pytest.fixture
def adyen(organization, fake_adyen):
    return adyen_connection(organization)


def _post(client, organization, body, capture=None):
    url = f"/webhooks/adyen/{organization.id}"
    if capture is None:
        return client.post(url, data=body, content_type="application/json")
    with capture(execute=True):
        return client.post(url, data=body, content_type="application/json")


def _charged(organization, connection, method="card_ok", amount=12_345, currency="EUR"):
    customer = provider_customer(
        organization, connection, provider_customer_id="cust-adyen", method=method, currency=currency
    )
    invoice = finalized_invoice(customer, amount, currency=currency, with_fee=True)
    payment = collection.payment_submit(_collect(invoice.id).id)
    return customer, invoice, payment


@pytest.mark.parametrize(
    ("cents", "currency", "value"),
    [
        (12_345, "EUR", 12_345),
        (1500, "JPY", 1500),
        (1234, "KWD", 1234),
        (1500, "ISK", 150_000),
        (99, "CLP", 9900),
        (12_300, "IDR", 123),
        (500, "CVE", 5),
    ],
)
def test_amounts_in_adyen_minor_units(cents, currency, value):
    assert adyen_amount(cents, currency) == {"value": value, "currency": currency}
    assert from_adyen_amount(value, currency) == cents


def test_an_amount_adyen_cannot_take_exactly_is_refused_not_rounded():
    with pytest.raises(ProviderError) as exc:
        adyen_amount(12_345, "IDR")  # IDR 123.45: Adyen counts whole rupiah
    assert exc.value.code == "amount_not_supported"


def test_off_session_charge_with_the_stored_card(organization, adyen, fake_adyen):
    _customer, invoice, payment = _charged(organization, adyen)
    assert payment.status == PaymentStatus.SUCCEEDED
    (request,) = fake_adyen.posts("/payments")
    body = request["body"]
    assert body["amount"] == {"value": 12_345, "currency": "EUR"}
    assert body["paymentMethod"] == {"type": "scheme", "storedPaymentMethodId": "card_ok"}
    assert body["shopperReference"] == "cust-adyen"
    assert body["shopperInteraction"] == "ContAuth"
    assert body["recurringProcessingModel"] == "UnscheduledCardOnFile"
    assert body["merchantAccount"] == "BxbTestMerchant"
    assert body["reference"] == str(payment.id)
    assert request["idempotency_key"] == f"bxb_payment_{payment.id}"
    assert request["headers"]["x-api-key"] == "adyen_api_key"
    assert payment.provider_payment_id.startswith("PSP")
    invoice.refresh_from_db()
    assert invoice.payment_status == "succeeded"


@pytest.mark.parametrize(
    ("method", "status", "code"),
    [
        ("card_refused", PaymentStatus.FAILED, "12"),
        ("card_3ds", PaymentStatus.REQUIRES_ACTION, ""),
        ("card_pending", PaymentStatus.PROCESSING, ""),
    ],
)
def test_result_codes_map_to_our_statuses(organization, adyen, fake_adyen, method, status, code):
    _, invoice, payment = _charged(organization, adyen, method=method)
    assert payment.status == status
    assert payment.error_code == code
    if status == PaymentStatus.REQUIRES_ACTION:
        assert payment.next_action_url == "https://3ds.example/x"
    if status == PaymentStatus.FAILED:
        invoice.refresh_from_db()
        assert invoice.payment_status == "failed"
        assert payment.error_message == "Not enough balance"


def test_a_timeout_leaves_the_attempt_pending_and_the_resubmission_replays_the_key(organization, adyen, fake_adyen):
    customer = provider_customer(organization, adyen, provider_customer_id="cust-adyen", method="card_ok")
    invoice = finalized_invoice(customer, 5000, currency="EUR")
    pending = _collect(invoice.id)
    fake_adyen.fail_next(1, "timeout")
    with pytest.raises(TransientProviderError):
        collection.payment_submit(pending.id)
    pending.refresh_from_db()
    assert pending.status == PaymentStatus.PENDING
    payment = collection.payment_submit(pending.id)
    assert payment.status == PaymentStatus.SUCCEEDED
    requests = fake_adyen.posts("/payments")
    assert [r["idempotency_key"] for r in requests] == [f"bxb_payment_{pending.id}"] * 2
    assert requests[1].get("replayed") is True
    assert len(fake_adyen.payments) == 1  # charged once


def test_a_5xx_is_transient_and_a_bad_key_is_a_provider_error(organization, fake_adyen):
    connection = adyen_connection(organization, code="adyen_bad", secret_key="bad")
    customer = provider_customer(organization, connection, provider_customer_id="c", method="card_ok")
    invoice = finalized_invoice(customer, 5000, currency="EUR")
    payment = collection.payment_submit(_collect(invoice.id).id)
    assert payment.status == PaymentStatus.FAILED and payment.error_code == "invalid_credentials"
    good = adyen_connection(organization, code="adyen_ok")
    customer2 = provider_customer(organization, good, provider_customer_id="c2", method="card_ok")
    pending = _collect(finalized_invoice(customer2, 5000, currency="EUR").id)
    fake_adyen.fail_next(1, "500")
    with pytest.raises(TransientProviderError):
        collection.payment_submit(pending.id)


def test_sync_with_provider_uses_the_external_id_as_shopper_reference(organization, adyen, fake_adyen):
    customer = CustomerFactory(
        organization=organization,
        external_id="ext-42",
        payment_provider="adyen",
        provider_settings={"sync_with_provider": True},
    )
    assert customers.wants_provider_customer(customer)
    customer = customers.provider_customer_ensure(customer.id)
    assert customer.provider_customer_id == "ext-42"
    assert fake_adyen.requests == []  # Adyen keeps no customer object


def test_checkout_url_is_a_zero_amount_payment_link_that_stores_the_card(api, organization, adyen, fake_adyen):
    CustomerFactory(
        organization=organization, external_id="ext-9", payment_provider="adyen", currency="EUR",
        provider_customer_id="ext-9",
    )  # fmt: skip
    response = api.post("/api/v1/customers/ext-9/checkout_url", format="json")
    assert response.status_code == 200, response.content
    url = response.json()["customer"]["checkout_url"]
    assert url.startswith("https://test.adyen.link/")
    (request,) = fake_adyen.posts("/paymentLinks")
    body = request["body"]
    assert body["amount"] == {"value": 0, "currency": "EUR"}
    assert body["storePaymentMethodMode"] == "enabled"
    assert body["shopperReference"] == "ext-9"


def test_authorisation_notification_saves_the_card_and_collects_what_is_owed(
    client, organization, adyen, fake_adyen, django_capture_on_commit_callbacks
):
    customer = provider_customer(organization, adyen, provider_customer_id="ext-7", currency="EUR")
    invoice = finalized_invoice(customer, 4000, currency="EUR")
    body = notification(
        [
            item(
                "AUTHORISATION",
                psp="PSPSETUP1",
                reference="bxb_setup_ext-7",
                value=0,
                paymentMethod="visa",
                additional={
                    "tokenization.storedPaymentMethodId": "card_ok",
                    "tokenization.shopperReference": "ext-7",
                    "cardSummary": "1111",
                },
            )
        ]
    )
    response = _post(client, organization, body, capture=django_capture_on_commit_callbacks)
    assert response.status_code == 200 and response.content == b"[accepted]"
    method = PaymentMethod.objects.get(customer=customer)
    assert method.provider_method_id == "card_ok" and method.is_default
    assert method.details["brand"] == "visa" and method.details["last4"] == "1111"
    invoice.refresh_from_db()
    assert invoice.payment_status == "succeeded"  # charged with the new card


def test_notifications_settle_a_pending_charge_once(
    client, organization, adyen, fake_adyen, django_capture_on_commit_callbacks
):
    _, invoice, payment = _charged(organization, adyen, method="card_pending", amount=4000)
    body = notification([item("AUTHORISATION", psp=payment.provider_payment_id, reference=str(payment.id), value=4000)])
    assert _post(client, organization, body, capture=django_capture_on_commit_callbacks).status_code == 200
    # Adyen delivers again (at least once): stored once, nothing changes.
    assert _post(client, organization, body, capture=django_capture_on_commit_callbacks).status_code == 200
    payment.refresh_from_db()
    invoice.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert invoice.payment_status == "succeeded" and invoice.total_paid_amount_cents == 4000
    assert ProviderEvent.objects.filter(provider="adyen").count() == 1


def test_a_refused_authorisation_fails_the_payment(
    client, organization, adyen, fake_adyen, django_capture_on_commit_callbacks
):
    _, _invoice, payment = _charged(organization, adyen, method="card_pending", amount=4000)
    body = notification(
        [
            item(
                "AUTHORISATION",
                psp=payment.provider_payment_id,
                reference=str(payment.id),
                value=4000,
                success=False,
                reason="Refused",
            )
        ]
    )
    _post(client, organization, body, capture=django_capture_on_commit_callbacks)
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.FAILED and payment.error_message == "Refused"


def test_forged_or_tampered_notifications_are_refused(client, organization, adyen, fake_adyen):
    entry = item("AUTHORISATION", psp="PSPX", reference="r", value=100)
    assert _post(client, organization, notification([entry], key="00" * 32)).status_code == 400
    assert _post(client, organization, notification([entry], tamper=True)).status_code == 400
    assert _post(client, organization, '{"notificationItems": [{"NotificationRequestItem": {}}]}').status_code == 400
    assert _post(client, organization, "not json").status_code == 400
    # One forged item in a batch refuses the whole delivery.
    good = notification([entry])
    bad = notification([item("AUTHORISATION", psp="PSPY", reference="r", value=1)], key="00" * 32)
    import json

    mixed = json.loads(good)
    mixed["notificationItems"] += json.loads(bad)["notificationItems"]
    assert _post(client, organization, json.dumps(mixed)).status_code == 400
    assert ProviderEvent.objects.count() == 0


def test_another_organizations_notification_is_not_accepted(client, organization, adyen, fake_adyen, other_tenant):
    body = notification([item("AUTHORISATION", psp="PSPZ", reference="r", value=100)])
    # signed with our key, sent to the other organization's endpoint, which has no Adyen connection
    response = _post(client, other_tenant.organization, body)
    assert response.status_code == 404


def test_credit_note_refund_through_adyen_then_settled_by_notification(
    client, organization, adyen, fake_adyen, django_capture_on_commit_callbacks
):
    _, invoice, payment = _charged(organization, adyen, amount=10_000)
    fee = invoice.fees.get()
    with django_capture_on_commit_callbacks(execute=True):
        note = credit_note_create(
            organization,
            CreditNoteCreate.from_body(
                {
                    "invoice_id": invoice.id,
                    "items": [{"fee_id": str(fee.id), "amount_cents": 4000}],
                    "refund_amount_cents": 4000,
                    "reason": "order_change",
                }
            ),
        )
    refund = Refund.objects.get(credit_note=note)
    assert refund.status == RefundStatus.PENDING
    (request,) = fake_adyen.posts(f"/payments/{payment.provider_payment_id}/refunds")
    assert request["body"]["amount"] == {"value": 4000, "currency": "EUR"}
    assert request["body"]["reference"] == str(refund.id)
    assert request["idempotency_key"] == f"bxb_refund_{refund.id}"
    body = notification(
        [
            item(
                "REFUND",
                psp=refund.provider_refund_id,
                original=payment.provider_payment_id,
                reference=str(refund.id),
                value=4000,
            )
        ]
    )
    _post(client, organization, body, capture=django_capture_on_commit_callbacks)
    refund.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED
    event = ProviderEvent.objects.get(event_type="REFUND")
    assert event.status == EventStatus.PROCESSED


def test_a_notification_for_an_unknown_payment_waits(
    client, organization, adyen, fake_adyen, django_capture_on_commit_callbacks
):
    body = notification([item("AUTHORISATION", psp="PSPQ", reference="5b6f1c0e-4f57-4a4d-9f39-9c1d5e4b0a11", value=1)])
    _post(client, organization, body, capture=django_capture_on_commit_callbacks)
    assert ProviderEvent.objects.get().status == EventStatus.WAITING


def test_hmac_key_is_stored_encrypted(organization, adyen):
    assert HMAC_KEY not in adyen.webhook_secret_encrypted
    assert adyen.webhook_secret == HMAC_KEY
