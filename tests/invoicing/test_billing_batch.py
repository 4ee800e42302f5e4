"""The set-based billing run: bulk usage equals `aggregate()`, a batch equals customer-by-customer,
and a batch keeps every guarantee (exactly once, failures isolated, gapless numbers, webhooks, audit)."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.models import AuditLogEntry
from catalog.models import AppliedCoupon, Coupon, CustomerTax
from invoicing import tasks
from invoicing.billing import fees, runs, sweep, writer
from invoicing.billing import run as billing_batch
from invoicing.billing.run import customer_bill
from invoicing.models import BillingRun, Fee, Invoice, InvoiceStatus, InvoiceSubscription
from metering.aggregation import aggregate, metric_spec
from metering.bulk import UsageRequest, aggregate_many, handled_in_bulk
from tests.factories.invoicing import (
    add_events,
    make_charge,
    make_customer,
    make_metric,
    make_plan,
    make_tax,
    subscribe,
)
from webhooks.models import WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db

AT = datetime(2024, 5, 1, 1, tzinfo=UTC)


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- metering.bulk.aggregate_many == aggregate ---------------------------------------------------------


def _same(bulk, single) -> None:
    assert bulk.units == single.units
    assert bulk.events_count == single.events_count
    assert bulk.event_values == single.event_values
    assert bulk.precise_total_amount_cents == single.precise_total_amount_cents
    assert bulk.groups == single.groups
    assert bulk.filters == single.filters


def test_bulk_usage_is_exactly_aggregate_on_varied_data(organization, settings):
    settings.CLICKHOUSE_URL = ""
    rng = random.Random(7)
    metrics = [
        make_metric(organization, "calls"),
        make_metric(organization, "gb", "sum_agg", field_name="gb"),
        make_metric(organization, "peak", "max_agg", field_name="gb"),
        make_metric(
            organization, "rounded", "sum_agg", field_name="gb", rounding_function="ceil", rounding_precision=1
        ),
        make_metric(organization, "users", "unique_count_agg", field_name="user"),
        make_metric(organization, "seats", "sum_agg", field_name="gb", recurring=True),
        make_metric(organization, "region_calls", "count_agg"),
    ]
    from catalog.models import BillableMetricFilter

    BillableMetricFilter.objects.create(billable_metric=metrics[-1], key="region", values=["eu", "us"])
    customer = make_customer(organization)
    plan = make_plan(organization)
    subs = [subscribe(customer, plan, at(2024, 4, 1) + timedelta(hours=7 * i, minutes=13 * i)) for i in range(6)]
    for sub in subs:
        for metric in metrics:
            stamps = [
                at(2024, 3, 25) + timedelta(minutes=rng.randrange(0, 60 * 24 * 40)) for _ in range(rng.randrange(0, 6))
            ]
            for stamp in stamps:
                add_events(
                    sub, metric.code, [stamp], gb=str(Decimal(rng.randrange(1, 4000)) / 100),
                    user=f"u{rng.randrange(3)}", region=rng.choice(["eu", "us", "ap"]),
                )  # fmt: skip
    windows = [
        (at(2024, 4, 1), at(2024, 5, 1)),  # whole hours
        (at(2024, 4, 3, 10, 30), at(2024, 4, 20, 17, 45)),  # partial hours at both edges
        (at(2024, 4, 10, 10, 5), at(2024, 4, 10, 10, 50)),  # inside one hour
        (at(2024, 4, 12), at(2024, 4, 12)),  # empty
    ]
    requests = []
    for sub in subs:
        for metric in metrics:
            for start, end in windows:
                requests.append(
                    UsageRequest(sub.external_id, metric, start, end, subscription_started_at=sub.started_at)
                )
        requests.append(
            UsageRequest(
                sub.external_id, metrics[-1], *windows[0], subscription_started_at=sub.started_at,
                filters=((None, {"region": ["eu"]}),),
            )
        )  # fmt: skip
        requests.append(
            UsageRequest(sub.external_id, metrics[0], *windows[1], grouped_by=("region",), with_event_values=False)
        )
        requests.append(UsageRequest(sub.external_id, metrics[1], *windows[0], with_event_values=True))
    assert sum(handled_in_bulk(r) for r in requests) > len(requests) / 2  # most of them in bulk
    assert not handled_in_bulk(UsageRequest("x", metrics[4], *windows[0]))  # unique count
    assert not handled_in_bulk(UsageRequest("x", metrics[5], *windows[0]))  # recurring

    bulk = aggregate_many(organization, requests)
    assert len(bulk) == len(requests)
    nonzero = 0
    for request, answer in zip(requests, bulk, strict=True):
        single = aggregate(
            organization,
            external_subscription_id=request.external_subscription_id,
            metric=request.metric,
            from_datetime=request.from_datetime,
            to_datetime=request.to_datetime,
            filters=list(request.filters),
            grouped_by=request.grouped_by,
            subscription_started_at=request.subscription_started_at,
            with_event_values=request.with_event_values,
            store="postgres",
        )
        _same(answer, single)
        nonzero += answer.events_count > 0
    assert nonzero > 50  # the data is not trivially empty


def test_bulk_usage_reads_a_window_in_a_few_queries(organization, settings):
    settings.CLICKHOUSE_URL = ""
    calls, gb = make_metric(organization, "calls"), make_metric(organization, "gb", "sum_agg", field_name="gb")
    plan = make_plan(organization)
    subs = [subscribe(make_customer(organization), plan, at(2024, 4, 1)) for _ in range(20)]
    for sub in subs:
        add_events(sub, "calls", [at(2024, 4, 2)])
    specs = [metric_spec(calls), metric_spec(gb)]
    requests = [UsageRequest(s.external_id, m, at(2024, 4, 1), at(2024, 5, 1)) for s in subs for m in specs]
    with CaptureQueriesContext(connection) as captured:
        answers = aggregate_many(organization, requests)
    assert len(captured.captured_queries) == 1  # whole hours: one rollup query for 40 (subscription, metric)
    assert [a.units for a in answers[::2]] == [Decimal(1)] * 20


# --- a batch == customer by customer -------------------------------------------------------------------


def _catalog(organization):
    plan = make_plan(organization, amount_cents=1999)
    make_charge(plan, make_metric(organization, "calls"), properties={"amount": "0.33"})
    ranges = [
        {"from_value": 0, "to_value": 10, "per_unit_amount": "1.15", "flat_amount": "0"},
        {"from_value": 10, "to_value": None, "per_unit_amount": "0.5", "flat_amount": "2"},
    ]
    make_charge(plan, make_metric(organization, "gb", "sum_agg", field_name="gb"), model="graduated",
                properties={"graduated_ranges": ranges})  # fmt: skip
    advance = make_plan(organization, amount_cents=5000, pay_in_advance=True)
    make_charge(advance, make_metric(organization, "peak", "max_agg", field_name="gb"), properties={"amount": "2"})
    return plan, advance


def _customers(organization, plan, advance, n=12):
    rng = random.Random(11)
    own_tax = make_tax(organization, "7.5")
    customers = []
    for i in range(n):
        extra = {"timezone": "America/Los_Angeles"} if i % 4 == 1 else {}
        if i % 6 == 2:
            extra["invoice_grace_period"] = 3  # drafts
        customer = make_customer(organization, **extra)
        sub = subscribe(customer, plan, at(2024, 3, 1) + timedelta(days=i % 5, hours=i))
        add_events(sub, "calls", [at(2024, 4, 2, h) for h in range(rng.randrange(0, 5))])
        add_events(sub, "gb", [at(2024, 4, 3, 12, 30)], gb=str(rng.randrange(1, 30)))
        if i % 3 == 0:
            second = subscribe(customer, advance, at(2024, 4, 10))  # starting + periodic in advance
            add_events(second, "peak", [at(2024, 4, 11)], gb="3.5")
        if i % 5 == 0:
            CustomerTax.objects.create(customer=customer, tax=own_tax)
        customers.append(customer)
    return customers


def _snapshot(invoices) -> list[tuple]:
    result = []
    for invoice in invoices:
        fees = sorted(
            (
                f.fee_type,
                f.amount_cents,
                str(f.precise_amount_cents),
                f.taxes_amount_cents,
                str(f.units),
                f.events_count,
            )
            for f in invoice.fees.all()
        )
        taxes = sorted((t.tax_code, t.amount_cents, t.fees_amount_cents) for t in invoice.applied_taxes.all())
        periods = sorted(
            (p.invoicing_reason, p.from_datetime, p.to_datetime, p.charges_from_datetime, p.charges_to_datetime)
            for p in invoice.invoice_subscriptions.all()
        )
        result.append(
            (
                invoice.customer.external_id,
                invoice.issuing_date,
                invoice.status,
                invoice.payment_status,
                invoice.fees_amount_cents,
                invoice.taxes_amount_cents,
                invoice.total_amount_cents,
                str(invoice.taxes_rate),
                invoice.sequential_id,
                invoice.finalize_at,
                invoice.number.endswith("-DRAFT"),
                fees,
                taxes,
                periods,
            )
        )
    return sorted(result, key=lambda r: (r[0], r[1]))


def test_a_batch_bills_exactly_as_customer_by_customer(organization, settings):
    settings.CLICKHOUSE_URL = ""
    make_tax(organization, "20", applied_to_organization=True)
    plan, advance = _catalog(organization)
    customers = _customers(organization, plan, advance)
    from django.db import transaction

    # Reference: customer by customer, then rolled back.
    with transaction.atomic():
        reference = [inv for c in customers for inv in customer_bill(c.id, at=AT)]
        expected = _snapshot(Invoice.objects.filter(id__in=[i.id for i in reference]))
        transaction.set_rollback(True)
    assert Invoice.objects.count() == 0
    outcome = billing_batch.customers_bill([c.id for c in customers], at=AT)
    assert not outcome.failures
    got = _snapshot(Invoice.objects.all())
    assert len(got) == len(expected) >= len(customers)
    for mine, theirs in zip(got, expected, strict=True):
        assert mine == theirs
    assert any(row[2] == InvoiceStatus.DRAFT for row in got)  # grace periods: drafts, in bulk too
    # Gapless numbers: per customer 1..k in day order; per organization 1..N.
    org_ids = sorted(
        Invoice.objects.exclude(status=InvoiceStatus.DRAFT).values_list("organization_sequential_id", flat=True)
    )
    assert org_ids == list(range(1, len(org_ids) + 1))
    for customer in customers:
        seq = list(
            Invoice.objects.filter(customer=customer)
            .exclude(status=InvoiceStatus.DRAFT)
            .order_by("issuing_date")
            .values_list("sequential_id", flat=True)
        )
        assert seq == list(range(1, len(seq) + 1))
    assert Invoice.objects.filter(status=InvoiceStatus.FINALIZED).exclude(number__endswith="-001").exists()


def test_a_batch_with_coupons_uses_the_per_customer_path_and_drafts_grace_periods(organization, settings):
    settings.CLICKHOUSE_URL = ""
    plan, advance = _catalog(organization)
    plain, with_coupon, with_grace = _customers(organization, plan, advance, n=3)
    with_grace.invoice_grace_period = 3
    with_grace.save()
    coupon = Coupon.objects.create(
        organization=organization, name="c", code="c10", coupon_type="fixed_amount", amount_cents=500,
        amount_currency="USD", frequency="once",
    )  # fmt: skip
    AppliedCoupon.objects.create(
        organization=organization, coupon=coupon, customer=with_coupon, amount_cents=500, amount_currency="USD",
        amount_cents_remaining=500, frequency="once",
    )  # fmt: skip
    outcome = billing_batch.customers_bill([plain.id, with_coupon.id, with_grace.id], at=AT)
    assert not outcome.failures
    [coupon_invoice] = Invoice.objects.filter(customer=with_coupon)
    assert coupon_invoice.coupons_amount_cents == 500
    assert {i.status for i in Invoice.objects.filter(customer=with_grace)} == {InvoiceStatus.DRAFT}
    assert all(i.number.endswith("-DRAFT") for i in Invoice.objects.filter(customer=with_grace))
    assert {i.status for i in Invoice.objects.filter(customer=plain)} == {InvoiceStatus.FINALIZED}


# --- guarantees ----------------------------------------------------------------------------------------


def _simple_customers(organization, n, code="calls"):
    plan = make_plan(organization, amount_cents=1000)
    make_charge(plan, make_metric(organization, code), properties={"amount": "1"})
    customers = []
    for _ in range(n):
        customer = make_customer(organization)
        sub = subscribe(customer, plan, at(2024, 4, 1))
        add_events(sub, code, [at(2024, 4, 5)] * 2)
        customers.append(customer)
    return customers


def test_a_customer_already_billed_is_skipped_and_the_rest_billed(organization):
    customers = _simple_customers(organization, 4)
    [first] = customer_bill(customers[1].id, at=AT)
    outcome = billing_batch.customers_bill([c.id for c in customers], at=AT)
    assert outcome.invoices[customers[1].id] == []
    assert outcome.invoices_created == 3
    assert Invoice.objects.count() == 4
    assert InvoiceSubscription.objects.count() == 4
    assert billing_batch.customers_bill([c.id for c in customers], at=AT).invoices_created == 0  # run twice
    assert Invoice.objects.get(customer=customers[1]).id == first.id


def test_a_period_billed_behind_the_lock_makes_the_batch_fall_back_per_customer(organization, monkeypatch):
    """The bulk insert hits the unique constraint (a period billed by a path that ignored the customer
    lock): the batch's savepoint rolls back and each customer is billed alone; exactly one invoice each."""
    customers = _simple_customers(organization, 3)
    customer_bill(customers[0].id, at=AT)
    real = sweep.cursors

    def stale(subscription_ids, progressive=None):  # the batch does not see customers[0]'s invoice
        _, starting = real(subscription_ids, progressive)
        return {}, starting

    monkeypatch.setattr(billing_batch, "cursors", stale)
    outcome = billing_batch.customers_bill([c.id for c in customers], at=AT)
    assert not outcome.failures
    assert Invoice.objects.count() == 3
    assert InvoiceSubscription.objects.count() == 3
    assert sorted(Invoice.objects.values_list("organization_sequential_id", flat=True)) == [1, 2, 3]


