"""Checkout sessions: the status machine, totals from bxb's billing, idempotency, and completion
that bills and charges once or not at all."""

from __future__ import annotations

import pytest

from customers.models import Customer
from invoicing.models import Invoice
from payments.models import Payment, PaymentMethod
from subscriptions.models import Subscription
from tests.ucp.conftest import Agent
from ucp import signing
from ucp.models import Checkout
from ucp.services.setup import signing_key

pytestmark = pytest.mark.django_db

BUYER = {"email": "buyer@example.com", "first_name": "Ada", "last_name": "Lovelace"}


def card(token: str = "pm_card_visa") -> dict:  # noqa: S107 (a Stripe test method id)
    return {
        "payment": {
            "instruments": [
                {
                    "id": "instr_1",
                    "handler_id": "stripe_main",
                    "type": "card",
                    "selected": True,
                    "display": {"brand": "visa", "last_digits": "4242"},
                    "credential": {"type": "stripe_payment_method", "token": token},
                }
            ]
        }
    }


def create(
    agent: Agent, item: str = "plan:pro:v", buyer: dict | None = BUYER, quantity: int = 1, headers: dict | None = None
):
    body: dict = {"line_items": [{"item": {"id": item}, "quantity": quantity}]}
    if buyer is not None:
        body["buyer"] = buyer
    return agent.post("/checkout-sessions", body, headers)


def billing_counts() -> tuple[int, int, int, int]:
    return Customer.objects.count(), Subscription.objects.count(), Invoice.objects.count(), Payment.objects.count()


def test_create_prices_the_first_invoice_and_is_ready_with_a_buyer(agent, catalog_items):
    before = billing_counts()
    response = create(agent)
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "ready_for_complete"
    assert body["ucp"]["version"] == "2026-04-08" and body["ucp"]["status"] == "success"
    assert list(body["ucp"]["capabilities"]) == ["dev.ucp.shopping.checkout"]
    assert "com.example.billing.stripe_tokenizer" in body["ucp"]["payment_handlers"]
    [line] = body["line_items"]
    assert line["item"] == {"id": "plan:pro:v", "title": "Pro", "price": 2000}
    assert {t["type"]: t["amount"] for t in body["totals"]} == {"subtotal": 2000, "total": 2000}
    assert body["links"] == [] and body["currency"] == "USD"
    assert any(m["type"] == "info" and "per month" in m["content"] for m in body["messages"])
    assert billing_counts() == before  # the quote bills nothing


def test_taxes_of_the_organization_are_in_the_totals(agent, catalog_items, ucp_org):
    from tests.factories.catalog import TaxFactory

    TaxFactory(organization=ucp_org.organization, applied_to_organization=True)  # 20%
    body = create(agent).json()
    assert {t["type"]: t["amount"] for t in body["totals"]} == {"subtotal": 2000, "tax": 400, "total": 2400}


def test_without_buyer_email_the_checkout_is_incomplete(agent, catalog_items):
    body = create(agent, buyer=None).json()
    assert body["status"] == "incomplete"
    [error] = [m for m in body["messages"] if m["type"] == "error"]
    assert error == {
        "type": "error",
        "code": "missing",
        "content": "Buyer email is required",
        "severity": "recoverable",
        "path": "$.buyer.email",
    }
    update = agent.put(f"/checkout-sessions/{body['id']}", {"line_items": body["line_items"], "buyer": BUYER})
    assert update.status_code == 200 and update.json()["status"] == "ready_for_complete"


def test_a_plan_is_bought_one_at_a_time_and_alone(agent, catalog_items):
    body = create(agent, quantity=3).json()
    assert body["status"] == "incomplete"
    assert [m["code"] for m in body["messages"] if m["type"] == "error"] == ["quantity_invalid"]
    both = agent.post(
        "/checkout-sessions",
        {"line_items": [{"item": {"id": "plan:pro"}}, {"item": {"id": "addon:setup:v"}}], "buyer": BUYER},
    ).json()
    assert both["status"] == "incomplete"
    assert "invalid_combination" in [m["code"] for m in both["messages"] if m["type"] == "error"]


def test_nothing_sold_here_creates_no_session(agent, catalog_items):
    for item in ("plan:hidden:v", "nope"):
        response = create(agent, item=item)
        assert response.status_code == 200
        body = response.json()
        assert body["ucp"]["status"] == "error"
        assert body["messages"][0]["severity"] == "unrecoverable"
    assert not Checkout.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"line_items": []},
        {"line_items": [{"quantity": 1}]},
        {"line_items": [{"item": {"id": "plan:pro:v"}, "quantity": 0}]},
        {"line_items": [{"item": {"id": "plan:pro:v"}, "quantity": "1"}]},
        {"line_items": [{"item": {"id": "plan:pro:v"}}], "buyer": "x"},
        [1, 2],
    ],
)
def test_malformed_bodies_are_refused_and_store_nothing(agent, catalog_items, body):
    response = agent.post("/checkout-sessions", body)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request"
    assert not Checkout.objects.exists()


