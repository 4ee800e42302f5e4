"""Wallet expiry, recurring top-ups (interval and threshold, fixed and target), the sweep, webhooks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from billing_project.celery import BEAT_SCHEDULE
from billing_project.core.errors import ValidationFailure
from invoicing.credits import tasks as credit_tasks
from invoicing.credits.inputs import WalletTransactionCreate
from invoicing.credits.models import Wallet, WalletTransaction
from invoicing.credits.services import wallet_rules, wallets
from invoicing.models import Invoice
from tests.factories.credits import make_wallet
from tests.factories.invoicing import make_customer
from webhooks.models import WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db

T0 = datetime(2024, 1, 31, 9, tzinfo=UTC)


def _balance(wallet) -> Decimal:
    return Wallet.objects.get(id=wallet.id).credits_balance


def test_expired_wallets_are_terminated_and_credits_voided(organization):
    customer = make_customer(organization, currency="USD")
    wallet = make_wallet(customer, granted="10", expiration_at="2024-02-01T00:00:00Z", now=T0)
    assert wallets.wallets_terminate_expired(T0) == []
    assert wallets.wallets_terminate_expired(T0 + timedelta(days=1), dry_run=True) == [wallet.id]
    assert Wallet.objects.get(id=wallet.id).status == "active"
    wallets.wallets_terminate_expired(T0 + timedelta(days=1))
    wallet.refresh_from_db()
    assert (wallet.status, wallet.credits_balance, wallet.balance_cents) == ("terminated", 0, 0)
    assert WalletTransaction.objects.filter(wallet=wallet, transaction_status="voided").get().credit_amount == 10
    assert wallets.ledger_totals(wallet) == (0, 0)


def test_expiration_in_the_past_is_refused(organization):
    customer = make_customer(organization, currency="USD")
    with pytest.raises(ValidationFailure) as exc:
        make_wallet(customer, expiration_at="2020-01-01T00:00:00Z")
    assert exc.value.details == {"expiration_at": ["invalid_date"]}


def test_monthly_interval_rule_tops_up_once_per_due_time_with_month_end_clamping(organization):
    customer = make_customer(organization, currency="USD")
    wallet = make_wallet(
        customer,
        granted="1",
        recurring_transaction_rules=[
            {"trigger": "interval", "interval": "monthly", "granted_credits": "5", "started_at": T0.isoformat()}
        ],
    )
    rule = wallet.recurring_transaction_rules.get()
    assert wallet_rules.due_index(rule, T0 + timedelta(days=28)) == 0  # 28 Feb 09:00 < 29 Feb (leap year)
    assert wallet_rules.due_index(rule, datetime(2024, 2, 29, 9, tzinfo=UTC)) == 1
    assert wallet_rules.wallets_recurring_top_up(datetime(2024, 2, 20, tzinfo=UTC)) == []
    due = datetime(2024, 2, 29, 10, tzinfo=UTC)
    assert wallet_rules.wallets_recurring_top_up(due) == [str(rule.id)]
    assert wallet_rules.wallets_recurring_top_up(due + timedelta(hours=1)) == []  # once per due time
    assert _balance(wallet) == Decimal("6")
    assert wallet_rules.wallets_recurring_top_up(datetime(2024, 3, 31, 10, tzinfo=UTC)) == [str(rule.id)]
    assert _balance(wallet) == Decimal("11")
    assert WalletTransaction.objects.filter(wallet=wallet, source="interval").count() == 2


def test_threshold_rule_with_target_method_buys_what_is_missing(organization):
    customer = make_customer(organization, currency="USD")
    wallet = make_wallet(
        customer,
        granted="3",
        recurring_transaction_rules=[
            {"trigger": "threshold", "threshold_credits": "5", "method": "target", "target_ongoing_balance": "20"}
        ],
    )
    rule = wallet.recurring_transaction_rules.get()
    assert wallet_rules.wallets_recurring_top_up(T0) == [str(rule.id)]
    purchase = WalletTransaction.objects.get(wallet=wallet, source="threshold")
    assert (purchase.transaction_status, purchase.status, purchase.credit_amount) == ("purchased", "pending", 17)
    assert Invoice.objects.get(id=purchase.invoice_id).invoice_type == "credit"
    # Still under the threshold, but a top-up is pending: nothing more.
    assert wallet_rules.wallets_recurring_top_up(T0) == []
    wallets.wallet_transaction_settle(purchase.id)
    assert _balance(wallet) == Decimal("20")
    assert wallet_rules.wallets_recurring_top_up(T0) == []  # above the threshold


def test_invalid_rules_are_refused(organization):
    customer = make_customer(organization, currency="USD")
    with pytest.raises(ValidationFailure) as exc:
        make_wallet(customer, recurring_transaction_rules=[{"trigger": "threshold", "method": "target"}])
    assert set(exc.value.details) == {
        "recurring_transaction_rules.threshold_credits",
        "recurring_transaction_rules.target_ongoing_balance",
    }
    with pytest.raises(ValidationFailure):
        make_wallet(customer, recurring_transaction_rules=[{"trigger": "interval", "interval": "daily"}])


def test_sweep_task_command_and_beat_entry(organization):
    customer = make_customer(organization, currency="USD")
    make_wallet(customer, granted="1", expiration_at=(datetime.now(UTC) + timedelta(days=1)).isoformat())
    out = StringIO()
    call_command("wallets_sweep", "--dry-run", "--at", (datetime.now(UTC) + timedelta(days=2)).isoformat(), stdout=out)
    assert "1 expired wallet(s) would be terminated" in out.getvalue()
    assert Wallet.objects.get(customer=customer).status == "active"
    assert credit_tasks.wallets_sweep() == {"terminated": 0, "topped_up": 0, "refreshed": 1}
    assert BEAT_SCHEDULE["invoicing-wallets-sweep"]["task"] == "invoicing.wallets_sweep"


def test_webhooks_for_transactions_and_depleted_ongoing_balance(organization):
    WebhookEndpoint.objects.create(organization=organization, webhook_url="https://hooks.example.com/lago")
    customer = make_customer(organization, currency="USD")
    wallet = make_wallet(customer, granted="10", paid="5")
    [purchase] = WalletTransaction.objects.filter(wallet=wallet, transaction_status="purchased")
    wallets.wallet_transaction_settle(purchase.id)
    wallets.wallet_transaction_create(
        organization, WalletTransactionCreate.from_body({"wallet_id": str(wallet.id), "voided_credits": "15"})
    )
    types = list(WebhookDelivery.objects.filter(organization=organization).values_list("webhook_type", flat=True))
    assert types.count("wallet_transaction.created") == 3
    assert types.count("wallet_transaction.updated") == 1
    assert types.count("wallet.depleted_ongoing_balance") == 1


def test_ongoing_balance_counts_current_usage_and_drafts(organization):
    from tests.factories.invoicing import add_events, make_charge, make_metric, make_plan, subscribe

    customer = make_customer(organization, currency="USD")
    plan = make_plan(organization, amount_cents=1000)
    make_charge(plan, make_metric(organization, "calls"), properties={"amount": "2"})
    now = datetime.now(UTC)
    sub = subscribe(customer, plan, now - timedelta(days=1))
    add_events(sub, "calls", [now - timedelta(minutes=5)] * 3)
    wallet = make_wallet(customer, granted="10")
    assert wallet.ongoing_balance_cents == 1000
    refreshed = wallets.wallet_refresh_ongoing_balance(wallet.id, now=now)
    assert refreshed.ongoing_usage_balance_cents == 600
    assert (refreshed.ongoing_balance_cents, refreshed.credits_ongoing_balance) == (400, Decimal("4"))
    add_events(sub, "calls", [now - timedelta(minutes=1)] * 3)
    refreshed = wallets.wallet_refresh_ongoing_balance(wallet.id, now=now)
    assert refreshed.ongoing_balance_cents == -200
    assert refreshed.depleted_ongoing_balance is True
