"""An agent following only the UCP specification buys a plan from a bxb organization: discovery,
catalog, checkout, one payment, the order; then the subscription bills on schedule like any other
(the billing run invoices the next period and collects it with the card saved at checkout)."""

from __future__ import annotations

import datetime as dt
from io import StringIO
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command
from django.test import Client

from invoicing.models import Invoice
from payments.models import Payment
from subscriptions.models import Subscription
from tests.ucp.conftest import PLATFORM_URL

pytestmark = pytest.mark.django_db


class SpecAgent:
    """Knows a business by its profile URL only; everything else comes from the profile."""

    def __init__(self, profile_url: str):
        self.client = Client()
        parts = urlsplit(profile_url)
        self.host = parts.netloc
        response = self.client.get(parts.path, HTTP_HOST="testserver")
        assert response.status_code == 200 and "public" in response["Cache-Control"]
        self.profile = response.json()
        [rest] = [s for s in self.profile["ucp"]["services"]["dev.ucp.shopping"] if s["transport"] == "rest"]
        self.endpoint_path = urlsplit(rest["endpoint"]).path
        [(self.handler_name, [self.handler])] = self.profile["ucp"]["payment_handlers"].items()

    def call(self, method: str, path: str, body: dict | None = None, key: str | None = None):
        headers: dict[str, Any] = {"HTTP_UCP_AGENT": f'profile="{PLATFORM_URL}"'}
        if key:
            headers["HTTP_IDEMPOTENCY_KEY"] = key
        url = self.endpoint_path + path
        if method == "GET":
            return self.client.get(url, **headers)
        import json

        return self.client.generic(method, url, json.dumps(body or {}), "application/json", **headers)


def test_an_agent_buys_a_plan_pays_once_and_the_subscription_bills_on_schedule(
    ucp_org, catalog_items, fake_stripe, django_capture_on_commit_callbacks
):
    agent = SpecAgent("https://billing.example.com/ucp/acme/.well-known/ucp")
    assert "dev.ucp.shopping.checkout" in agent.profile["ucp"]["capabilities"]
    assert agent.handler["available_instruments"] == [{"type": "card"}]

    found = agent.call("POST", "/catalog/search", {"query": "pro"}).json()
    product = next(p for p in found["products"] if p["title"] == "Pro")
    assert product["metadata"]["billing"]["interval"] == "monthly"
    variant = product["variants"][0]

    checkout = agent.call(
        "POST",
        "/checkout-sessions",
        {"line_items": [{"item": {"id": variant["id"]}, "quantity": 1}], "buyer": {"email": "agent.buyer@example.com"}},
        key="create-1",
    ).json()
    assert checkout["status"] == "ready_for_complete"
    total = next(t["amount"] for t in checkout["totals"] if t["type"] == "total")
    assert total == variant["price"]["amount"] == 2000

    instrument = {
        "id": "instr_agent",
        "handler_id": agent.handler["id"],
        "type": "card",
        "credential": {"type": "stripe_payment_method", "token": "pm_card_visa"},
    }
    with django_capture_on_commit_callbacks(execute=True):
        done = agent.call(
            "POST",
            f"/checkout-sessions/{checkout['id']}/complete",
            {"payment": {"instruments": [instrument]}},
            key="c-1",
        ).json()
    assert done["status"] == "completed"
    order = agent.call("GET", f"/orders/{done['order']['id']}").json()
    [first] = order["invoices"]
    assert first["payment_status"] == "succeeded" and first["total"]["amount"] == 2000
    assert len(fake_stripe.charges()) == 1

    # bxb's side: a customer, an active subscription, a paid invoice, one payment
    subscription = Subscription.objects.get(external_id=f"ucp_{checkout['id']}")
    assert subscription.status == "active" and subscription.customer.email == "agent.buyer@example.com"
    assert Payment.objects.filter(status="succeeded").count() == 1

    # a month later the billing run (beat's sweep, here its command) invoices the next period in
    # advance and payments collects it with the card saved at checkout — no agent involved
    assert subscription.started_at is not None
    next_period = subscription.started_at + dt.timedelta(days=32)
    with django_capture_on_commit_callbacks(execute=True):
        call_command("run_billing", "--at", next_period.isoformat(), stdout=StringIO())
    invoices = list(Invoice.objects.filter(customer=subscription.customer).order_by("created_at"))
    assert len(invoices) == 2
    renewal = invoices[1]
    assert renewal.status == "finalized" and renewal.total_amount_cents == 2000
    renewal.refresh_from_db()
    assert renewal.payment_status == "succeeded"
    assert len(fake_stripe.charges()) == 2
    renewal_charge = fake_stripe.posts("/v1/payment_intents")[-1]
    assert renewal_charge["params"]["payment_method"] == "pm_card_visa"
    assert renewal_charge["idempotency_key"].startswith("bxb_payment_")
    # the order shows both invoices
    assert len(agent.call("GET", f"/orders/{done['order']['id']}").json()["invoices"]) == 2