def test_get_update_cancel_and_terminal_states(agent, catalog_items):
    checkout_id = create(agent).json()["id"]
    got = agent.get(f"/checkout-sessions/{checkout_id}")
    assert got.status_code == 200 and got.json()["id"] == checkout_id
    canceled = agent.post(f"/checkout-sessions/{checkout_id}/cancel")
    assert canceled.status_code == 200 and canceled.json()["status"] == "canceled"
    assert agent.post(f"/checkout-sessions/{checkout_id}/cancel").status_code == 409
    again = agent.put(f"/checkout-sessions/{checkout_id}", {"line_items": [{"item": {"id": "plan:pro:v"}}]})
    assert again.status_code == 409
    assert agent.get("/checkout-sessions/chk_nope").status_code == 404


def test_an_expired_session_is_canceled(agent, catalog_items):
    import datetime as dt

    from django.utils import timezone

    checkout_id = create(agent).json()["id"]
    Checkout.objects.filter(public_id=checkout_id).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert agent.get(f"/checkout-sessions/{checkout_id}").json()["status"] == "canceled"
    assert agent.post(f"/checkout-sessions/{checkout_id}/complete", card()).status_code == 409


def test_idempotency_key_replays_the_answer_and_refuses_another_request(agent, catalog_items):
    idem: dict[str, str] = {"Idempotency-Key": "key-1"}
    first = create(agent, headers=idem)
    second = create(agent, headers=idem)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert Checkout.objects.count() == 1
    conflict = create(agent, quantity=2, headers=idem)
    assert conflict.status_code == 409
    assert conflict.json()["code"] == "idempotency_conflict"


def test_complete_bills_charges_once_and_signs_the_answer(agent, catalog_items, fake_stripe, ucp_org):
    checkout_id = create(agent).json()["id"]
    response = agent.post(f"/checkout-sessions/{checkout_id}/complete", card(), {"Idempotency-Key": "c-1"})
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "completed"
    assert body["order"]["id"].startswith("ord_")
    assert body["order"]["permalink_url"] == f"https://billing.example.com/ucp/acme/orders/{body['order']['id']}"
    assert "pm_card_visa" not in response.content.decode()  # credentials are never echoed
    assert "continue_url" not in body
    checkout = Checkout.objects.get(public_id=checkout_id)
    subscription = checkout.subscription
    assert subscription is not None and checkout.customer is not None and checkout.invoice is not None
    assert subscription.status == "active" and subscription.plan.code == "pro"
    assert checkout.customer.email == "buyer@example.com" and checkout.customer.name == "Ada Lovelace"
    invoice = checkout.invoice
    assert invoice.status == "finalized" and invoice.payment_status == "succeeded"
    assert invoice.total_amount_cents == 2000
    payment = Payment.objects.get(invoice=invoice)
    assert payment.status == "succeeded" and payment.amount_cents == 2000
    assert payment.idempotency_key == f"ucp_{checkout_id}_0"
    assert PaymentMethod.objects.get(customer=checkout.customer).provider_method_id == "pm_card_visa"
    [charge] = fake_stripe.posts("/v1/payment_intents")
    assert charge["idempotency_key"] == f"ucp_{checkout_id}_0"
    # the signature covers status, digest and content type, with the published key
    _key, kid = signing_key(ucp_org)
    parsed = signing.parse_signature_input(response["Signature-Input"])
    assert parsed.keyid == kid and parsed.components == ("@status", "content-digest", "content-type")
    assert response["Content-Digest"] == signing.content_digest(response.content)
    # completing again (same key or not) answers the same order and charges nothing more
    replay = agent.post(f"/checkout-sessions/{checkout_id}/complete", card(), {"Idempotency-Key": "c-1"})
    assert replay.json()["order"] == body["order"]
    again = agent.post(f"/checkout-sessions/{checkout_id}/complete", card())
    assert again.json()["order"] == body["order"]
    assert len(fake_stripe.posts("/v1/payment_intents")) == 1
    assert Subscription.objects.count() == 1 and Invoice.objects.count() == 1
    assert agent.post(f"/checkout-sessions/{checkout_id}/cancel").status_code == 409  # completed is immutable


def test_a_declined_payment_bills_nothing_and_the_checkout_stays_completable(agent, catalog_items, fake_stripe):
    checkout_id = create(agent).json()["id"]
    before = billing_counts()
    declined = agent.post(f"/checkout-sessions/{checkout_id}/complete", card("pm_card_chargeDeclined"))
    assert declined.status_code == 200
    body = declined.json()
    assert body["status"] == "ready_for_complete"
    assert body["messages"][0]["code"] == "payment_failed" and body["messages"][0]["severity"] == "recoverable"
    assert billing_counts() == before
    paid = agent.post(f"/checkout-sessions/{checkout_id}/complete", card())
    assert paid.json()["status"] == "completed"
    keys = [p["idempotency_key"] for p in fake_stripe.posts("/v1/payment_intents")]
    assert keys == [f"ucp_{checkout_id}_0", f"ucp_{checkout_id}_1"]
    assert Invoice.objects.get().payment_status == "succeeded"


