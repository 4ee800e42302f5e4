"""Two completions of one checkout at the same time (a platform retrying, two agents): one order,
one invoice, one charge."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from invoicing.models import Invoice
from payments.models import Payment
from subscriptions.models import Subscription
from tests.ucp.conftest import Agent
from tests.ucp.test_checkout import card, create

pytestmark = pytest.mark.django_db(transaction=True)


def test_concurrent_completions_charge_once(ucp_org, catalog_items, fake_stripe):
    checkout_id = create(Agent("acme")).json()["id"]
    answers: list[dict] = []
    start = threading.Barrier(2)

    def complete() -> None:
        try:
            start.wait()
            answers.append(Agent("acme").post(f"/checkout-sessions/{checkout_id}/complete", card()).json())
        finally:
            connection.close()

    threads = [threading.Thread(target=complete) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert [a["status"] for a in answers] == ["completed", "completed"]
    assert answers[0]["order"] == answers[1]["order"]
    assert Subscription.objects.count() == 1 and Invoice.objects.count() == 1
    assert Payment.objects.count() == 1
    assert len(fake_stripe.posts("/v1/payment_intents")) == 1
