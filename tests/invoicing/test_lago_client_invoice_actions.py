"""Lago's Python client deletes a draft and a fee, retries, loses a dispute and downloads (download_pdf is the
same route's alias) against a live server."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from lago_python_client.exceptions import LagoApiError

from invoicing.billing.run import customer_bill
from invoicing.models import InvoiceStatus
from invoicing.services.advance import pay_in_advance_fees
from tests.factories.invoicing import add_events, make_charge, make_customer, make_metric, make_plan, subscribe
from tests.factories.payments import finalized_invoice

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def test_invoice_actions_with_lago_client(lago):
    client, organization = lago.client, lago.organization
    customer = make_customer(organization, external_id="c1", invoice_grace_period=3)
    plan = make_plan(organization, amount_cents=1000)
    make_charge(plan, make_metric(organization, "calls"), properties={"amount": "1"})
    subscribe(customer, plan, datetime(2024, 1, 1, tzinfo=UTC))
    [draft] = customer_bill(customer.id, at=datetime(2024, 2, 1, 1, tzinfo=UTC))

    with pytest.raises(LagoApiError) as refused:
        client.invoices.retry(str(draft.id))
    assert refused.value.status_code == 405
    deleted = client.invoices.destroy(str(draft.id))
    assert deleted.status == "deleted"
    with pytest.raises(LagoApiError) as gone:
        client.invoices.find(str(draft.id))
    assert gone.value.status_code == 404

    invoice = finalized_invoice(customer, 500, with_fee=True)
    lost = client.invoices.lose_dispute(str(invoice.id))
    assert lost.payment_dispute_lost_at is not None
    with pytest.raises(LagoApiError) as not_voidable:
        client.invoices.void(str(invoice.id))
    assert not_voidable.value.status_code == 405
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.FINALIZED

    # A pay-in-advance fee without invoice is deleted; an invoiced one is refused.
    advance = make_charge(plan, make_metric(organization, "seats"), properties={"amount": "10"},
                          pay_in_advance=True, invoiceable=False)  # fmt: skip
    sub = customer.subscriptions.get()
    add_events(sub, "seats", [datetime(2024, 2, 2, tzinfo=UTC)])
    [fee] = pay_in_advance_fees(organization, external_subscription_ids=[sub.external_id],
                                now=datetime(2024, 2, 3, tzinfo=UTC))  # fmt: skip
    assert fee.charge_id == advance.id
    assert client.fees.destroy(str(fee.id)).lago_id == str(fee.id)
    with pytest.raises(LagoApiError) as invoiced:
        client.fees.destroy(str(invoice.fees.get().id))
    assert invoiced.value.status_code == 405
