"""Lago's official Python client drives coupons, wallets, wallet transactions and credit notes end to end."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from lago_python_client.exceptions import LagoApiError
from lago_python_client.models import AppliedCoupon, Coupon, Customer, Wallet, WalletTransaction
from lago_python_client.models.credit_note import CreditNote, CreditNoteEstimate, CreditNoteUpdate, Item, Items
from lago_python_client.models.wallet import AppliesTo

from invoicing.billing.run import customer_bill
from invoicing.models import Invoice
from tests.factories.invoicing import make_plan, make_tax, subscribe, tax_plan

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def test_coupons_wallets_transactions_and_credit_notes_with_lago_client(lago):
    client = lago.client
    organization = lago.organization
    client.customers.create(Customer(external_id="lc-credits", currency="USD"))
    client.coupons.create(
        Coupon(
            name="Ten off",
            code="ten_off",
            coupon_type="fixed_amount",
            amount_cents=1000,
            amount_currency="USD",
            frequency="once",
            expiration="no_expiration",
        )
    )
    client.applied_coupons.create(AppliedCoupon(external_customer_id="lc-credits", coupon_code="ten_off"))

    wallet = client.wallets.create(
        Wallet(
            external_customer_id="lc-credits",
            name="Prepaid",
            code="prepaid",
            rate_amount="1",
            currency="USD",
            granted_credits="30",
            priority=10,
            applies_to=AppliesTo(fee_types=["subscription", "charge"]),
        )
    )
    assert (wallet.credits_balance, wallet.balance_cents, wallet.status) == ("30.0", 3000, "active")
    assert wallet.applies_to.fee_types == ["subscription", "charge"]
    listed = client.wallets.find_all({"external_customer_id": "lc-credits"})
    assert [w.lago_id for w in listed["wallets"]] == [wallet.lago_id]

    top_up = client.wallet_transactions.create(
        WalletTransaction(wallet_id=wallet.lago_id, granted_credits="5", voided_credits="5")
    )
    statuses = sorted(t.transaction_status for t in top_up["wallet_transactions"])
    assert statuses == ["granted", "voided"]
    ledger = client.wallet_transactions.find_all(wallet.lago_id)
    assert ledger["meta"]["total_count"] == 3

    updated = client.wallets.update(Wallet(name="Renamed", priority=1), wallet.lago_id)
    assert (updated.name, updated.priority) == ("Renamed", 1)

    # 70 − coupon 10 = 60, + 10 % = 66, − prepaid 30 = 36.
    plan = make_plan(organization, amount_cents=7000)
    tax_plan(plan, make_tax(organization, "10"))
    from customers.models import Customer as CustomerRow

    customer = CustomerRow.objects.get(organization=organization, external_id="lc-credits")
    subscribe(customer, plan, datetime(2024, 1, 1, tzinfo=UTC))
    [invoice] = customer_bill(customer.id, at=datetime(2024, 2, 1, 1, tzinfo=UTC))
    found = client.invoices.find(str(invoice.id))
    assert (found.coupons_amount_cents, found.taxes_amount_cents, found.prepaid_credit_amount_cents) == (
        1000,
        600,
        3000,
    )
    assert found.total_amount_cents == 3600
    assert [c.item.type for c in found.credits.__root__] == ["coupon"]
    assert client.wallets.find(wallet.lago_id).credits_balance == "0.0"

    fee_id = found.fees.__root__[0].lago_id
    estimate = client.credit_notes.estimate(
        CreditNoteEstimate(invoice_id=str(invoice.id), items=Items(__root__=[Item(fee_id=fee_id, amount_cents=3500)]))
    )
    assert estimate.coupons_adjustment_amount_cents == 500
    assert estimate.taxes_amount_cents == 300
    assert estimate.max_creditable_amount_cents == 3300
    assert estimate.max_offsettable_amount_cents == 3300
    assert estimate.max_refundable_amount_cents == 0

    note = client.credit_notes.create(
        CreditNote(
            invoice_id=str(invoice.id),
            reason="other",
            credit_amount_cents=3000,
            offset_amount_cents=300,
            items=Items(__root__=[Item(fee_id=fee_id, amount_cents=3500)]),
        )
    )
    assert note.number == f"{invoice.number}-CN001"
    assert (note.total_amount_cents, note.balance_amount_cents, note.credit_status) == (3300, 3000, "available")
    assert note.items.__root__[0].fee.lago_id == fee_id
    with pytest.raises(LagoApiError) as exc:
        client.credit_notes.create(
            CreditNote(
                invoice_id=str(invoice.id),
                credit_amount_cents=100,
                items=Items(__root__=[Item(fee_id=fee_id, amount_cents=3501)]),
            )
        )
    assert exc.value.status_code == 422
    assert client.credit_notes.find(note.lago_id).lago_invoice_id == str(invoice.id)
    assert client.credit_notes.find_all({"external_customer_id": "lc-credits"})["meta"]["total_count"] == 1
    assert client.credit_notes.update(CreditNoteUpdate(metadata={"ticket": "42"}), note.lago_id).metadata == {
        "ticket": "42"
    }
    downloaded = client.credit_notes.download(note.lago_id)
    assert downloaded is not None and downloaded.file_url
    voided = client.credit_notes.void(note.lago_id)
    assert (voided.credit_status, voided.balance_amount_cents) == ("voided", 0)

    terminated = client.wallets.destroy(wallet.lago_id)
    assert terminated.status == "terminated"
    with pytest.raises(LagoApiError) as exc:
        client.wallets.find("00000000-0000-0000-0000-000000000000")
    assert exc.value.status_code == 404
    assert Invoice.objects.filter(customer=customer).count() == 1
