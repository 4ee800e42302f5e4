"""Lago's Python client sees the opening, upgrade and closing invoices as soon as each call returns
(eager tasks, no beat: docs/invoicing.md §4, "Invoiced at once")."""

from __future__ import annotations

import pytest
from lago_python_client.models import Customer, Subscription

from tests.factories.invoicing import make_plan

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def _invoices(client, external_customer_id: str) -> list:
    return client.invoices.find_all({"external_customer_id": external_customer_id})["invoices"]


def _reasons(client, invoice) -> list[tuple[str, str]]:
    found = client.invoices.find(invoice.lago_id)
    plans = {s.lago_id: s.plan_code for s in found.subscriptions.__root__}
    return sorted((plans[p.lago_subscription_id], p.invoicing_reason) for p in found.billing_periods.__root__)


def test_start_upgrade_and_termination_are_invoiced_when_each_call_returns(lago):
    client = lago.client
    make_plan(lago.organization, code="lc-arrears", amount_cents=1000)
    make_plan(lago.organization, code="lc-advance", amount_cents=3000, pay_in_advance=True)
    client.customers.create(Customer(external_id="lc-now", currency="USD"))

    # An in-arrears start bills nothing yet.
    client.subscriptions.create(
        Subscription(external_customer_id="lc-now", plan_code="lc-arrears", external_id="lc-now-sub")
    )
    assert _invoices(client, "lc-now") == []

    # Upgrade to an in-advance plan: one invoice, the old plan's closing period and the new one's
    # opening period (Lago's `upgrading`).
    client.subscriptions.create(
        Subscription(external_customer_id="lc-now", plan_code="lc-advance", external_id="lc-now-sub")
    )
    [upgrade] = _invoices(client, "lc-now")
    assert upgrade.status == "finalized"
    assert _reasons(client, upgrade) == [
        ("lc-advance", "subscription_starting"),
        ("lc-arrears", "subscription_terminating"),
    ]
    assert upgrade.fees_amount_cents > 0

    # Termination: the closing invoice is there when DELETE returns.
    terminated = client.subscriptions.destroy("lc-now-sub")
    assert terminated.status == "terminated"
    invoices = _invoices(client, "lc-now")
    assert len(invoices) == 2
    closing = next(i for i in invoices if i.lago_id != upgrade.lago_id)
    assert _reasons(client, closing) == [("lc-advance", "subscription_terminating")]

    # A new in-advance subscription: its opening invoice at once.
    client.subscriptions.create(
        Subscription(external_customer_id="lc-now", plan_code="lc-advance", external_id="lc-now-2")
    )
    opening = [i for i in _invoices(client, "lc-now") if i.lago_id not in {upgrade.lago_id, closing.lago_id}]
    assert [_reasons(client, i) for i in opening] == [[("lc-advance", "subscription_starting")]]
