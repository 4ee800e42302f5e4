"""Document e-mails through Django's SMTP backend to a real local SMTP server (aiosmtpd) the test
starts: what arrives, at most once per document and kind, retried after an SMTP failure."""

from __future__ import annotations

import email
import email.policy
import smtplib

import pytest
from aiosmtpd.controller import Controller

from invoicing.credits.inputs import CreditNoteCreate
from invoicing.credits.services.credit_notes import credit_note_create
from payments.models import SentEmail, SentEmailStatus
from payments.services import collection, emails
from tests.factories.customers import CustomerFactory
from tests.factories.payments import finalized_invoice

pytestmark = pytest.mark.django_db


class Inbox:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list[list[str]] = []
        self.refuse = 0

    async def handle_DATA(self, server, session, envelope):
        if self.refuse:
            self.refuse -= 1
            return "451 4.3.0 try again later"
        self.envelopes.append(list(envelope.rcpt_tos))
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"


@pytest.fixture
def smtp(settings):
    import socket

    with socket.socket() as probe:  # a free port (aiosmtpd's start-up check cannot use port 0)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.DEFAULT_FROM_EMAIL = "billing@bxb.test"
    yield inbox
    controller.stop()


@pytest.fixture
def org(organization):
    organization.name = "Acme Cloud"
    organization.email = "finance@acme.test"
    organization.email_settings = ["invoice.finalized", "credit_note.created", "payment_receipt.created"]
    organization.save()
    return organization


def _attachments(message):
    return [(part.get_filename(), part.get_content_type(), part.get_content()) for part in message.iter_attachments()]


def test_a_finalized_invoice_is_emailed_once_with_its_pdf(org, smtp, django_capture_on_commit_callbacks):
    from invoicing.models import Invoice
    from invoicing.signals import invoice_finalized

    customer = CustomerFactory(organization=org, name="Jane Buyer", email="jane@buyer.test, ap@buyer.test")
    invoice = finalized_invoice(customer, 12_345, currency="EUR", with_fee=True)
    with django_capture_on_commit_callbacks(execute=True):
        invoice_finalized.send(sender=Invoice, invoice=invoice, organization=org)
        invoice_finalized.send(sender=Invoice, invoice=invoice, organization=org)  # told twice
    assert len(smtp.messages) == 1
    message = smtp.messages[0]
    assert message["Subject"] == f"Invoice {invoice.number} from Acme Cloud"
    assert message["From"] == "Acme Cloud <billing@bxb.test>"
    assert message["Reply-To"] == "finance@acme.test"
    assert sorted(smtp.envelopes[0]) == ["ap@buyer.test", "jane@buyer.test"]
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Hello Jane Buyer" in text and "123.45" in text
    assert "<table" in html and "123.45" in html
    ((name, content_type, payload),) = _attachments(message)
    assert name == f"{invoice.number}.pdf" and content_type == "application/pdf" and payload.startswith(b"%PDF")
    row = SentEmail.objects.get()
    assert row.status == SentEmailStatus.SENT and row.sent_at and row.attempts == 1


def test_nothing_is_sent_when_the_organization_turned_the_kind_off(
    organization, smtp, django_capture_on_commit_callbacks
):
    from invoicing.models import Invoice
    from invoicing.signals import invoice_finalized

    customer = CustomerFactory(organization=organization, email="jane@buyer.test")
    invoice = finalized_invoice(customer, 1000)
    with django_capture_on_commit_callbacks(execute=True):
        invoice_finalized.send(sender=Invoice, invoice=invoice, organization=organization)
    assert smtp.messages == [] and not SentEmail.objects.exists()


def test_an_smtp_failure_is_recorded_and_retried_then_sent_once(org, smtp):
    customer = CustomerFactory(organization=org, email="jane@buyer.test")
    invoice = finalized_invoice(customer, 1000)
    row = emails.email_schedule(org, kind="invoice.finalized", document_id=invoice.id)
    assert row is not None
    smtp.refuse = 1
    with pytest.raises(smtplib.SMTPException) as exc:
        emails.email_deliver(row.id)
    assert "451" in str(exc.value)
    row.refresh_from_db()
    assert row.status == SentEmailStatus.FAILED and row.attempts == 1 and "451" in row.error
    assert smtp.messages == []
    emails.email_deliver(row.id)
    emails.email_deliver(row.id)  # a duplicate task: already sent
    row.refresh_from_db()
    assert row.status == SentEmailStatus.SENT and row.attempts == 2
    assert len(smtp.messages) == 1


