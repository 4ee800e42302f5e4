"""The payments finance console: write-only secrets, the read-only ledger, actions via services."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse

from customers.roles import FINANCE_VIEWER
from payments.models import EventStatus, Payment, PaymentProviderConnection, ProviderEvent
from tests.factories.customers import CustomerFactory
from tests.factories.payments import dunning_campaign, finalized_invoice, stripe_connection, stripe_customer

pytestmark = pytest.mark.django_db

PAGES = [
    "paymentproviderconnection",
    "payment",
    "refund",
    "paymentmethod",
    "providerevent",
    "dunningcampaign",
    "paymentrequest",
]


@pytest.fixture
def root(client):
    client.force_login(User.objects.create_superuser("root", "root@example.test", "pw"))
    return client


@pytest.mark.parametrize("model", PAGES)
def test_changelists_and_add_pages_load_with_rows(root, organization, model, fake_stripe):
    connection = stripe_connection(organization)
    customer = stripe_customer(organization, connection, provider_customer_id="cus_1", method="pm_card_visa")
    from payments.services import collection

    collection.payment_create_manual(
        organization, invoice_id=finalized_invoice(customer, 1000).id, amount_cents=400, reference="r"
    )
    dunning_campaign(organization)
    ProviderEvent.objects.create(
        organization=organization,
        connection=connection,
        provider="stripe",
        event_id="evt_1",
        event_type="payment_intent.succeeded",
        payload={"data": {"object": {}}},
    )
    assert root.get(reverse(f"admin:payments_{model}_changelist")).status_code == 200
    assert root.get(reverse(f"admin:payments_{model}_add")).status_code in {200, 403}


def test_connection_secrets_are_write_only(root, organization):
    response = root.post(
        reverse("admin:payments_paymentproviderconnection_add"),
        {
            "organization": organization.pk,
            "code": "stripe_main",
            "name": "Stripe",
            "provider": "stripe",
            "secret_key": "sk_live_admin_secret",
            "webhook_secret": "whsec_admin_secret",
            "success_redirect_url": "",
        },
    )
    assert response.status_code == 302, response.content
    connection = PaymentProviderConnection.objects.get(code="stripe_main")
    assert connection.secret_key == "sk_live_admin_secret" and connection.webhook_secret == "whsec_admin_secret"
    page = root.get(reverse("admin:payments_paymentproviderconnection_change", args=[connection.pk]))
    assert b"sk_live_admin_secret" not in page.content and b"whsec_admin_secret" not in page.content
    assert connection.secret_key_encrypted.encode() not in page.content
    # Saving without re-entering keeps the secrets.
    root.post(
        reverse("admin:payments_paymentproviderconnection_change", args=[connection.pk]),
        {
            "organization": organization.pk,
            "code": "stripe_main",
            "name": "Renamed",
            "provider": "stripe",
            "secret_key": "",
            "webhook_secret": "",
            "success_redirect_url": "",
        },
    )
    connection.refresh_from_db()
    assert connection.name == "Renamed" and connection.secret_key == "sk_live_admin_secret"


def test_record_a_manual_payment_from_the_admin(root, organization):
    invoice = finalized_invoice(CustomerFactory(organization=organization), 5000)
    response = root.post(
        reverse("admin:payments_payment_add"), {"invoice": invoice.pk, "amount": "20.00", "reference": "cheque 12"}
    )
    assert response.status_code == 302
    invoice.refresh_from_db()
    assert invoice.total_paid_amount_cents == 2000
    payment = Payment.objects.get(invoice=invoice)
    assert payment.reference == "cheque 12" and payment.actor.startswith("user:")
    # The ledger row is read-only.
    page = root.get(reverse("admin:payments_payment_change", args=[payment.pk]))
    assert page.status_code == 200 and b'name="amount_cents"' not in page.content


def test_retry_action_and_finance_viewer_cannot_use_it(
    root, client, organization, fake_stripe, django_capture_on_commit_callbacks
):
    from payments.models import PaymentMethod
    from payments.services import collection

    connection = stripe_connection(organization)
    customer = stripe_customer(
        organization, connection, provider_customer_id=fake_stripe.add_customer(), method="pm_card_chargeDeclined"
    )
    invoice = finalized_invoice(customer, 3000)
    failed = collection.payment_submit(collection.invoice_collect(invoice.id).id)
    PaymentMethod.objects.filter(customer=customer).update(provider_method_id="pm_card_visa")

    viewer = User.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.groups.add(Group.objects.get(name=FINANCE_VIEWER))
    from django.test import Client

    viewer_client = Client()
    viewer_client.force_login(viewer)
    page = viewer_client.get(reverse("admin:payments_payment_changelist"))
    assert page.status_code == 200 and b"retry_payment" not in page.content

    with django_capture_on_commit_callbacks(execute=True):
        response = root.post(
            reverse("admin:payments_payment_changelist"),
            {"action": "retry_payment", "_selected_action": [str(failed.pk)]},
        )
    assert response.status_code == 302
    invoice.refresh_from_db()
    assert invoice.payment_status == "succeeded"


def test_reprocess_a_waiting_event(root, organization):
    connection = stripe_connection(organization)
    event = ProviderEvent.objects.create(
        organization=organization,
        connection=connection,
        provider="stripe",
        event_id="evt_w",
        event_type="payment_intent.succeeded",
        payload={"data": {"object": {"id": "pi_none"}}},
        status=EventStatus.WAITING,
    )
    page = root.get(reverse("admin:payments_providerevent_change", args=[event.pk]))
    assert page.status_code == 200 and b"pi_none" in page.content
    root.post(
        reverse("admin:payments_providerevent_changelist"), {"action": "reprocess", "_selected_action": [str(event.pk)]}
    )
    event.refresh_from_db()
    assert event.attempts == 1 and event.status == EventStatus.WAITING


def test_dunning_campaign_thresholds_are_validated(root, organization):
    url = reverse("admin:payments_dunningcampaign_add")
    data = {
        "organization": organization.pk,
        "code": "c1",
        "name": "C1",
        "days_between_attempts": 3,
        "max_attempts": 3,
        "active": "on",
    }
    bad = root.post(url, {**data, "thresholds": '[{"currency": "XXX", "amount_cents": 1.5}]'})
    assert bad.status_code == 200 and b"Invalid threshold" in bad.content
    good = root.post(url, {**data, "thresholds": '[{"currency": "eur", "amount_cents": 5000}]'})
    assert good.status_code == 302
    from payments.models import DunningCampaign

    assert DunningCampaign.objects.get(code="c1").thresholds == [{"currency": "EUR", "amount_cents": 5000}]
