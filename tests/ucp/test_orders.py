"""Orders: GET /orders/{id} maps to the subscription and its invoices; order events are pushed to
the platform's webhook URL, signed with the business key, retried until delivered."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

from invoicing.credits.inputs import CreditNoteCreate
from tests.ucp.conftest import PLATFORM_URL, Agent, platform_profile
from tests.ucp.test_checkout import card, create
from ucp import signing
from ucp.models import Checkout, OrderEvent
from ucp.services import orders, setup

pytestmark = pytest.mark.django_db


class Receiver:
    """A platform's webhook endpoint on loopback: records every delivery; can fail the first ones."""

    def __init__(self, fail_first: int = 0):
        self.deliveries: list[dict] = []
        self.fail_first = fail_first
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.deliveries.append(
                    {"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body}
                )
                status = 500 if len(outer.deliveries) <= outer.fail_first else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/ucp?tenant=acme"

    def close(self):
        self.server.shutdown()


@pytest.fixture
def receiver(ucp_org, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = True
    box = Receiver()
    caps = platform_profile()["ucp"]["capabilities"]
    caps["dev.ucp.shopping.order"][0]["config"] = {"webhook_url": box.url}
    setup.platform_register(ucp_org.organization, profile_url=PLATFORM_URL, profile=platform_profile(capabilities=caps))
    yield box
    box.close()


def _buy(agent: Agent, item: str = "plan:pro:v") -> dict:
    checkout_id = create(agent, item=item).json()["id"]
    return agent.post(f"/checkout-sessions/{checkout_id}/complete", card()).json()


def test_get_order_maps_the_subscription_and_its_invoices(agent, catalog_items, fake_stripe):
    done = _buy(agent)
    response = agent.get(f"/orders/{done['order']['id']}")
    assert response.status_code == 200
    order = response.json()
    assert order["ucp"]["capabilities"] == {"dev.ucp.shopping.order": [{"version": "2026-04-08"}]}
    assert order["id"] == done["order"]["id"] and order["checkout_id"] == done["id"]
    assert order["permalink_url"].endswith(f"/orders/{done['order']['id']}")
    [line] = order["line_items"]
    assert line["status"] == "fulfilled" and line["quantity"] == {"original": 1, "total": 1, "fulfilled": 1}
    assert order["fulfillment"]["events"][0]["type"] == "activated"
    assert order["subscription"]["status"] == "active" and order["subscription"]["plan_code"] == "pro"
    [invoice] = order["invoices"]
    assert invoice["payment_status"] == "succeeded" and invoice["total"] == {"amount": 2000, "currency": "USD"}
    assert order["adjustments"] == []
    assert response["Signature-Input"].startswith('sig1=("@status" "content-digest" "content-type")')


def test_refunds_and_termination_show_on_the_order(agent, catalog_items, fake_stripe, ucp_org):
    from invoicing.credits.services.credit_notes import credit_note_create
    from subscriptions.services.lifecycle import subscription_terminate

    done = _buy(agent)
    checkout = Checkout.objects.get(public_id=done["id"])
    assert checkout.invoice is not None and checkout.subscription is not None
    fee = checkout.invoice.fees.first()
    assert fee is not None
    credit_note_create(
        ucp_org.organization,
        CreditNoteCreate.from_body(
            {
                "invoice_id": checkout.invoice.id,
                "items": [{"fee_id": str(fee.id), "amount_cents": 500}],
                "refund_amount_cents": 500,
                "reason": "other",
            }
        ),
    )
    subscription_terminate(ucp_org.organization, checkout.subscription, on_termination_credit_note="skip")
    order = agent.get(f"/orders/{done['order']['id']}").json()
    [adjustment] = order["adjustments"]
    assert adjustment["type"] == "refund" and adjustment["totals"] == [{"type": "total", "amount": -500}]
    assert order["line_items"][0]["status"] == "removed"
    assert order["subscription"]["status"] == "terminated"


def test_orders_are_private_to_their_platform_and_organization(
    agent, catalog_items, fake_stripe, ucp_org, other_ucp_org
):
    order_id = _buy(agent)["order"]["id"]
    setup.platform_register(ucp_org.organization, profile_url="https://b.example.test/p", profile=platform_profile())
    other_platform = Agent("acme", "https://b.example.test/p").get(f"/orders/{order_id}").json()
    assert other_platform["ucp"]["status"] == "error" and other_platform["messages"][0]["code"] == "unauthorized"
    other_org = Agent("globex").get(f"/orders/{order_id}").json()
    assert other_org["messages"][0]["code"] == "not_found"
    assert agent.get("/orders/ord_nope").json()["messages"][0]["code"] == "not_found"


def test_order_created_is_pushed_signed_with_the_published_key(
    receiver, agent, catalog_items, fake_stripe, ucp_org, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        done = _buy(agent)
    [delivery] = receiver.deliveries
    payload = json.loads(delivery["body"])
    assert payload["id"] == done["order"]["id"] and payload["checkout_id"] == done["id"]
    assert payload["event_type"] == "order.created" and payload["line_items"]
    headers = delivery["headers"]
    assert headers["ucp-agent"] == 'profile="https://billing.example.com/ucp/acme/.well-known/ucp"'
    assert headers["webhook-id"] == payload["event_id"] and headers["webhook-timestamp"].isdigit()
    parsed = signing.parse_signature_input(headers["signature-input"])
    assert {"@method", "@authority", "@path", "@query", "ucp-agent", "idempotency-key", "content-digest"} <= set(
        parsed.components
    )
    # verified as a platform would: the key from the business profile, the request as received
    key, kid = setup.signing_key(ucp_org)
    url = urlsplit(receiver.url)
    parts = signing.RequestParts(
        method="POST",
        authority=url.netloc,
        path=url.path,
        query=url.query,
        headers=headers,
        body=delivery["body"],
    )
    assert signing.verify_request(parts, [signing.public_jwk(key, kid)]) == kid
    assert OrderEvent.objects.get().delivered_at is not None


def test_failed_deliveries_are_retried_by_the_sweep(
    receiver, agent, catalog_items, fake_stripe, django_capture_on_commit_callbacks
):
    import datetime as dt

    from django.utils import timezone

    receiver.fail_first = 1
    with django_capture_on_commit_callbacks(execute=True):
        _buy(agent)
    event = OrderEvent.objects.get()
    assert event.delivered_at is None and event.attempts == 1 and event.last_status == 500
    assert orders.order_events_due() == []  # not before its retry time
    later = timezone.now() + dt.timedelta(minutes=2)
    assert orders.order_events_due(later) == [str(event.id)]
    orders.order_event_deliver(str(event.id), now=later)
    event.refresh_from_db()
    assert event.delivered_at is not None and event.attempts == 2
    assert len(receiver.deliveries) == 2


def test_a_renewal_invoice_sends_the_order_again(receiver, agent, catalog_items, fake_stripe):
    from ucp.services.orders import order_events_for_invoice

    done = _buy(agent)
    checkout = Checkout.objects.get(public_id=done["id"])
    assert checkout.invoice is not None
    assert order_events_for_invoice(str(checkout.invoice.id)) == 0  # the first invoice is in order.created
    assert OrderEvent.objects.count() == 1


def test_the_sweep_command_sends_what_is_due_and_forgets_old_keys(receiver, agent, catalog_items, fake_stripe):
    import datetime as dt
    from io import StringIO

    from django.core.management import call_command
    from django.utils import timezone

    from ucp.models import IdempotencyRecord

    _buy(agent)  # on-commit delivery lost (test transaction): the sweep sends it
    create(agent, headers={"Idempotency-Key": "old"})
    IdempotencyRecord.objects.update(created_at=timezone.now() - dt.timedelta(hours=49))
    out = StringIO()
    call_command("ucp_sweep", "--dry-run", stdout=out)
    assert "1 order event(s) due, 1 idempotency record(s) expired" in out.getvalue()
    call_command("ucp_sweep", stdout=out)
    assert "1 delivered; 1 idempotency record(s) deleted" in out.getvalue()
    assert OrderEvent.objects.get().delivered_at is not None and not IdempotencyRecord.objects.exists()


def test_the_buyer_gets_a_confirmation_email(
    agent, catalog_items, fake_stripe, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        done = _buy(agent)
    [mail] = mailoutbox
    assert mail.to == ["buyer@example.com"]
    assert done["order"]["id"] in mail.subject
    assert "Paid now: 20.00 USD" in mail.body and "per month" in mail.body


def test_a_batch_of_invoices_sends_the_orders_of_those_that_belong_to_one(
    receiver, agent, catalog_items, fake_stripe, ucp_org, django_capture_on_commit_callbacks
):
    """`invoices_finalized` (a billing batch's invoices) enqueues one task; it sends `order.updated`
    for the renewal of an order's subscription only (not its first invoice, not a one-off invoice)."""
    import datetime as dt

    from django.utils import timezone

    from invoicing.models import Invoice, InvoiceSubscription
    from invoicing.signals import invoices_finalized
    from tests.factories.credits import make_one_off_invoice

    done = _buy(agent)
    checkout = Checkout.objects.get(public_id=done["id"])
    assert checkout.invoice is not None and checkout.subscription is not None
    renewal = make_one_off_invoice(checkout.subscription.customer, 2000)
    now = timezone.now()
    InvoiceSubscription.objects.create(
        organization=ucp_org.organization, invoice=renewal, subscription=checkout.subscription,
        invoicing_reason="subscription_periodic", timestamp=now, from_datetime=now - dt.timedelta(days=30),
        to_datetime=now, charges_from_datetime=now - dt.timedelta(days=30), charges_to_datetime=now,
    )  # fmt: skip
    other = make_one_off_invoice(checkout.subscription.customer, 500)  # no subscription, not the order's
    OrderEvent.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        invoices_finalized.send(
            sender=Invoice, invoices=[checkout.invoice, renewal, other], organization=ucp_org.organization
        )
    assert len(callbacks) == 1  # one task for the batch
    assert orders.order_events_for_invoices([str(checkout.invoice.id), str(renewal.id), str(other.id)]) == 1
    [event] = OrderEvent.objects.all()
    assert event.event_type == "order.updated"
    assert orders.order_events_for_invoices([str(other.id)]) == 0
