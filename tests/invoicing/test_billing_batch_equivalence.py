"""One billing path: a single customer is billed as a batch of one.

Before `invoicing.billing` there were two implementations (one customer, a batch) and this module
ran every worked example through both. Now `customer_bill` is `customers_bill([id])`, so every
test that bills one customer exercises the batch path; what is left to prove is that the entry
points (the sweep's batches, one customer, immediate billing, the preview) all reach it.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from invoicing.billing import run as billing_run
from invoicing.billing import runs
from invoicing.models import Invoice
from tests.factories.invoicing import add_events, make_charge, make_customer, make_metric, make_plan, subscribe

pytestmark = pytest.mark.django_db

AT = datetime(2024, 5, 1, 1, tzinfo=UTC)


def at(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, tzinfo=UTC)


def _spy(monkeypatch) -> list[tuple[list, dict]]:
    calls: list[tuple[list, dict]] = []
    real = billing_run.customers_bill

    def spy(customer_ids, **kwargs):
        calls.append((list(customer_ids), kwargs))
        return real(customer_ids, **kwargs)

    monkeypatch.setattr(billing_run, "customers_bill", spy)
    monkeypatch.setattr(runs, "customers_bill", spy)
    return calls


def _customer(organization, code="calls"):
    plan = make_plan(organization, amount_cents=1000)
    make_charge(plan, make_metric(organization, code), properties={"amount": "1"})
    customer = make_customer(organization)
    sub = subscribe(customer, plan, at(2024, 4, 1))
    add_events(sub, code, [at(2024, 4, 5)] * 2)
    return customer, sub


def test_one_customer_is_a_batch_of_one(organization, monkeypatch):
    customer, _ = _customer(organization)
    calls = _spy(monkeypatch)
    [invoice] = billing_run.customer_bill(customer.id, at=AT)
    assert calls == [([customer.id], {"at": AT, "now": None, "subscription_ids": None})]
    assert invoice.fees_amount_cents == 1200


def test_the_run_batch_and_the_run_customer_use_the_same_function(organization, monkeypatch):
    first, _ = _customer(organization)
    second, _ = _customer(organization, "seats")
    calls = _spy(monkeypatch)
    run, _ = runs.billing_run_start(AT, organization=organization, trigger="command")
    assert runs.billing_run_customer(run.id, first.id, at=AT)
    assert runs.billing_run_batch(run.id, [second.id], at=AT) == 1
    assert [ids for ids, _ in calls] == [[first.id], [second.id]]
    assert Invoice.objects.count() == 2


def test_immediate_billing_goes_through_the_batch(organization, monkeypatch):
    from invoicing.services.immediate import subscriptions_bill_now

    customer, sub = _customer(organization)
    calls = _spy(monkeypatch)
    subscriptions_bill_now([sub.id], reason="subscription_terminating", at=AT)
    assert calls == [([customer.id], {"at": AT, "now": AT, "subscription_ids": [sub.id]})]


def test_a_failure_of_the_one_customer_is_raised(organization, monkeypatch):
    from invoicing.billing import fees

    customer, _ = _customer(organization)

    def broken(*args, **kwargs):
        raise ValueError("graduated ranges overlap")

    monkeypatch.setattr(fees, "price_charge", broken)
    with pytest.raises(ValueError, match="graduated ranges overlap"):
        billing_run.customer_bill(customer.id, at=AT)
    assert Invoice.objects.count() == 0