def test_the_beat_sweep_retries_failed_mails(org, smtp):
    import datetime as dt

    from django.utils import timezone

    customer = CustomerFactory(organization=org, email="jane@buyer.test")
    row = emails.email_schedule(org, kind="invoice.finalized", document_id=finalized_invoice(customer, 1000).id)
    assert row is not None
    smtp.refuse = 1
    with pytest.raises(smtplib.SMTPException):
        emails.email_deliver(row.id)
    assert emails.emails_retry_due(now=timezone.now() + dt.timedelta(minutes=10)) == 1
    assert len(smtp.messages) == 1


def test_a_payment_receipt_is_emailed_after_a_manual_payment(org, smtp, django_capture_on_commit_callbacks):
    customer = CustomerFactory(organization=org, email="jane@buyer.test")
    invoice = finalized_invoice(customer, 2500)
    with django_capture_on_commit_callbacks(execute=True):
        payment = collection.payment_create_manual(org, invoice_id=invoice.id, amount_cents=2500, reference="wire")
    (message,) = smtp.messages
    receipt = payment.receipt
    assert message["Subject"] == f"Payment receipt {receipt.number} from Acme Cloud"
    ((name, _, payload),) = _attachments(message)
    assert name == f"{receipt.number}.pdf" and payload.startswith(b"%PDF")


def test_a_credit_note_is_emailed(org, smtp, django_capture_on_commit_callbacks):
    customer = CustomerFactory(organization=org, email="jane@buyer.test")
    invoice = finalized_invoice(customer, 5000, with_fee=True)
    fee = invoice.fees.get()
    with django_capture_on_commit_callbacks(execute=True):
        note = credit_note_create(
            org,
            CreditNoteCreate.from_body(
                {
                    "invoice_id": invoice.id,
                    "items": [{"fee_id": str(fee.id), "amount_cents": 1000}],
                    "credit_amount_cents": 1000,
                }
            ),
        )
    subjects = [m["Subject"] for m in smtp.messages]
    assert subjects == [f"Credit note {note.number} from Acme Cloud"]
    assert _attachments(smtp.messages[0])[0][2].startswith(b"%PDF")


def test_resend_email_routes(api, org, smtp, other_tenant, django_capture_on_commit_callbacks):
    customer = CustomerFactory(organization=org, email="jane@buyer.test")
    invoice = finalized_invoice(customer, 1000)
    with django_capture_on_commit_callbacks(execute=True):
        first = api.post(f"/api/v1/invoices/{invoice.id}/resend_email", format="json")
        second = api.post(
            f"/api/v1/invoices/{invoice.id}/resend_email",
            {"to": ["cfo@buyer.test"], "cc": ["ap@buyer.test"]},
            format="json",
        )
    assert first.status_code == 200 and second.status_code == 200
    assert [sorted(e) for e in smtp.envelopes] == [["jane@buyer.test"], ["ap@buyer.test", "cfo@buyer.test"]]
    assert list(SentEmail.objects.order_by("sequence").values_list("sequence", flat=True)) == [1, 2]
    bad = api.post(f"/api/v1/invoices/{invoice.id}/resend_email", {"to": ["not-an-address"]}, format="json")
    assert bad.status_code == 422
    assert api.post("/api/v1/invoices/not-a-uuid/resend_email", format="json").status_code == 404
    theirs = other_tenant.client
    response = theirs.post(f"/api/v1/invoices/{invoice.id}/resend_email", format="json")
    assert response.status_code == 404 and response.json()["code"] == "invoice_not_found"
    payment = collection.payment_create_manual(org, invoice_id=invoice.id, amount_cents=1000, reference="w")
    receipt_id = payment.receipt.id
    assert theirs.post(f"/api/v1/payment_receipts/{receipt_id}/resend_email", format="json").status_code == 404
    assert theirs.post(f"/api/v1/credit_notes/{receipt_id}/resend_email", format="json").status_code == 404
    with django_capture_on_commit_callbacks(execute=True):
        assert api.post(f"/api/v1/payment_receipts/{receipt_id}/resend_email", format="json").status_code == 200
    assert smtp.messages[-1]["Subject"].startswith("Payment receipt ")


def test_resend_without_any_address_is_422(api, org, smtp):
    customer = CustomerFactory(organization=org, email="")
    invoice = finalized_invoice(customer, 1000)
    response = api.post(f"/api/v1/invoices/{invoice.id}/resend_email", format="json")
    assert response.status_code == 422 and response.json()["error_details"] == {"email": ["no_recipient"]}


def test_organizations_accept_email_settings(api, organization):
    response = api.put(
        "/api/v1/organizations", {"organization": {"email_settings": ["invoice.finalized"]}}, format="json"
    )
    assert response.status_code == 200
    organization.refresh_from_db()
    assert organization.email_settings == ["invoice.finalized"]
    bad = api.put("/api/v1/organizations", {"organization": {"email_settings": ["nope"]}}, format="json")
    assert bad.status_code == 422


