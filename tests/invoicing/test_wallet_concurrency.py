"""Two finalizations at once never consume the same coupon, credit note or wallet twice (PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection

from catalog.models import AppliedCoupon
from invoicing.billing.run import customer_bill
from invoicing.credits.models import CreditNote, Wallet
from invoicing.credits.services.wallets import ledger_totals
from invoicing.models import Invoice, InvoiceStatus
from invoicing.services import invoice_finalize
from tests.factories.catalog import AppliedCouponFactory, CouponFactory
from tests.factories.credits import make_credit_note, make_one_off_invoice, make_wallet
from tests.factories.invoicing import make_customer, make_plan, subscribe
from tests.invoicing.test_concurrency import _race

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL"),
]


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_two_finalizations_share_coupon_credit_note_and_wallet_once(organization):
    customer = make_customer(organization, currency="USD", invoice_grace_period=10)
    coupon = CouponFactory(organization=organization, amount_cents=500)
    AppliedCouponFactory(coupon=coupon, organization=organization, customer=customer)
    note = make_credit_note(make_one_off_invoice(customer, 300), credit=300)
    wallet = make_wallet(customer, granted="10")
    subscribe(customer, make_plan(organization, amount_cents=1000), at(2024, 1, 1))
    drafts = customer_bill(customer.id, at=at(2024, 3, 1, 1))
    assert len(drafts) == 2 and all(d.status == InvoiceStatus.DRAFT for d in drafts)

    results = _race([lambda d=d: invoice_finalize(organization, invoice_id=d.id) for d in drafts])
    assert not [r for r in results if isinstance(r, Exception)], results

    finalized = list(Invoice.objects.filter(id__in=[d.id for d in drafts]))
    assert all(i.status == InvoiceStatus.FINALIZED for i in finalized)
    assert sum(i.coupons_amount_cents for i in finalized) == 500
    assert sum(i.credit_notes_amount_cents for i in finalized) == 300
    assert sum(i.prepaid_credit_amount_cents for i in finalized) == 1000
    assert sum(i.total_amount_cents for i in finalized) == 2000 - 500 - 300 - 1000
    assert AppliedCoupon.objects.get(customer=customer).amount_cents_remaining == 0
    assert CreditNote.objects.get(id=note.id).balance_amount_cents == 0
    wallet = Wallet.objects.get(id=wallet.id)
    assert wallet.balance_cents == 0
    assert ledger_totals(wallet) == (0, 0)