def test_one_customer_bad_data_fails_alone_and_is_recorded_on_the_run(organization, monkeypatch):
    customers = _simple_customers(organization, 3)
    bad = customers[1]
    bad_subscription = bad.subscriptions.get().external_id
    real = fees.price_charge

    def price_charge(organization, *, external_subscription_id, **kwargs):
        if external_subscription_id == bad_subscription:
            raise ValueError("graduated ranges overlap")
        return real(organization, external_subscription_id=external_subscription_id, **kwargs)

    monkeypatch.setattr(fees, "price_charge", price_charge)
    run, _ = runs.billing_run_start(AT, organization=organization, trigger="command")
    [batch] = run.batches.all()
    created = runs.billing_run_batch(run.id, batch.customer_ids, at=AT, batch_id=batch.id)
    assert created == 2
    assert set(Invoice.objects.values_list("customer_id", flat=True)) == {customers[0].id, customers[2].id}
    run.refresh_from_db()
    assert run.status == "failed" and run.customers_failed == 1 and run.invoices_created == 2
    assert run.failures[0]["external_id"] == bad.external_id
    assert "graduated ranges overlap" in run.failures[0]["error"]
    # Still due: the next run bills it once the data is fixed.
    monkeypatch.setattr(fees, "price_charge", real)
    run2, due2 = runs.billing_run_start(AT, organization=organization, trigger="command")
    assert set(due2) == {bad.id}
    assert runs.billing_run_batch(run2.id, list(due2), at=AT, batch_id=run2.batches.get().id) == 1
    run2.refresh_from_db()
    assert run2.status == "succeeded" and run2.oldest_due_at is None and run2.finished_at is not None


