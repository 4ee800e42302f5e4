"""Batches under concurrency (PostgreSQL): overlapping batches, a batch racing a single customer's
billing, the same batch task twice at once — exactly one invoice per period, gapless numbers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection

from invoicing import tasks
from invoicing.billing import run as billing_batch
from invoicing.billing.run import customer_bill
from invoicing.models import Invoice, InvoiceSubscription
from tests.factories.invoicing import add_events, make_charge, make_customer, make_metric, make_plan, subscribe
from tests.invoicing.test_concurrency import _race

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL"),
]

AT = datetime(2024, 2, 1, 1, tzinfo=UTC)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def _customers(organization, n):
    plan = make_plan(organization, amount_cents=1000)
    metric = make_metric(organization)
    make_charge(plan, metric, properties={"amount": "1"})
    customers = []
    for _ in range(n):
        customer = make_customer(organization)
        sub = subscribe(customer, plan, datetime(2024, 1, 1, tzinfo=UTC))
        add_events(sub, metric.code, [datetime(2024, 1, 5, tzinfo=UTC)] * 3)
        customers.append(customer)
    return customers


def _exactly_once(customers) -> None:
    assert Invoice.objects.count() == len(customers)
    assert InvoiceSubscription.objects.count() == len(customers)
    assert {i.customer_id for i in Invoice.objects.all()} == {c.id for c in customers}
    assert {i.fees_amount_cents for i in Invoice.objects.all()} == {1300}
    org_ids = sorted(Invoice.objects.values_list("organization_sequential_id", flat=True))
    assert org_ids == list(range(1, len(customers) + 1))  # gapless across the racing transactions
    assert set(Invoice.objects.values_list("sequential_id", flat=True)) == {1}


def test_overlapping_batches_bill_each_customer_once(organization):
    customers = _customers(organization, 12)
    ids = [c.id for c in customers]
    results = _race(
        [
            lambda: billing_batch.customers_bill(ids[:8], at=AT),
            lambda: billing_batch.customers_bill(ids[4:], at=AT),
            lambda: billing_batch.customers_bill(list(reversed(ids)), at=AT),
        ]
    )
    assert not [r for r in results if isinstance(r, Exception)], results
    assert not any(r.failures for r in results)
    assert sum(r.invoices_created for r in results) == 12
    _exactly_once(customers)


def test_a_batch_racing_single_customer_billing(organization):
    customers = _customers(organization, 6)
    ids = [c.id for c in customers]
    results = _race(
        [lambda: billing_batch.customers_bill(ids, at=AT)]
        + [(lambda cid=cid: customer_bill(cid, at=AT)) for cid in ids[::2]]
    )
    assert not [r for r in results if isinstance(r, Exception)], results
    _exactly_once(customers)


def test_the_same_batch_task_twice_at_once_and_again(organization):
    customers = _customers(organization, 5)
    ids = [str(c.id) for c in customers]
    iso = AT.isoformat()
    results = _race([lambda: tasks.bill_customers(ids, iso) for _ in range(2)])
    assert not [r for r in results if isinstance(r, Exception)], [repr(r) for r in results]
    assert sorted(results) == [0, 5]
    assert tasks.bill_customers(ids, iso) == 0
    _exactly_once(customers)
