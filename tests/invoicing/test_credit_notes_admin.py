"""The credits admin: wallets with their ledger and actions, credit notes, the invoice action that
creates a credit note after showing its estimate."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.contrib.admin import helpers
from django.contrib.auth.models import User
from django.urls import reverse

from invoicing.billing.run import customer_bill
from invoicing.credits.models import CreditNote, Wallet
from tests.factories.credits import make_credit_note, make_one_off_invoice, make_wallet
from tests.factories.invoicing import make_customer, make_plan, make_tax, subscribe, tax_plan

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def admin_client(client):
    client.force_login(User.objects.create_superuser("root", "root@example.test", "pw"))
    return client


def test_changelists_and_change_pages_load(admin_client, organization):
    customer = make_customer(organization, currency="USD")
    wallet = make_wallet(customer, granted="12.5", paid="3", name="Prepaid")
    note = make_credit_note(make_one_off_invoice(customer, 2000), credit=2000)
    for name in ("invoicing_wallet", "invoicing_wallettransaction", "invoicing_creditnote"):
        page = admin_client.get(reverse(f"admin:{name}_changelist"))
        assert page.status_code == 200, name
        for query in ("?q=Prepaid", "?status__exact=active", "?credit_status__exact=available"):
            assert admin_client.get(reverse(f"admin:{name}_changelist") + query).status_code in (200, 302)
    wallets_page = admin_client.get(reverse("admin:invoicing_wallet_changelist")).content.decode()
    assert "12.50 USD" in wallets_page
    change = admin_client.get(reverse("admin:invoicing_wallet_change", args=[wallet.pk])).content.decode()
    assert "purchased" in change and "granted" in change
    note_page = admin_client.get(reverse("admin:invoicing_creditnote_change", args=[note.pk])).content.decode()
    assert note.number in note_page and "20.00 USD" in note_page
    tx = wallet.transactions.first()
    assert admin_client.get(reverse("admin:invoicing_wallettransaction_change", args=[tx.pk])).status_code == 200
    # Ledgers and credit notes are never added or edited by hand.
    for name in ("invoicing_wallet", "invoicing_wallettransaction", "invoicing_creditnote"):
        assert admin_client.get(reverse(f"admin:{name}_add")).status_code == 403


def test_wallet_actions_grant_void_terminate(admin_client, organization):
    customer = make_customer(organization, currency="USD")
    wallet = make_wallet(customer, granted="10")
    url = reverse("admin:invoicing_wallet_changelist")
    base = {"action": "grant", helpers.ACTION_CHECKBOX_NAME: [str(wallet.pk)]}
    page = admin_client.post(url, base)
    assert page.status_code == 200 and b"credits" in page.content  # the intermediate page
    admin_client.post(url, {**base, "confirm": "yes", "credits": "5"})
    assert Wallet.objects.get(pk=wallet.pk).credits_balance == 15
    admin_client.post(url, {**base, "action": "void_credits", "confirm": "yes", "credits": "20"})
    assert Wallet.objects.get(pk=wallet.pk).credits_balance == 15  # refused: more than the balance
    admin_client.post(url, {**base, "action": "void_credits", "confirm": "yes", "credits": "4"})
    assert Wallet.objects.get(pk=wallet.pk).credits_balance == 11
    admin_client.post(url, {**base, "action": "terminate"})
    wallet.refresh_from_db()
    assert (wallet.status, wallet.credits_balance) == ("terminated", 0)


def test_invoice_action_estimates_then_creates_a_credit_note(admin_client, organization):
    customer = make_customer(organization, currency="USD")
    plan = make_plan(organization, amount_cents=5000)
    tax_plan(plan, make_tax(organization, "20"))
    subscribe(customer, plan, datetime(2024, 1, 1, tzinfo=UTC))
    [invoice] = customer_bill(customer.id, at=datetime(2024, 2, 1, 1, tzinfo=UTC))
    fee = invoice.fees.get()
    url = reverse("admin:invoicing_invoice_changelist")
    base = {"action": "create_credit_note", helpers.ACTION_CHECKBOX_NAME: [str(invoice.pk)]}
    first = admin_client.post(url, base)
    assert first.status_code == 200 and b"Estimate" in first.content
    too_precise = admin_client.post(url, {**base, "step": "estimate", f"fee_{fee.id}": "10.005", "reason": "other"})
    assert too_precise.context["estimate"] is None  # typed in dollars: at most 2 decimals
    estimate = admin_client.post(url, {**base, "step": "estimate", f"fee_{fee.id}": "10", "reason": "other"})
    body = estimate.content.decode()
    assert "12.00 USD" in body  # 10.00 + 20 % tax
    assert not CreditNote.objects.exists()
    admin_client.post(
        url,
        {**base, "step": "confirm", f"fee_{fee.id}": "10.00", "credit_amount": "12", "reason": "other"},
    )
    note = CreditNote.objects.get()
    assert (note.total_amount_cents, note.credit_amount_cents, note.number) == (1200, 1200, f"{invoice.number}-CN001")


def test_credit_note_actions(admin_client, organization):
    customer = make_customer(organization, currency="USD")
    note = make_credit_note(make_one_off_invoice(customer, 2000), credit=2000)
    url = reverse("admin:invoicing_creditnote_changelist")
    admin_client.post(url, {"action": "void_notes", helpers.ACTION_CHECKBOX_NAME: [str(note.pk)]})
    note.refresh_from_db()
    assert (note.credit_status, note.balance_amount_cents) == ("voided", 0)
