"""Exactly once under concurrency (PostgreSQL): billing workers racing, a task run twice, numbering."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from django.db import connection, connections

from invoicing import tasks
from invoicing.billing.run import customer_bill
from invoicing.models import Fee, Invoice, InvoiceStatus, InvoiceSubscription
from invoicing.services import invoice_finalize
from tests.factories.invoicing import add_events, make_charge, make_customer, make_metric, make_plan, subscribe

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL"),
]


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def _race(functions):
    barrier = threading.Barrier(len(functions))
    results: list[object] = [None] * len(functions)

    def run(index, fn):
        try:
            barrier.wait()
            results[index] = fn()
        except Exception as exc:  # inspected by the test
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(functions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def _customer_with_usage(organization, **extra):
    customer = make_customer(organization, **extra)
    plan = make_plan(organization, amount_cents=1000)
    metric = make_metric(organization)
    make_charge(plan, metric, properties={"amount": "1"})
    sub = subscribe(customer, plan, at(2024, 1, 1))
    add_events(sub, metric.code, [at(2024, 1, 5)] * 3)
    return customer


def test_four_workers_bill_one_customer_once(organization):
    customer = _customer_with_usage(organization)
    results = _race([lambda: customer_bill(customer.id, at=at(2024, 2, 1, 1)) for _ in range(4)])
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sorted(len(r) for r in results) == [0, 0, 0, 1]
    assert Invoice.objects.count() == 1
    assert InvoiceSubscription.objects.count() == 1
    assert Fee.objects.count() == 2
    assert Invoice.objects.get().fees_amount_cents == 1300


def test_the_same_task_twice_at_once_and_again(organization):
    customer = _customer_with_usage(organization)
    iso = at(2024, 2, 1, 1).isoformat()
    results = _race([lambda: tasks.bill_customer(str(customer.id), iso) for _ in range(2)])
    assert not [r for r in results if isinstance(r, Exception)], [repr(r) for r in results]
    assert sorted(results) == [0, 1]
    assert tasks.bill_customer(str(customer.id), iso) == 0
    assert Invoice.objects.count() == 1


def test_two_sweeps_at_once(organization):
    customers = [_customer_with_usage(organization) for _ in range(3)]
    iso = at(2024, 2, 1, 1).isoformat()
    _race([lambda: tasks.billing_sweep(iso) for _ in range(2)])
    assert Invoice.objects.count() == 3
    assert {i.customer_id for i in Invoice.objects.all()} == {c.id for c in customers}


def test_numbering_is_gapless_under_concurrent_finalization(organization):
    from customers.inputs import OrganizationUpdate
    from customers.services import organization_update

    # Through the service: the default billing entity, whose numbering numbers, follows.
    organization_update(
        organization, OrganizationUpdate(document_numbering="per_organization", document_number_prefix="GAP")
    )
    drafts = []
    for _ in range(4):
        customer = make_customer(organization, invoice_grace_period=10)
        plan = make_plan(organization, amount_cents=1000)
        subscribe(customer, plan, at(2024, 1, 1))
        drafts += customer_bill(customer.id, at=at(2024, 4, 1, 1))  # three drafts each
    assert len(drafts) == 12 and all(d.status == InvoiceStatus.DRAFT for d in drafts)
    results = _race(
        [
            (lambda chunk=drafts[i::4]: [invoice_finalize(organization, invoice_id=d.id) for d in chunk])
            for i in range(4)
        ]
    )
    assert not [r for r in results if isinstance(r, Exception)], results
    finalized = list(Invoice.objects.filter(status=InvoiceStatus.FINALIZED))
    assert sorted(i.organization_sequential_id for i in finalized) == list(range(1, 13))
    assert sorted(i.billing_entity_sequential_id or 0 for i in finalized) == list(range(1, 13))
    assert len({i.number for i in finalized}) == 12 and all(i.number.startswith("GAP-202") for i in finalized)
    for customer_id in {i.customer_id for i in finalized}:
        ids = sorted(i.sequential_id for i in finalized if i.customer_id == customer_id)
        assert ids == [1, 2, 3]
