"""The billing run's per-invoice cost: what a batch reads once (the catalog snapshot), not once per
invoice, and that doing so changes no amount (organization default taxes, customer taxes,
progressive credits)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.models import CustomerTax
from invoicing.billing import runs
from invoicing.models import BillingRun, Invoice
from tests.factories.invoicing import (
    add_events,
    make_charge,
    make_customer,
    make_metric,
    make_plan,
    make_tax,
    subscribe,
)

pytestmark = pytest.mark.django_db

AT = datetime(2024, 5, 1, 1, tzinfo=UTC)


def _tables(queries: list[dict]) -> str:
    return "\n".join(q["sql"] for q in queries)


def test_a_batch_reads_the_catalog_once_and_one_run_update(organization, settings):
    # The PostgreSQL path is counted; with ClickHouse configured the aggregation also checks its sync state.
    settings.CLICKHOUSE_URL = ""
    org_tax = make_tax(organization, "10", applied_to_organization=True)
    plan = make_plan(organization, amount_cents=1000)
    make_charge(plan, make_metric(organization, "calls"), properties={"amount": "0.5"})
    ranges = [
        {"from_value": 0, "to_value": 10, "per_unit_amount": "1", "flat_amount": "0"},
        {"from_value": 10, "to_value": None, "per_unit_amount": "0.5", "flat_amount": "2"},
    ]
    make_charge(plan, make_metric(organization, "gb", "sum_agg", field_name="gb"), model="graduated",
                properties={"graduated_ranges": ranges})  # fmt: skip
    customers = []
    for _ in range(3):
        customer = make_customer(organization)
        sub = subscribe(customer, plan, datetime(2024, 4, 1, tzinfo=UTC))
        add_events(sub, "calls", [datetime(2024, 4, 2, tzinfo=UTC)] * 4)
        add_events(sub, "gb", [datetime(2024, 4, 2, tzinfo=UTC)], gb="12")
        customers.append(customer)
    own_tax = make_tax(organization, "20")
    CustomerTax.objects.create(customer=customers[2], tax=own_tax)
    run, due = runs.billing_run_start(AT, organization=organization, trigger="command")
    assert set(due) == {c.id for c in customers}

    [first] = runs.billing_run_customer(run.id, customers[0].id, at=AT)
    with CaptureQueriesContext(connection) as captured:
        assert runs.billing_run_batch(run.id, [customers[1].id, customers[2].id], at=AT) == 2
    sql = [q["sql"] for q in captured.captured_queries]
    # Charges, filters, metric filter keys, plan and organization taxes, commitments: once per batch.
    for table in (
        "catalog_charge",
        "catalog_chargefilter",
        "catalog_billablemetricfilter",
        "catalog_plantax",
        "catalog_commitment",
    ):
        assert sum(f'FROM "{table}"' in q for q in sql) == 1, table
    tax_reads = [q for q in sql if 'FROM "catalog_tax"' in q or 'FROM "catalog_chargetax"' in q]
    assert len(tax_reads) == 2  # the charges' taxes and the organization's defaults, for the batch
    assert sum('FROM "catalog_customertax"' in q for q in sql) == 1  # the customers' own taxes
    # No progressive-billing period: no progressive credit lookup; the run counter is one UPDATE.
    assert not any('FROM "invoicing_invoicesubscription" INNER JOIN "invoicing_invoice"' in q for q in sql)
    assert sum('"invoicing_billingrun"' in q for q in sql) == 1
    second, third = (
        Invoice.objects.get(customer=customers[1]),
        Invoice.objects.get(customer=customers[2]),
    )

    # Same amounts as computed by hand: 10.00 + 4 × 0.50 + (10 × 1 + 2 × 0.5 + 2 flat) = 25.00.
    for invoice in (first, second, third):
        assert invoice.fees_amount_cents == 1000 + 200 + 1300
    assert first.taxes_amount_cents == second.taxes_amount_cents == 250  # organization default 10 %
    assert third.taxes_amount_cents == 500  # the customer's own 20 % replaces it
    assert {t.tax_id for t in first.applied_taxes.all()} == {org_tax.id}
    assert {t.tax_id for t in third.applied_taxes.all()} == {own_tax.id}
    assert BillingRun.objects.get(id=run.id).invoices_created == 3


def test_run_failure_is_still_recorded_with_its_customer(organization, monkeypatch):
    plan = make_plan(organization, amount_cents=1000)
    customer = make_customer(organization)
    subscribe(customer, plan, datetime(2024, 4, 1, tzinfo=UTC))
    run, _ = runs.billing_run_start(AT, organization=organization, trigger="command")

    def boom(*args, **kwargs):
        raise RuntimeError("pricing exploded")

    monkeypatch.setattr(runs, "customer_bill", boom)
    with pytest.raises(RuntimeError):
        runs.billing_run_customer(run.id, customer.id, at=AT)
    run.refresh_from_db()
    assert run.status == "running"  # the run closes when its batches have reported (or by hand)
    assert run.customers_failed == 1
    run = runs.billing_run_finish(run.id)
    assert run.status == "incomplete"  # its one batch never reported (the customer was billed alone)
    assert run.oldest_due_at == datetime(2024, 5, 1, tzinfo=UTC)  # still due: its period ended then
    assert run.failures[0]["external_id"] == customer.external_id
    assert "pricing exploded" in run.failures[0]["error"]