def test_3ds_escalates_with_a_continue_url_and_bills_nothing(agent, catalog_items, fake_stripe):
    checkout_id = create(agent).json()["id"]
    before = billing_counts()
    response = agent.post(f"/checkout-sessions/{checkout_id}/complete", card("pm_card_threeDSecure"))
    body = response.json()
    assert body["status"] == "requires_escalation"
    assert body["continue_url"].startswith("http")
    assert body["messages"][0]["severity"] == "requires_buyer_input"
    assert billing_counts() == before
    assert Checkout.objects.get(public_id=checkout_id).pending_provider_payment_id


def test_an_add_on_is_a_paid_one_off_invoice(agent, catalog_items, fake_stripe):
    body = create(agent, item="addon:setup:v", quantity=2).json()
    assert {t["type"]: t["amount"] for t in body["totals"]} == {"subtotal": 10000, "total": 10000}
    done = agent.post(f"/checkout-sessions/{body['id']}/complete", card()).json()
    assert done["status"] == "completed"
    invoice = Checkout.objects.get(public_id=body["id"]).invoice
    assert invoice is not None
    assert invoice.invoice_type == "one_off" and invoice.payment_status == "succeeded"
    assert invoice.total_amount_cents == 10000
    assert not Subscription.objects.exists()


def test_an_in_arrears_plan_charges_nothing_now_and_keeps_the_card(agent, catalog_items, fake_stripe):
    body = create(agent, item="plan:metered:v").json()
    assert {t["type"]: t["amount"] for t in body["totals"]} == {"subtotal": 0, "total": 0}
    assert any("API calls" in m["content"] for m in body["messages"] if m["type"] == "info")
    done = agent.post(f"/checkout-sessions/{body['id']}/complete", card()).json()
    assert done["status"] == "completed"
    checkout = Checkout.objects.get(public_id=body["id"])
    assert checkout.subscription is not None and checkout.subscription.status == "active"
    assert checkout.invoice is None
    assert fake_stripe.posts("/v1/payment_intents") == []
    assert PaymentMethod.objects.get(customer=checkout.customer).is_default


def test_a_known_buyer_is_the_existing_customer(agent, catalog_items, fake_stripe, ucp_org):
    from tests.factories.customers import CustomerFactory

    existing = CustomerFactory(organization=ucp_org.organization, email="Buyer@Example.com", currency="USD")
    body = create(agent).json()
    agent.post(f"/checkout-sessions/{body['id']}/complete", card())
    assert Checkout.objects.get(public_id=body["id"]).customer_id == existing.id
    assert Customer.objects.count() == 1


def test_complete_needs_a_known_handler_and_a_token(agent, catalog_items, fake_stripe):
    checkout_id = create(agent).json()["id"]
    bad = card()
    bad["payment"]["instruments"][0]["handler_id"] = "other"
    assert agent.post(f"/checkout-sessions/{checkout_id}/complete", bad).status_code == 400
    assert agent.post(f"/checkout-sessions/{checkout_id}/complete", {}).status_code == 400
    assert agent.post(f"/checkout-sessions/{checkout_id}/complete", card("tok_raw_card")).status_code == 400
    assert Checkout.objects.get(public_id=checkout_id).status == "ready_for_complete"
    assert fake_stripe.posts("/v1/payment_intents") == []


def test_an_incomplete_checkout_cannot_be_completed(agent, catalog_items, fake_stripe):
    checkout_id = create(agent, buyer=None).json()["id"]
    response = agent.post(f"/checkout-sessions/{checkout_id}/complete", card())
    assert response.status_code == 409
    assert not Subscription.objects.exists()


def test_manual_provider_places_the_order_and_leaves_the_invoice_to_pay(other_ucp_org):
    from tests.factories.catalog import PlanFactory
    from ucp.models import UcpListing

    plan = PlanFactory(organization=other_ucp_org.organization, code="basic", amount_cents=700, pay_in_advance=True)
    UcpListing.objects.create(organization=other_ucp_org.organization, plan=plan)
    agent = Agent("globex")
    checkout_id = create(agent, item="plan:basic:v").json()["id"]
    instrument = {"payment": {"instruments": [{"id": "i", "handler_id": "manual_main", "type": "invoice"}]}}
    done = agent.post(f"/checkout-sessions/{checkout_id}/complete", instrument).json()
    assert done["status"] == "completed"
    invoice = Checkout.objects.get(public_id=checkout_id).invoice
    assert invoice is not None
    assert invoice.status == "finalized" and invoice.payment_status == "pending"
    assert not Payment.objects.exists()


def test_unavailable_items_are_removed_with_a_warning_when_others_remain(agent, catalog_items):
    body = agent.post(
        "/checkout-sessions",
        {"line_items": [{"item": {"id": "plan:pro:v"}}, {"item": {"id": "plan:hidden:v"}}], "buyer": BUYER},
    ).json()
    assert [line["item"]["id"] for line in body["line_items"]] == ["plan:pro:v"]
    assert body["status"] == "ready_for_complete"
    assert body["messages"][0] == {
        "type": "warning",
        "code": "item_unavailable",
        "content": "plan:hidden:v is not sold here and was removed",
    }