def test_a_crash_after_the_inserts_leaves_nothing_and_the_rerun_bills_once(organization, monkeypatch):
    customers = _simple_customers(organization, 3)

    def crash(finalized, drafts):
        assert Fee.objects.filter(invoice__in=finalized).count() == 6  # the rows were written
        raise RuntimeError("worker killed")

    monkeypatch.setattr(writer, "notify", crash)
    from django.db import transaction

    with pytest.raises(RuntimeError), transaction.atomic():
        # A crash is not a database error: the whole batch transaction rolls back.
        billing_batch.customers_bill([c.id for c in customers], at=AT)
    assert (
        Invoice.objects.count() == 0
        and Fee.objects.count() == 0
        and AuditLogEntry.objects.filter(content_type__model="invoice").count() == 0
    )
    monkeypatch.undo()
    assert billing_batch.customers_bill([c.id for c in customers], at=AT).invoices_created == 3
    assert sorted(Invoice.objects.values_list("organization_sequential_id", flat=True)) == [1, 2, 3]


def test_webhooks_and_audit_of_a_batch(organization, settings):
    settings.CLICKHOUSE_URL = ""
    WebhookEndpoint.objects.create(organization=organization, webhook_url="http://127.0.0.1:9/hook")
    _simple_customers(organization, 5)
    [late] = _simple_customers(organization, 1, code="calls2")
    late.invoice_grace_period = 2
    late.save()
    run, due = runs.billing_run_start(AT, organization=organization, trigger="command")
    assert runs.billing_run_batch(run.id, list(due), at=AT) == 6
    draft = Invoice.objects.get(customer=late)
    assert draft.status == InvoiceStatus.DRAFT and draft.finalize_at == datetime(2024, 5, 3, tzinfo=UTC)
    drafted = [
        json.loads(d.body) if isinstance(d.body, str) else d.body
        for d in WebhookDelivery.objects.filter(webhook_type="invoice.drafted")
    ]
    assert [b["invoice"]["lago_id"] for b in drafted] == [str(draft.id)]
    invoices = list(Invoice.objects.exclude(id=draft.id))
    assert {i.fees_amount_cents for i in invoices} == {1200}
    created = WebhookDelivery.objects.filter(webhook_type="invoice.created")
    bodies = [json.loads(d.body) if isinstance(d.body, str) else d.body for d in created]
    assert sorted(b["invoice"]["lago_id"] for b in bodies) == sorted(str(i.id) for i in invoices)
    entries = AuditLogEntry.objects.filter(content_type__model="invoice", action="create")
    assert sorted(e.object_id for e in entries) == sorted(str(i.id) for i in [*invoices, draft])
    entry = entries.get(object_id=str(invoices[0].id))
    assert entry.changes["total_amount_cents"] == [None, 1200]
    assert entry.changes["number"][1].endswith("-001")
    assert BillingRun.objects.get(id=run.id).invoices_created == 6


