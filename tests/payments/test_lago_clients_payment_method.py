"""Lago's official clients (Python and JavaScript) choose the payment method of a subscription, a
one-off invoice, a wallet, its recurring rule, a top-up and a retry against a live bxb, whose
collection charges the chosen card at the fake Stripe (docs/payments.md §12)."""

from __future__ import annotations

import os
import subprocess
import uuid

import pytest
from lago_python_client.exceptions import LagoApiError
from lago_python_client.models import (
    InvoiceFee,
    InvoiceFeesList,
    OneOffInvoice,
    PaymentMethod,
    Subscription,
    Wallet,
    WalletTransaction,
)
from lago_python_client.models.wallet import RecurringTransactionRule, RecurringTransactionRuleList

from catalog.models import AddOn
from invoicing.models import Invoice
from payments.models import PaymentMethod as SavedMethod
from tests.entitlements.test_lago_js_client import JS_DIR, _node
from tests.factories.invoicing import make_plan
from tests.factories.payments import provider_customer, stripe_connection

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def cards(lago, fake_stripe):
    """The customer `lc-pm` at Stripe: its default card is declined, `chosen` works."""
    organization = lago.organization
    connection = stripe_connection(organization)
    customer = provider_customer(
        organization, connection, provider_customer_id=fake_stripe.add_customer(), method="pm_card_chargeDeclined",
        external_id="lc-pm", currency="USD",
    )  # fmt: skip
    chosen = SavedMethod.objects.create(
        organization=organization, customer=customer, connection=connection, provider_method_id="pm_card_visa",
        method_type="card", is_default=False,
    )  # fmt: skip
    make_plan(organization, code="lc-basic", amount_cents=1000)
    AddOn.objects.create(
        organization=organization, code="lc-setup", name="Setup", amount_cents=500, amount_currency="USD"
    )
    return customer, chosen


def _charged(fake_stripe):
    return [r["params"].get("payment_method") for r in fake_stripe.posts("/v1/payment_intents")]


def test_python_client_chooses_the_payment_method(lago, cards, fake_stripe):
    client = lago.client
    _, chosen = cards
    card = PaymentMethod(payment_method_type="provider", payment_method_id=str(chosen.id))

    created = client.subscriptions.create(
        Subscription(external_customer_id="lc-pm", plan_code="lc-basic", external_id="lc-pm-sub", payment_method=card)
    )
    assert created.payment_method.payment_method_type == "provider"
    assert created.payment_method.payment_method_id == str(chosen.id)
    updated = client.subscriptions.update(
        Subscription(payment_method=PaymentMethod(payment_method_type="manual")), "lc-pm-sub"
    )
    assert (updated.payment_method.payment_method_type, updated.payment_method.payment_method_id) == ("manual", None)

    invoice = client.invoices.create(
        OneOffInvoice(
            external_customer_id="lc-pm",
            currency="USD",
            fees=InvoiceFeesList(__root__=[InvoiceFee(add_on_code="lc-setup", units=1)]),
            payment_method=card,
        )
    )
    assert _charged(fake_stripe) == ["pm_card_visa"]
    assert client.invoices.find(invoice.lago_id).payment_status == "succeeded"

    rule = RecurringTransactionRule(trigger="interval", interval="monthly", paid_credits="5", payment_method=card)
    wallet = client.wallets.create(
        Wallet(
            external_customer_id="lc-pm", rate_amount="1", currency="USD", code="lc-w",
            payment_method=PaymentMethod(payment_method_type="manual"),
            recurring_transaction_rules=RecurringTransactionRuleList(__root__=[rule]),
        )
    )  # fmt: skip
    assert wallet.payment_method.payment_method_type == "manual"
    [shown_rule] = wallet.recurring_transaction_rules.__root__
    assert shown_rule.payment_method.payment_method_id == str(chosen.id)
    wallet = client.wallets.update(Wallet(payment_method=card), wallet.lago_id)
    assert wallet.payment_method.payment_method_id == str(chosen.id)

    top_up = client.wallet_transactions.create(
        WalletTransaction(
            wallet_id=wallet.lago_id, paid_credits="7", payment_method=PaymentMethod(payment_method_type="manual")
        )
    )
    [purchase] = top_up["wallet_transactions"]
    assert purchase.payment_method.payment_method_type == "manual"
    assert Invoice.objects.get(id=purchase.lago_invoice_id).payment_status == "pending"
    assert _charged(fake_stripe) == ["pm_card_visa"]  # the manual top-up was not charged

    # Retried with the card this time: charged and paid.
    client.invoices.retry_payment(purchase.lago_invoice_id, card)
    assert _charged(fake_stripe) == ["pm_card_visa", "pm_card_visa"]
    assert Invoice.objects.get(id=purchase.lago_invoice_id).payment_status == "succeeded"

    with pytest.raises(LagoApiError) as refused:
        client.subscriptions.update(
            Subscription(
                payment_method=PaymentMethod(payment_method_type="provider", payment_method_id=str(uuid.uuid4()))
            ),
            "lc-pm-sub",
        )
    assert refused.value.status_code == 422
    assert refused.value.response["error_details"] == {"payment_method": ["invalid_payment_method"]}


def test_js_client_chooses_the_payment_method(lago, cards, fake_stripe):
    node = _node()
    _, chosen = cards
    env = {
        **os.environ,
        "LAGO_API_URL": f"{lago.base_url}/api/v1",
        "LAGO_API_KEY": lago.raw_key,
        "CUSTOMER_ID": "lc-pm",
        "PAYMENT_METHOD_ID": str(chosen.id),
    }
    result = subprocess.run(
        [node, str(JS_DIR / "payment_method_choice.mjs")],
        cwd=JS_DIR, env=env, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "passed, 0 failed" in result.stdout, result.stdout
    assert _charged(fake_stripe) == ["pm_card_visa", "pm_card_visa"]  # the one-off invoice, the retry
