"""The wallet balance always equals its ledger (settled inbound − settled outbound), whatever the
sequence of grants, purchases (settled or failed), voids, consumptions and restorations; and the
pairing of outbound lines with the inbound lines that funded them accounts for every cent."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing_project.core.errors import ValidationFailure
from invoicing.calculation import PrepaidCredit
from invoicing.credits.inputs import WalletTransactionCreate
from invoicing.credits.models import Wallet, WalletTransaction, WalletTransactionConsumption
from invoicing.credits.services import wallets as svc
from invoicing.models import Invoice
from tests.factories.credits import make_wallet
from tests.factories.invoicing import make_customer

pytestmark = pytest.mark.django_db

OPS = st.lists(
    st.tuples(
        st.sampled_from(["grant", "buy_settle", "buy_fail", "buy_pending", "void", "consume", "restore"]),
        st.decimals(min_value=Decimal("0.01"), max_value=Decimal("500"), places=2),
    ),
    min_size=1,
    max_size=12,
)


def _invoice(customer) -> Invoice:
    today = dt.date(2024, 1, 1)
    return Invoice.objects.create(
        organization=customer.organization,
        customer=customer,
        currency="USD",
        issuing_date=today,
        payment_due_date=today,
        status="finalized",
    )


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS, rate=st.sampled_from([Decimal("1"), Decimal("0.5"), Decimal("0.3"), Decimal("2.75")]))
def test_balance_equals_ledger_after_random_operations(organization, ops, rate):
    customer = make_customer(organization, currency="USD")
    wallet = make_wallet(customer, rate_amount=str(rate))
    consumed: list[Invoice] = []
    for op, amount in ops:
        wallet.refresh_from_db()
        data = {"wallet_id": str(wallet.id)}
        if op == "grant":
            svc.wallet_transaction_create(
                organization, WalletTransactionCreate.from_body({**data, "granted_credits": str(amount)})
            )
        elif op.startswith("buy"):
            [tx] = svc.wallet_transaction_create(
                organization, WalletTransactionCreate.from_body({**data, "paid_credits": str(amount)})
            )
            if op == "buy_settle":
                svc.wallet_transaction_settle(tx.id)
                svc.wallet_transaction_settle(tx.id)  # twice: once in the balance
            elif op == "buy_fail":
                svc.wallet_transaction_fail(tx.id)
                svc.wallet_transaction_settle(tx.id)  # a failed purchase never settles
        elif op == "void":
            try:
                svc.wallet_transaction_create(
                    organization, WalletTransactionCreate.from_body({**data, "voided_credits": str(amount)})
                )
            except ValidationFailure:
                assert amount > wallet.credits_balance
        elif op == "consume":
            cents = min(int(amount * 100), wallet.balance_cents)
            if cents > 0:
                invoice = _invoice(customer)
                locked = Wallet.objects.get(id=wallet.id)
                svc.wallets_consume(
                    invoice,
                    [PrepaidCredit(str(wallet.id), "", cents, 0)],
                    {str(wallet.id): locked},
                    now=invoice.created_at,
                )
                consumed.append(invoice)
        elif op == "restore" and consumed:
            invoice = consumed.pop(0)
            svc.wallets_restore_for_voided_invoice(invoice, now=invoice.created_at)
            svc.wallets_restore_for_voided_invoice(invoice, now=invoice.created_at)  # twice: once
        wallet.refresh_from_db()
        assert (wallet.balance_cents, wallet.credits_balance) == svc.ledger_totals(wallet)
        assert wallet.balance_cents >= 0 and wallet.credits_balance >= 0
        _assert_traced(wallet)
    pending = WalletTransaction.objects.filter(wallet=wallet, status="pending")
    assert all(tx.transaction_status == "purchased" for tx in pending)
    svc.wallet_terminate(organization, wallet_id=wallet.id)
    wallet.refresh_from_db()
    assert (wallet.balance_cents, wallet.credits_balance) == (0, Decimal(0)) == svc.ledger_totals(wallet)
    _assert_traced(wallet)


def _assert_traced(wallet: Wallet) -> None:
    """What the settled inbound lines still hold is the balance; each settled outbound line is
    funded to the cent; each inbound line gave exactly what it no longer holds."""
    lines = list(WalletTransaction.objects.filter(wallet=wallet))
    funded = {tx.id: 0 for tx in lines}
    for row in WalletTransactionConsumption.objects.filter(inbound__wallet=wallet):
        funded[row.outbound_id] += row.amount_cents
        funded[row.inbound_id] += row.amount_cents
    held = 0
    for tx in lines:
        settled = tx.status == "settled"
        if tx.transaction_type == "inbound":
            assert tx.remaining_amount_cents == (tx.amount_cents - funded[tx.id] if settled else None)
            held += tx.remaining_amount_cents or 0
        else:
            assert tx.remaining_amount_cents is None
            assert funded[tx.id] == (tx.amount_cents if settled else 0)
    assert held == wallet.balance_cents