def test_statements_do_not_grow_with_the_batch(organization, settings):
    settings.CLICKHOUSE_URL = ""
    customers = _simple_customers(organization, 30)
    counts = []
    for chunk in (customers[:5], customers[5:]):
        with CaptureQueriesContext(connection) as captured:
            assert billing_batch.customers_bill([c.id for c in chunk], at=AT).invoices_created == len(chunk)
        counts.append(len(captured.captured_queries))
    assert counts[1] <= counts[0], counts  # 5 or 25 customers: the same statements
    assert counts[1] <= 30, counts  # lock, reads, usage, numbers, inserts, audit, run (no webhook endpoint)


def test_sweep_fans_out_batches_and_the_command_bills_in_batches(
    organization, monkeypatch, capsys, django_capture_on_commit_callbacks
):
    customers = _simple_customers(organization, 5)
    monkeypatch.setattr(runs, "BATCH_SIZE", 2)
    seen = []
    real = runs.billing_run_batch

    def spy(run_id, customer_ids, *, at, batch_id=None):  # what the invoicing.bill_customers task calls
        seen.append(len(customer_ids))
        return real(run_id, customer_ids, at=at, batch_id=batch_id)

    monkeypatch.setattr(runs, "billing_run_batch", spy)
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.billing_sweep(AT.isoformat()) == 5
    assert sorted(seen) == [1, 2, 2]
    assert Invoice.objects.count() == 5
    from django.core.management import call_command

    make = _simple_customers(organization, 3, code="calls2")
    call_command("run_billing", "--at", AT.isoformat(), "--batch-size", "2", "--no-progress")
    out = capsys.readouterr().out
    assert "3 customers" in out and "3 invoices created, 0 customers failed" in out
    assert Invoice.objects.filter(customer__in=make).count() == 3
    assert len(customers) == 5
