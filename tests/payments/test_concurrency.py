"""Several workers at once: the database decides (PostgreSQL only; SQLite serializes writes)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections

from payments.models import Payment, ProviderEvent
from payments.services import collection
from tests.factories.customers import OrganizationFactory
from tests.factories.payments import WEBHOOK_SECRET, finalized_invoice, stripe_connection, stripe_customer
from tests.payments.fake_stripe import event, sign

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs row locks (PostgreSQL)"),
]


def _race(*calls):
    barrier = threading.Barrier(len(calls))
    outcomes: list[object] = []

    def run(call):
        try:
            barrier.wait()
            outcomes.append(call())
        except Exception as exc:  # the outcome is what the test checks
            outcomes.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_four_workers_collecting_one_invoice_charge_once(fake_stripe):
    organization = OrganizationFactory()
    connection_ = stripe_connection(organization)
    customer = stripe_customer(
        organization, connection_, provider_customer_id=fake_stripe.add_customer(), method="pm_card_visa"
    )
    invoice = finalized_invoice(customer, 8800)
    outcomes = _race(*[lambda: collection.invoice_collect(invoice.id)] * 4)
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    assert Payment.objects.filter(invoice=invoice).count() == 1
    assert len(fake_stripe.charges()) == 1
    invoice.refresh_from_db()
    assert invoice.payment_status == "succeeded" and invoice.total_paid_amount_cents == 8800


def test_one_event_delivered_four_times_at_once_is_stored_once(fake_stripe, live_server):
    import requests

    organization = OrganizationFactory()
    stripe_connection(organization)
    body = event("customer.updated", {"id": "cus_x"}, event_id="evt_race")
    url = f"{live_server.url}/webhooks/stripe/{organization.id}"
    headers = {"Content-Type": "application/json", "Stripe-Signature": sign(body, WEBHOOK_SECRET)}
    outcomes = _race(*[lambda: requests.post(url, data=body, headers=headers, timeout=10)] * 4)
    assert [o.status_code for o in outcomes] == [200] * 4
    assert sorted(o.json()["duplicate"] for o in outcomes) == [False, True, True, True]
    assert ProviderEvent.objects.filter(event_id="evt_race").count() == 1