def test_a_failed_charge_is_emailed_once_when_the_organization_wants_it(
    org, smtp, fake_stripe, settings, django_capture_on_commit_callbacks
):
    from payments.models import EmailKind, Payment
    from tests.factories.payments import stripe_connection, stripe_customer

    settings.PUBLIC_URL = "https://billing.acme.test"
    org.email_settings = [*org.email_settings, "payment.failed"]
    org.save(update_fields=["email_settings"])
    connection = stripe_connection(org)
    customer = stripe_customer(
        org, connection, provider_customer_id=fake_stripe.add_customer(), method="pm_card_chargeDeclined"
    )
    customer.email, customer.name = "jane@buyer.test", "Jane Buyer"
    customer.save(update_fields=["email", "name"])
    invoice = finalized_invoice(customer, 5000)
    attempt = collection.invoice_collect(invoice.id)
    assert attempt is not None
    with django_capture_on_commit_callbacks(execute=True):
        payment = collection.payment_submit(attempt.id)
    assert payment.status == "failed"
    subjects = [m["Subject"] for m in smtp.messages]
    assert subjects == [f"Payment failed: invoice {invoice.number} from Acme Cloud"]
    text = smtp.messages[0].get_body(("plain",)).get_content()
    assert "We could not collect 50.00 USD" in text and "We will try again on" in text
    assert "generic_decline" in text or "declined" in text.lower()
    assert "Pay online: https://billing.acme.test/portal/" in text
    ((name, _, payload),) = _attachments(smtp.messages[0])
    assert name == f"{invoice.number}.pdf" and payload.startswith(b"%PDF")
    # at most once per failed payment, however often the failure is told
    assert emails.email_schedule(org, kind=EmailKind.PAYMENT_FAILED, document_id=payment.id) is None
    assert SentEmail.objects.filter(kind="payment.failed").count() == 1
    assert Payment.objects.get(id=payment.id).status == "failed"


def test_a_failed_charge_sends_nothing_when_the_kind_is_off(
    organization, smtp, fake_stripe, django_capture_on_commit_callbacks
):
    from tests.factories.payments import stripe_connection, stripe_customer

    connection = stripe_connection(organization)
    customer = stripe_customer(
        organization, connection, provider_customer_id=fake_stripe.add_customer(), method="pm_card_chargeDeclined"
    )
    customer.email = "jane@buyer.test"
    customer.save(update_fields=["email"])
    attempt = collection.invoice_collect(finalized_invoice(customer, 5000).id)
    assert attempt is not None
    with django_capture_on_commit_callbacks(execute=True):
        collection.payment_submit(attempt.id)
    assert smtp.messages == [] and not SentEmail.objects.exists()


def test_organizations_turn_payment_failed_mails_on(api, organization):
    on = api.put("/api/v1/organizations", {"organization": {"email_settings": ["payment.failed"]}}, format="json")
    assert on.status_code == 200 and on.json()["organization"]["email_settings"] == ["payment.failed"]
    bad = api.put("/api/v1/organizations", {"organization": {"email_settings": ["payment.lost"]}}, format="json")
    assert bad.status_code == 422 and bad.json()["error_details"] == {"email_settings": ["unsupported_value"]}
    organization.refresh_from_db()
    assert organization.email_settings == ["payment.failed"]


def test_a_dunning_reminder_goes_through_the_ledger_and_is_retried(org, smtp, django_capture_on_commit_callbacks):
    import datetime as dt

    from django.utils import timezone

    from payments.models import PaymentRequest
    from payments.services import dunning

    customer = CustomerFactory(organization=org, email="ap@buyer.test", name="Jane Buyer")
    overdue = finalized_invoice(customer, 1300, payment_overdue=True)
    smtp.refuse = 1  # the first delivery fails
    with django_capture_on_commit_callbacks(execute=True):
        request = dunning.payment_request_create(
            org, external_customer_id=customer.external_id, email=None, invoice_ids=[str(overdue.id)]
        )
    row = SentEmail.objects.get(kind="payment_request.created", document_id=request.id)
    assert row.status == SentEmailStatus.FAILED and smtp.messages == []
    assert PaymentRequest.objects.get(id=request.id).emailed_at is None
    assert emails.emails_retry_due(now=timezone.now() + dt.timedelta(minutes=10)) == 1
    (message,) = smtp.messages
    assert message["Subject"] == "Acme Cloud: overdue invoices"
    text = message.get_body(("plain",)).get_content()
    assert overdue.number in text and "Total due: 13.00 USD" in text
    assert PaymentRequest.objects.get(id=request.id).emailed_at is not None
