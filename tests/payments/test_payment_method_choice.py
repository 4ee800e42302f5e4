"""Choosing the payment method per subscription, one-off invoice, wallet, top-up and recurring rule
(Lago's `payment_method` object): stored and echoed, checked against the customer's own saved
methods (422 `invalid_payment_method`, nothing stored), and used by collection, whose provider
charge names the chosen method (the fake Stripe and Adyen servers see the SDKs' real requests)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from catalog.models import AddOn
from customers.payment_choice import PaymentMethodChoice
from invoicing.billing.run import customer_bill
from invoicing.credits.models import RecurringTransactionRule, Wallet, WalletTransaction
from invoicing.credits.services.wallet_rules import wallets_recurring_top_up
from invoicing.models import Invoice, InvoiceStatus, InvoiceType
from payments.models import Payment, PaymentMethod, PaymentStatus
from payments.services import collection
from payments.services.method_choice import payment_method_determine
from subscriptions.models import Subscription
from tests.factories.invoicing import make_plan, subscribe
from tests.factories.payments import adyen_connection, finalized_invoice, provider_customer, stripe_connection

pytestmark = pytest.mark.django_db

INVALID = {
    "status": 422,
    "error": "Unprocessable Entity",
    "code": "validation_errors",
    "error_details": {"payment_method": ["invalid_payment_method"]},
}


def _method(customer, connection, provider_method_id, *, default=False):
    return PaymentMethod.objects.create(
        organization=customer.organization, customer=customer, connection=connection,
        provider_method_id=provider_method_id, method_type="card", is_default=default,
    )  # fmt: skip


@pytest.fixture
def stripe_world(organization, fake_stripe):
    """A Stripe customer whose default card is declined and whose second card works."""
    connection = stripe_connection(organization)
    customer = provider_customer(
        organization, connection, provider_customer_id=fake_stripe.add_customer(),
        method="pm_card_chargeDeclined", external_id="pm-choice", currency="USD",
    )  # fmt: skip
    default = PaymentMethod.objects.get(customer=customer)
    chosen = _method(customer, connection, "pm_card_visa")
    return customer, connection, default, chosen


def _charged_methods(fake_stripe):
    return [r["params"].get("payment_method") for r in fake_stripe.posts("/v1/payment_intents")]


def _provider(method):
    return {"payment_method_type": "provider", "payment_method_id": str(method.id)}


MANUAL = {"payment_method_type": "manual", "payment_method_id": None}


# --- subscriptions ------------------------------------------------------------------------------


def test_subscription_stores_echoes_and_updates_its_payment_method(api, stripe_world):
    customer, _, default, chosen = stripe_world
    make_plan(customer.organization, code="basic")
    body = {"external_customer_id": "pm-choice", "plan_code": "basic", "external_id": "s-pm",
            "payment_method": _provider(chosen)}  # fmt: skip
    response = api.post("/api/v1/subscriptions", {"subscription": body}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["subscription"]["payment_method"] == _provider(chosen)
    subscription = Subscription.objects.get(external_id="s-pm")
    assert subscription.payment_method_choice == PaymentMethodChoice("provider", chosen.id)

    # PUT: manual drops the method; a later `provider` without an id is the customer's default.
    response = api.put("/api/v1/subscriptions/s-pm", {"subscription": {"payment_method": MANUAL}}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["subscription"]["payment_method"] == MANUAL
    response = api.put(
        "/api/v1/subscriptions/s-pm",
        {"subscription": {"payment_method": {"payment_method_type": "provider"}}},
        format="json",
    )
    assert response.json()["subscription"]["payment_method"] == {
        "payment_method_type": "provider",
        "payment_method_id": None,
    }
    # A PUT without payment_method leaves it alone; GET shows it.
    api.put("/api/v1/subscriptions/s-pm", {"subscription": {"payment_method": _provider(default)}}, format="json")
    api.put("/api/v1/subscriptions/s-pm", {"subscription": {"name": "renamed"}}, format="json")
    assert api.get("/api/v1/subscriptions/s-pm").json()["subscription"]["payment_method"] == _provider(default)


@pytest.mark.parametrize(
    "payment_method",
    [
        {"payment_method_type": "provider", "payment_method_id": str(uuid.uuid4())},  # nobody's
        {"payment_method_type": "provider", "payment_method_id": "not-a-uuid"},
        {"payment_method_type": "card"},
        {"payment_method_id": "{chosen}"},  # an id without its type
        {"payment_method_type": "manual", "payment_method_id": "{chosen}"},  # manual names no method
        "manual",  # not an object
        {"payment_method_type": ["manual"]},
        {"payment_method_type": "provider", "payment_method_id": "x" * 100},
    ],
)
def test_an_invalid_choice_is_422_and_nothing_is_stored(api, stripe_world, payment_method):
    customer, _, _, chosen = stripe_world
    make_plan(customer.organization, code="basic")
    if isinstance(payment_method, dict):
        payment_method = {
            k: v.replace("{chosen}", str(chosen.id)) if isinstance(v, str) else v for k, v in payment_method.items()
        }
    body = {"external_customer_id": "pm-choice", "plan_code": "basic", "external_id": "s-bad",
            "payment_method": payment_method}  # fmt: skip
    response = api.post("/api/v1/subscriptions", {"subscription": body}, format="json")
    assert response.status_code == 422, response.content
    assert response.json() == INVALID
    assert not Subscription.objects.filter(external_id="s-bad").exists()


def test_another_tenants_or_customers_method_is_invalid_everywhere(api, organization, other_tenant, stripe_world):
    """Tenant isolation: a method id of another organization (or another customer of this one) is
    `invalid_payment_method` on every route that takes one, and changes nothing."""
    customer, connection, _, _ = stripe_world
    theirs_connection = stripe_connection(other_tenant.organization)
    theirs = provider_customer(
        other_tenant.organization, theirs_connection, provider_customer_id="cus_theirs", method="pm_theirs",
        external_id="pm-choice", currency="USD",
    )  # fmt: skip
    neighbour = provider_customer(
        organization, connection, provider_customer_id="cus_neighbour", method="pm_neighbour",
        external_id="neighbour", currency="USD",
    )  # fmt: skip
    make_plan(organization, code="basic")
    AddOn.objects.create(organization=organization, code="setup", name="Setup", amount_cents=500, amount_currency="USD")
    subscription = subscribe(customer, make_plan(organization, code="other"), datetime(2024, 1, 1, tzinfo=UTC))
    wallet = api.post(
        "/api/v1/wallets",
        {"wallet": {"external_customer_id": "pm-choice", "rate_amount": "1", "currency": "USD"}},
        format="json",
    ).json()["wallet"]
    invoice = finalized_invoice(customer, 1000)
    for foreign in (PaymentMethod.objects.get(customer=theirs), PaymentMethod.objects.get(customer=neighbour)):
        choice = _provider(foreign)
        calls = [
            ("post", "/subscriptions", {"subscription": {"external_customer_id": "pm-choice", "plan_code": "basic",
                                                         "external_id": "s-x", "payment_method": choice}}),
            ("put", f"/subscriptions/{subscription.external_id}", {"subscription": {"payment_method": choice}}),
            ("post", "/invoices", {"invoice": {"external_customer_id": "pm-choice", "currency": "USD",
                                               "fees": [{"add_on_code": "setup"}], "payment_method": choice}}),
            ("post", "/wallets", {"wallet": {"external_customer_id": "pm-choice", "rate_amount": "1",
                                             "currency": "USD", "code": "w2", "payment_method": choice}}),
            ("put", f"/wallets/{wallet['lago_id']}", {"wallet": {"payment_method": choice}}),
            ("put", f"/wallets/{wallet['lago_id']}", {"wallet": {"recurring_transaction_rules": [
                {"trigger": "interval", "interval": "monthly", "paid_credits": "5", "payment_method": choice}]}}),
            ("post", "/wallet_transactions", {"wallet_transaction": {"wallet_id": wallet["lago_id"],
                                                                     "paid_credits": "5", "payment_method": choice}}),
            ("post", f"/invoices/{invoice.id}/retry_payment", {"payment_method": choice}),
        ]  # fmt: skip
        for method, path, body in calls:
            before = (Subscription.objects.count(), Invoice.objects.count(), WalletTransaction.objects.count(),
                      RecurringTransactionRule.objects.count(), Payment.objects.count())  # fmt: skip
            response = getattr(api, method)(f"/api/v1{path}", body, format="json")
            assert response.status_code == 422, (path, response.content)
            assert response.json() == INVALID, path
            after = (Subscription.objects.count(), Invoice.objects.count(), WalletTransaction.objects.count(),
                     RecurringTransactionRule.objects.count(), Payment.objects.count())  # fmt: skip
            assert after == before, path
    subscription.refresh_from_db()
    assert subscription.payment_method_id is None
    assert Wallet.objects.get(id=wallet["lago_id"]).payment_method_id is None
    # The other tenant's own customer may choose its own method.
    response = other_tenant.client.post(
        "/api/v1/wallets",
        {"wallet": {"external_customer_id": "pm-choice", "rate_amount": "1", "currency": "USD",
                    "payment_method": _provider(PaymentMethod.objects.get(customer=theirs))}},
        format="json",
    )  # fmt: skip
    assert response.status_code == 200, response.content


def test_billing_run_collects_with_the_subscriptions_method(
    api, stripe_world, fake_stripe, django_capture_on_commit_callbacks
):
    customer, _, _, chosen = stripe_world
    subscription = subscribe(
        customer, make_plan(customer.organization, amount_cents=1000), datetime(2024, 1, 1, tzinfo=UTC)
    )
    response = api.put(
        f"/api/v1/subscriptions/{subscription.external_id}",
        {"subscription": {"payment_method": _provider(chosen)}},
        format="json",
    )
    assert response.status_code == 200, response.content
    with django_capture_on_commit_callbacks(execute=True):
        [invoice] = customer_bill(customer.id, at=datetime(2024, 2, 1, 1, tzinfo=UTC))
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.FINALIZED and invoice.total_amount_cents == 1000
    # The charge went to the chosen card (the default one is declined), and succeeded.
    assert _charged_methods(fake_stripe) == ["pm_card_visa"]
    payment = Payment.objects.get(invoice=invoice)
    assert payment.provider_method_id == "pm_card_visa" and payment.status == PaymentStatus.SUCCEEDED
    assert invoice.payment_status == "succeeded"
    # Lago's payment object names the saved method charged.
    shown = api.get(f"/api/v1/payments/{payment.id}").json()["payment"]
    assert shown["payment_method_id"] == str(chosen.id)


def test_billing_run_of_a_manual_subscription_charges_nothing(
    api, stripe_world, fake_stripe, django_capture_on_commit_callbacks
):
    customer, _, _, _ = stripe_world
    subscription = subscribe(
        customer, make_plan(customer.organization, amount_cents=1000), datetime(2024, 1, 1, tzinfo=UTC)
    )
    api.put(
        f"/api/v1/subscriptions/{subscription.external_id}", {"subscription": {"payment_method": MANUAL}}, format="json"
    )
    with django_capture_on_commit_callbacks(execute=True):
        [invoice] = customer_bill(customer.id, at=datetime(2024, 2, 1, 1, tzinfo=UTC))
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.FINALIZED and invoice.payment_status == "pending"
    assert fake_stripe.posts("/v1/payment_intents") == []
    assert not Payment.objects.filter(invoice=invoice).exists()
    # Paid by hand, as any invoice: a manual payment settles it.
    collection.payment_create_manual(
        customer.organization, invoice_id=invoice.id, amount_cents=1000, reference="wire 1"
    )
    invoice.refresh_from_db()
    assert invoice.payment_status == "succeeded"


def test_a_plan_change_keeps_the_method_unless_the_request_names_one(api, stripe_world):
    customer, _, default, chosen = stripe_world
    make_plan(customer.organization, code="small", amount_cents=100)
    make_plan(customer.organization, code="big", amount_cents=10_000)
    make_plan(customer.organization, code="huge", amount_cents=100_000)
    body = {"external_customer_id": "pm-choice", "plan_code": "small", "external_id": "s-chg",
            "payment_method": _provider(chosen)}  # fmt: skip
    assert api.post("/api/v1/subscriptions", {"subscription": body}, format="json").status_code == 200
    upgrade = {"external_customer_id": "pm-choice", "plan_code": "big", "external_id": "s-chg"}
    answer = api.post("/api/v1/subscriptions", {"subscription": upgrade}, format="json").json()["subscription"]
    assert answer["plan_code"] == "big" and answer["payment_method"] == _provider(chosen)
    again = {**upgrade, "plan_code": "huge", "payment_method": _provider(default)}
    answer = api.post("/api/v1/subscriptions", {"subscription": again}, format="json").json()["subscription"]
    assert answer["plan_code"] == "huge" and answer["payment_method"] == _provider(default)


# --- one-off invoices and retry_payment -------------------------------------------------------------


def _one_off(api, payment_method=None):
    body = {"external_customer_id": "pm-choice", "currency": "USD", "fees": [{"add_on_code": "setup"}]}
    if payment_method is not None:
        body["payment_method"] = payment_method
    return api.post("/api/v1/invoices", {"invoice": body}, format="json")


def test_one_off_invoice_is_collected_with_its_own_method(
    api, stripe_world, fake_stripe, django_capture_on_commit_callbacks
):
    customer, _, _, chosen = stripe_world
    AddOn.objects.create(organization=customer.organization, code="setup", name="Setup", amount_cents=500,
                         amount_currency="USD")  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        response = _one_off(api, _provider(chosen))
    assert response.status_code == 200, response.content
    invoice = Invoice.objects.get(id=response.json()["invoice"]["lago_id"])
    assert invoice.invoice_type == InvoiceType.ONE_OFF
    assert invoice.payment_method_choice == PaymentMethodChoice("provider", chosen.id)
    assert _charged_methods(fake_stripe) == ["pm_card_visa"]
    invoice.refresh_from_db()
    assert invoice.payment_status == "succeeded"

    # Manual: finalized, left pending, no provider call.
    with django_capture_on_commit_callbacks(execute=True):
        response = _one_off(api, MANUAL)
    manual = Invoice.objects.get(id=response.json()["invoice"]["lago_id"])
    assert manual.status == InvoiceStatus.FINALIZED and manual.payment_status == "pending"
    assert len(fake_stripe.posts("/v1/payment_intents")) == 1
    # Without a choice: the customer's default (declined).
    with django_capture_on_commit_callbacks(execute=True):
        _one_off(api)
    assert _charged_methods(fake_stripe) == ["pm_card_visa", "pm_card_chargeDeclined"]


def test_retry_payment_may_name_the_method_for_this_attempt(
    api, stripe_world, fake_stripe, django_capture_on_commit_callbacks
):
    customer, _, _, chosen = stripe_world
    invoice = finalized_invoice(customer, 2500)
    attempt = collection.invoice_collect(invoice.id)
    assert attempt is not None
    failed = collection.payment_submit(attempt.id)
    assert failed.status == PaymentStatus.FAILED and failed.provider_method_id == "pm_card_chargeDeclined"
    assert failed.payment_method_id == PaymentMethod.objects.get(provider_method_id="pm_card_chargeDeclined").id
    # `manual` for this retry: no attempt.
    response = api.post(f"/api/v1/invoices/{invoice.id}/retry_payment", {"payment_method": MANUAL}, format="json")
    assert response.status_code == 200 and Payment.objects.filter(invoice=invoice).count() == 1
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            f"/api/v1/invoices/{invoice.id}/retry_payment", {"payment_method": _provider(chosen)}, format="json"
        )
    assert response.status_code == 200, response.content
    assert _charged_methods(fake_stripe) == ["pm_card_chargeDeclined", "pm_card_visa"]
    invoice.refresh_from_db()
    assert invoice.payment_status == "succeeded"
    # The override was for that attempt: nothing was stored on the invoice.
    assert invoice.payment_method_id is None


def test_adyen_charge_names_the_chosen_stored_method(organization, fake_adyen):
    connection = adyen_connection(organization)
    customer = provider_customer(
        organization, connection, provider_customer_id="shopper-1", method="card_refused", currency="EUR",
        external_id="adyen-choice",
    )  # fmt: skip
    chosen = _method(customer, connection, "card_ok")
    invoice = finalized_invoice(
        customer, 1234, currency="EUR", payment_method_type="provider", payment_method_id=chosen.id
    )
    attempt = collection.invoice_collect(invoice.id)
    assert attempt is not None
    payment = collection.payment_submit(attempt.id)
    assert payment.status == PaymentStatus.SUCCEEDED
    [charge] = fake_adyen.posts("/payments")
    assert charge["body"]["paymentMethod"]["storedPaymentMethodId"] == "card_ok"


def test_a_removed_chosen_method_is_not_replaced_by_another(api, stripe_world, fake_stripe):
    customer, _, _, chosen = stripe_world
    invoice = finalized_invoice(customer, 700, payment_method_type="provider", payment_method_id=chosen.id)
    assert api.delete(f"/api/v1/customers/pm-choice/payment_methods/{chosen.id}").status_code == 200
    assert collection.invoice_collect(invoice.id) is None
    assert fake_stripe.posts("/v1/payment_intents") == []
    assert payment_method_determine(invoice).missing


# --- wallets, top-ups, recurring rules ---------------------------------------------------------------


def _wallet(api, **extra):
    body = {"external_customer_id": "pm-choice", "rate_amount": "1", "currency": "USD", **extra}
    response = api.post("/api/v1/wallets", {"wallet": body}, format="json")
    assert response.status_code == 200, response.content
    return response.json()["wallet"]


def test_top_up_uses_the_transactions_then_the_wallets_method(
    api, stripe_world, fake_stripe, django_capture_on_commit_callbacks
):
    _customer, _, default, chosen = stripe_world
    with django_capture_on_commit_callbacks(execute=True):
        wallet = _wallet(api, paid_credits="10", payment_method=_provider(chosen))
    assert wallet["payment_method"] == _provider(chosen)
    # The initial purchase has no choice of its own: the wallet's decides.
    assert _charged_methods(fake_stripe) == ["pm_card_visa"]

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            "/api/v1/wallet_transactions",
            {"wallet_transaction": {"wallet_id": wallet["lago_id"], "paid_credits": "5",
                                    "payment_method": _provider(default)}},
            format="json",
        )  # fmt: skip
    assert response.status_code == 200, response.content
    [purchase] = response.json()["wallet_transactions"]
    assert purchase["payment_method"] == _provider(default)
    assert _charged_methods(fake_stripe) == ["pm_card_visa", "pm_card_chargeDeclined"]

    # PUT /wallets changes the wallet's choice; GET echoes it.
    response = api.put(f"/api/v1/wallets/{wallet['lago_id']}", {"wallet": {"payment_method": MANUAL}}, format="json")
    assert response.status_code == 200 and response.json()["wallet"]["payment_method"] == MANUAL
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            "/api/v1/wallet_transactions",
            {"wallet_transaction": {"wallet_id": wallet["lago_id"], "paid_credits": "3"}},
            format="json",
        )
    [manual] = response.json()["wallet_transactions"]
    invoice = Invoice.objects.get(id=manual["lago_invoice_id"])
    assert invoice.status == InvoiceStatus.FINALIZED and invoice.payment_status == "pending"
    assert len(fake_stripe.posts("/v1/payment_intents")) == 2  # nothing charged for the manual wallet


def test_customer_scoped_wallet_routes_take_the_method(api, stripe_world):
    _, _, _, chosen = stripe_world
    response = api.post(
        "/api/v1/customers/pm-choice/wallets",
        {"wallet": {"rate_amount": "1", "currency": "USD", "code": "cw", "payment_method": _provider(chosen)}},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["wallet"]["payment_method"] == _provider(chosen)
    response = api.put("/api/v1/customers/pm-choice/wallets/cw", {"wallet": {"payment_method": MANUAL}}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["wallet"]["payment_method"] == MANUAL


def test_a_recurring_rules_top_up_uses_the_rules_method(
    api, stripe_world, fake_stripe, django_capture_on_commit_callbacks
):
    _customer, _, default, chosen = stripe_world
    rule = {"trigger": "threshold", "threshold_credits": "5", "paid_credits": "20",
            "payment_method": _provider(chosen)}  # fmt: skip
    wallet = _wallet(api, payment_method=_provider(default), recurring_transaction_rules=[rule])
    [shown] = wallet["recurring_transaction_rules"]
    assert shown["payment_method"] == _provider(chosen)
    with django_capture_on_commit_callbacks(execute=True):
        assert wallets_recurring_top_up() == [shown["lago_id"]]
    tx = WalletTransaction.objects.get(wallet_id=wallet["lago_id"], source="threshold", transaction_status="purchased")
    assert tx.payment_method_choice == PaymentMethodChoice("provider", chosen.id)
    assert _charged_methods(fake_stripe) == ["pm_card_visa"]  # the rule's, not the wallet's declined card
    assert Payment.objects.get(invoice=tx.invoice).status == PaymentStatus.SUCCEEDED


def test_a_rule_with_a_foreign_method_is_refused_on_wallet_creation(api, organization, stripe_world):
    other = provider_customer(
        organization, stripe_world[1], provider_customer_id="cus_other", method="pm_other", external_id="other",
    )  # fmt: skip
    rule = {"trigger": "interval", "interval": "monthly", "paid_credits": "5",
            "payment_method": _provider(PaymentMethod.objects.get(customer=other))}  # fmt: skip
    body = {"external_customer_id": "pm-choice", "rate_amount": "1", "currency": "USD",
            "recurring_transaction_rules": [rule]}  # fmt: skip
    response = api.post("/api/v1/wallets", {"wallet": body}, format="json")
    assert response.status_code == 422 and response.json() == INVALID
    assert not Wallet.objects.filter(customer__external_id="pm-choice").exists()


# --- the determination, level by level ---------------------------------------------------------------


def test_determine_by_invoice_type(stripe_world):
    customer, _, default, chosen = stripe_world
    one_off = finalized_invoice(customer, 100)
    assert payment_method_determine(one_off).source == "customer_default"
    assert payment_method_determine(one_off).method is None and payment_method_determine(one_off).chargeable
    add_on = finalized_invoice(customer, 100, invoice_type=InvoiceType.ADD_ON, payment_method_id=chosen.id)
    assert payment_method_determine(add_on).method == chosen
    manual = finalized_invoice(customer, 100, payment_method_type="manual")
    assert payment_method_determine(manual).manual and not payment_method_determine(manual).chargeable
    override = PaymentMethodChoice("provider", default.id)
    decided = payment_method_determine(manual, override=override)
    assert decided.source == "override" and decided.method == default
    # A credit invoice whose top-up chose nothing and whose wallet is manual: manual.
    wallet = Wallet.objects.create(
        organization=customer.organization, customer=customer, currency="USD", rate_amount=Decimal(1),
        payment_method_type="manual",
    )  # fmt: skip
    credit = finalized_invoice(customer, 100, invoice_type=InvoiceType.CREDIT)
    WalletTransaction.objects.create(
        organization=customer.organization, wallet=wallet, invoice=credit, transaction_type="inbound",
        transaction_status="purchased", status="pending", amount_cents=100, credit_amount=Decimal(1),
    )  # fmt: skip
    decided = payment_method_determine(credit)
    assert decided.manual and decided.source == "wallet"


# --- payment requests ---------------------------------------------------------------------------------


def test_a_payment_request_may_name_the_method_to_charge(
    api, stripe_world, fake_stripe, django_capture_on_commit_callbacks
):
    customer, _, _, chosen = stripe_world
    overdue = finalized_invoice(customer, 900, payment_overdue=True)

    def request(payment_method):
        body = {"external_customer_id": "pm-choice", "lago_invoice_ids": [str(overdue.id)],
                "payment_method": payment_method}  # fmt: skip
        with django_capture_on_commit_callbacks(execute=True):
            return api.post("/api/v1/payment_requests", {"payment_request": body}, format="json")

    foreign = {"payment_method_type": "provider", "payment_method_id": str(uuid.uuid4())}
    response = request(foreign)
    assert response.status_code == 422 and response.json() == INVALID
    assert fake_stripe.posts("/v1/payment_intents") == []
    response = request(MANUAL)
    assert response.status_code == 200, response.content
    assert fake_stripe.posts("/v1/payment_intents") == []  # manual: the request is e-mailed, not charged
    response = request(_provider(chosen))
    assert response.status_code == 200, response.content
    assert _charged_methods(fake_stripe) == ["pm_card_visa"]


# --- the admin ----------------------------------------------------------------------------------------


def test_the_admin_shows_the_choice(client, api, stripe_world):
    from django.contrib.auth.models import User
    from django.urls import reverse

    customer, _, _, chosen = stripe_world
    chosen.details = {"brand": "visa", "last4": "4242"}
    chosen.save()
    subscription = subscribe(
        customer, make_plan(customer.organization), datetime(2024, 1, 1, tzinfo=UTC),
        payment_method_type="provider", payment_method_id=chosen.id,
    )  # fmt: skip
    one_off = finalized_invoice(customer, 100, payment_method_type="manual")
    gone = finalized_invoice(customer, 100, payment_method_id=uuid.uuid4())
    rule = {"trigger": "interval", "interval": "monthly", "paid_credits": "5", "payment_method": MANUAL}
    wallet = _wallet(api, payment_method=_provider(chosen), recurring_transaction_rules=[rule], granted_credits="1")
    tx = WalletTransaction.objects.filter(wallet_id=wallet["lago_id"]).first()
    assert tx is not None
    client.force_login(User.objects.create_superuser("root", "root@example.test", "pw"))
    pages = [
        (reverse("admin:subscriptions_subscription_change", args=[subscription.pk]), ["stripe card visa ••4242"]),
        (reverse("admin:invoicing_invoice_change", args=[one_off.pk]), ["manual (no automatic collection)"]),
        (reverse("admin:invoicing_invoice_change", args=[gone.pk]), ["removed: nothing is charged"]),
        (
            reverse("admin:invoicing_wallet_change", args=[wallet["lago_id"]]),
            ["stripe card visa ••4242", "manual (no automatic collection)"],  # the wallet's, its rule's
        ),
        (reverse("admin:invoicing_wallettransaction_change", args=[tx.pk]), ["provider: default method"]),
    ]
    for url, texts in pages:
        page = client.get(url)
        assert page.status_code == 200, url
        for text in texts:
            assert text in page.content.decode(), (url, text)


def test_dunning_never_charges_an_invoice_chosen_manual(
    api, stripe_world, fake_stripe, django_capture_on_commit_callbacks
):
    customer, _, _, _ = stripe_world
    manual = finalized_invoice(customer, 900, payment_overdue=True, payment_method_type="manual")
    other = finalized_invoice(customer, 100, payment_overdue=True)
    body = {"external_customer_id": "pm-choice", "lago_invoice_ids": [str(manual.id), str(other.id)]}
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/v1/payment_requests", {"payment_request": body}, format="json")
    assert response.status_code == 200, response.content
    assert fake_stripe.posts("/v1/payment_intents") == []  # e-mailed, not charged
    body["lago_invoice_ids"] = [str(other.id)]
    with django_capture_on_commit_callbacks(execute=True):
        api.post("/api/v1/payment_requests", {"payment_request": body}, format="json")
    assert _charged_methods(fake_stripe) == ["pm_card_chargeDeclined"]  # the default method


def test_an_invoice_of_two_subscriptions_is_collected_as_the_oldest_chose(api, stripe_world):
    customer, _, _, chosen = stripe_world
    plan = make_plan(customer.organization, amount_cents=1000)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    subscribe(customer, plan, start, payment_method_type="manual")
    subscribe(customer, plan, start, payment_method_id=chosen.id)
    [invoice] = customer_bill(customer.id, at=datetime(2024, 2, 1, 1, tzinfo=UTC))
    assert invoice.invoice_subscriptions.count() == 2
    decided = payment_method_determine(invoice)
    assert decided.source == "subscription" and decided.manual


def test_a_scheduled_downgrade_follows_the_method_put_on_its_subscription(api, stripe_world):
    customer, _, _, chosen = stripe_world
    make_plan(customer.organization, code="big", amount_cents=10_000)
    make_plan(customer.organization, code="small", amount_cents=100)
    body: dict[str, Any] = {"external_customer_id": "pm-choice", "plan_code": "big", "external_id": "s-down"}
    assert api.post("/api/v1/subscriptions", {"subscription": body}, format="json").status_code == 200
    body["plan_code"] = "small"  # a downgrade: pending until the period ends
    assert api.post("/api/v1/subscriptions", {"subscription": body}, format="json").status_code == 200
    response = api.put(
        "/api/v1/subscriptions/s-down", {"subscription": {"payment_method": _provider(chosen)}}, format="json"
    )
    assert response.status_code == 200, response.content
    pending = Subscription.objects.get(external_id="s-down", status="pending")
    assert pending.payment_method_choice == PaymentMethodChoice("provider", chosen.id)
    # The same plan posted again may change the method (as it may change the name).
    body.update(plan_code="big", payment_method=MANUAL)
    answer = api.post("/api/v1/subscriptions", {"subscription": body}, format="json").json()["subscription"]
    assert answer["plan_code"] == "big" and answer["payment_method"] == MANUAL


def test_the_portal_says_how_each_subscription_is_paid(api, client, stripe_world):
    from django.utils import timezone

    customer, _, _, chosen = stripe_world
    chosen.details = {"brand": "visa", "last4": "4242"}
    chosen.save()
    plan = make_plan(customer.organization, amount_cents=1000)
    subscribe(customer, plan, timezone.now(), payment_method_id=chosen.id)
    url = api.get("/api/v1/customers/pm-choice/portal_url").json()["customer"]["portal_url"]
    html = client.get(url[url.index("/portal/") :]).content.decode()
    assert "Paid with visa ···· 4242" in html


def test_gocardless_payment_names_the_chosen_mandate(organization, fake_gocardless):
    from tests.factories.payments import gocardless_connection

    connection = gocardless_connection(organization)
    fake_gocardless.mandates["MD_DEAD"] = {"id": "MD_DEAD", "status": "cancelled", "links": {"customer": "CU_PM"}}
    customer = provider_customer(
        organization, connection, provider_customer_id="CU_PM", method="MD_DEAD", method_type="direct_debit",
        currency="EUR", external_id="gc-choice",
    )  # fmt: skip
    chosen = _method(customer, connection, fake_gocardless.add_mandate("CU_PM"))
    subscription = subscribe(
        customer, make_plan(organization, amount_cents=2500, currency="EUR"), datetime(2024, 1, 1, tzinfo=UTC),
        payment_method_id=chosen.id,
    )  # fmt: skip
    [invoice] = customer_bill(customer.id, at=datetime(2024, 2, 1, 1, tzinfo=UTC))
    assert invoice.invoice_subscriptions.get().subscription_id == subscription.id
    attempt = collection.invoice_collect(invoice.id)
    assert attempt is not None
    payment = collection.payment_submit(attempt.id)
    [sent] = fake_gocardless.posts("/payments")
    assert sent["body"]["payments"]["links"]["mandate"] == chosen.provider_method_id
    assert payment.status in (PaymentStatus.PENDING, PaymentStatus.PROCESSING)


@pytest.mark.parametrize(
    "payment_method",
    [
        {"payment_method_type": 5},
        {"payment_method_type": ["manual"]},
        {"payment_method_type": "provider", "payment_method_id": 12},
        {"payment_method_type": "provider", "payment_method_id": {"id": "x"}},
        {"payment_method_type": "provider", "payment_method_id": []},
        ["provider"],
        7,
    ],
)
def test_odd_values_on_the_raw_wallet_routes_are_422_not_500(api, stripe_world, payment_method):
    body = {
        "external_customer_id": "pm-choice",
        "rate_amount": "1",
        "currency": "USD",
        "payment_method": payment_method,
    }
    response = api.post("/api/v1/wallets", {"wallet": body}, format="json")
    assert response.status_code == 422, response.content
    assert response.json()["error_details"] == {"payment_method": ["invalid_payment_method"]}
    assert not Wallet.objects.exists()
